"""The fake Slack answers slack_sdk's real clients the way Slack does, so adapter tests can trust it."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from fakes.slack_api import FakeSlack

SECRET = "test-signing-secret"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(users={"UADMIN": {"is_admin": True}, "UPLAIN": {}}) as fake:
        yield fake


def _client(slack: FakeSlack, **kwargs: Any) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=5, **kwargs)


def test_auth_test_and_bad_token(slack: FakeSlack) -> None:
    assert _client(slack).auth_test()["user_id"] == "UBOT"
    with pytest.raises(SlackApiError) as err:
        WebClient(token="xoxb-wrong", base_url=slack.api_url, timeout=5).auth_test()
    assert err.value.response["error"] == "invalid_auth"
    assert [name for name, _ in slack.calls] == ["auth.test", "auth.test"]


def test_thread_reply_update_and_recorded_params(slack: FakeSlack) -> None:
    client = _client(slack)
    root = client.chat_postMessage(channel="C1", text="question?")
    reply = client.chat_postMessage(channel="C1", text="thinking…", thread_ts=root["ts"])
    assert float(reply["ts"]) > float(root["ts"])
    assert reply["message"]["thread_ts"] == root["ts"]

    client.chat_update(channel="C1", ts=reply["ts"], text="the answer")
    assert slack.messages[("C1", reply["ts"])]["text"] == "the answer"
    assert slack.messages[("C1", root["ts"])]["text"] == "question?"
    posts = slack.calls_to("chat.postMessage")
    assert posts[1] == {"channel": "C1", "text": "thinking…", "thread_ts": root["ts"]}
    assert slack.calls_to("chat.update") == [{"channel": "C1", "ts": reply["ts"], "text": "the answer"}]

    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel="C1", ts="1.000000", text="x")
    assert err.value.response["error"] == "message_not_found"

    client.reactions_add(channel="C1", timestamp=root["ts"], name="eyes")
    assert slack.messages[("C1", root["ts"])]["reactions"][0]["name"] == "eyes"
    assert client.chat_postEphemeral(channel="C1", user="UPLAIN", text="only you")["message_ts"]
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Feedback"}, "blocks": []}
    assert client.views_open(trigger_id="123.456", view=view)["view"]["type"] == "modal"
    with pytest.raises(SlackApiError) as err:
        client.api_call("chat.nope")
    assert err.value.response["error"] == "unknown_method"


def test_users_info(slack: FakeSlack) -> None:
    client = _client(slack)
    admin = client.users_info(user="UADMIN")["user"]
    assert admin["is_admin"] is True and admin["is_owner"] is False
    assert client.users_info(user="UPLAIN")["user"]["is_admin"] is False
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="UNOBODY")
    assert err.value.response["error"] == "user_not_found"


def test_rate_limit_retried_by_handler(slack: FakeSlack) -> None:
    slack.rate_limit("chat.postMessage", times=1, retry_after=0)
    client = _client(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    assert len(slack.calls_to("chat.postMessage")) == 2

    slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    with pytest.raises(SlackApiError) as err:
        _client(slack).chat_postMessage(channel="C1", text="hi")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "1"


def test_socket_mode_envelope_is_acked(slack: FakeSlack) -> None:
    received: list[SocketModeRequest] = []

    def listener(client: SocketModeClient, req: SocketModeRequest) -> None:
        received.append(req)
        client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    client = SocketModeClient(app_token=slack.app_token, web_client=_client(slack))
    client.socket_mode_request_listeners.append(listener)
    try:
        client.connect()
        event = {
            "type": "app_mention",
            "user": "UPLAIN",
            "text": "<@UBOT> help",
            "channel": "C1",
            "ts": "1.2",
        }
        ack = slack.send_envelope("events_api", {"type": "event_callback", "event": event}, timeout=5)
        assert ack["envelope_id"] == received[0].envelope_id
        assert received[0].type == "events_api"
        assert received[0].payload["event"]["text"] == "<@UBOT> help"
    finally:
        # The builtin client's reader blocks up to 3 s in recv(); closing from Slack's side first frees it.
        client.auto_reconnect_enabled = False
        slack.disconnect_socket()
        client.close()
    assert slack.calls_to("apps.connections.open") == [{}]


def test_socket_refresh_reconnects(slack: FakeSlack) -> None:
    acked: list[str] = []

    def listener(client: SocketModeClient, req: SocketModeRequest) -> None:
        acked.append(req.envelope_id)
        client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    client = SocketModeClient(app_token=slack.app_token, web_client=_client(slack))
    client.socket_mode_request_listeners.append(listener)
    try:
        client.connect()
        slack.wait_for_socket(timeout=5)
        slack.disconnect_socket(reason="refresh_requested")
        # send_envelope waits for the client to come back before pushing.
        ack = slack.send_envelope("slash_commands", {"command": "/support", "text": "hi"}, timeout=5)
        assert ack["envelope_id"] == acked[-1]
        assert slack.socket_connections == 2
        assert len(slack.calls_to("apps.connections.open")) == 2
    finally:
        client.auto_reconnect_enabled = False
        slack.disconnect_socket()
        client.close()


def test_socket_open_needs_app_token(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as err:
        _client(slack).apps_connections_open(app_token=slack.bot_token)
    assert err.value.response["error"] == "not_allowed_token_type"


def test_send_envelope_times_out_without_client(slack: FakeSlack) -> None:
    with pytest.raises(TimeoutError):
        slack.send_envelope("events_api", {}, timeout=0.2)


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Checks each request's signature with slack_sdk's verifier, as the bot will."""

    seen: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        valid = SignatureVerifier(SECRET).is_valid(
            body, self.headers["X-Slack-Request-Timestamp"], self.headers["X-Slack-Signature"]
        )
        self.seen.append({"body": body, "valid": valid, "retry": self.headers.get("X-Slack-Retry-Num")})
        self.send_response(200 if valid else 401)
        self.end_headers()
        self.wfile.write(b"ok" if valid else b"bad")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def bot_endpoint() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slack/events", seen
    finally:
        server.shutdown()
        server.server_close()


def test_signed_http_requests(slack: FakeSlack, bot_endpoint: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = bot_endpoint
    event = {"type": "message", "user": "UPLAIN", "text": "hello", "channel": "D1", "ts": "1.1"}
    assert slack.post_event(url, event, signing_secret=SECRET) == (200, "ok")
    assert slack.post_event(url, event, signing_secret=SECRET, retry_num=1)[0] == 200
    assert slack.post_event(url, event, signing_secret=SECRET, bad_signature=True) == (401, "bad")
    first, retry = json.loads(seen[0]["body"]), json.loads(seen[1]["body"])
    assert first["type"] == "event_callback" and first["event"] == event
    assert first["event_id"] != retry["event_id"] and retry["event_id"]
    assert seen[1]["retry"] == "1"

    assert (
        slack.post_interaction(url, {"type": "block_actions", "actions": []}, signing_secret=SECRET)[0] == 200
    )
    assert slack.post_command(url, {"command": "/support", "text": "hi"}, signing_secret=SECRET)[0] == 200
    assert seen[3]["body"].startswith("payload=")
    assert "command=%2Fsupport" in seen[4]["body"]
    # Stale timestamps are still signed correctly; rejecting them is the verifier's job.
    assert slack.post_event(url, event, signing_secret=SECRET, timestamp=1)[0] == 401
