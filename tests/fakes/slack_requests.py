"""Requests Slack sends to a bot's HTTP endpoints, signed the way Slack signs them.

The Events API, interactivity and slash commands all reach a bot as POSTs carrying
``X-Slack-Request-Timestamp`` and ``X-Slack-Signature``; these build them for real, so the bot's
verifier, its retry handling (``X-Slack-Retry-Num``) and its replies to forged or stale requests are
exercised end to end. ``FakeSlack`` inherits them, so a test sends with ``slack.post_event(...)``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx


def sign(signing_secret: str, timestamp: str, body: str) -> str:
    """The ``X-Slack-Signature`` value Slack would send, so the bot's verifier can be exercised for real."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


class BotRequests:
    """What Slack POSTs to a bot; the workspace's ids and the port for response URLs come from the host."""

    team_id: str
    api_app_id: str
    port: int

    def post_event(
        self,
        url: str,
        event: dict[str, Any],
        *,
        signing_secret: str,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | None = None,
        bad_signature: bool = False,
        event_id: str | None = None,
    ) -> tuple[int, str]:
        """POST an ``event_callback`` wrapping ``event``, signed like Slack; returns (status, body)."""
        body = json.dumps(
            {
                "token": "legacy-verification-token",
                "type": "event_callback",
                "team_id": self.team_id,
                "api_app_id": self.api_app_id,
                "event": event,
                "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": self.team_id, "user_id": "UBOT", "is_bot": True}],
            }
        )
        headers = {"Content-Type": "application/json"}
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return _signed_post(url, body, headers, signing_secret, timestamp, bad_signature)

    def post_url_verification(self, url: str, challenge: str, *, signing_secret: str) -> tuple[int, str]:
        """POST the ``url_verification`` handshake Slack sends when the events URL is configured."""
        body = json.dumps(
            {"token": "legacy-verification-token", "type": "url_verification", "challenge": challenge}
        )
        return _signed_post(url, body, {"Content-Type": "application/json"}, signing_secret, None, False)

    def post_interaction(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        signing_secret: str,
        timestamp: int | None = None,
        bad_signature: bool = False,
        retry_num: int | None = None,
    ) -> tuple[int, str]:
        """POST an interactivity payload (button, modal submit) as form ``payload=<json>``; with
        ``retry_num``, as Slack re-delivers a request it thinks was lost."""
        body = urlencode({"payload": json.dumps(payload)})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return _signed_post(url, body, headers, signing_secret, timestamp, bad_signature)

    def post_command(
        self,
        url: str,
        fields: dict[str, str],
        *,
        signing_secret: str,
        timestamp: int | None = None,
        bad_signature: bool = False,
    ) -> tuple[int, str]:
        """POST a slash command as form fields; missing standard fields get plausible defaults."""
        defaults = {
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "trigger_id": f"{int(time.time())}.1.{uuid.uuid4().hex[:8]}",
            "response_url": f"http://127.0.0.1:{self.port}/response/{uuid.uuid4().hex[:8]}",
        }
        body = urlencode({**defaults, **fields})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return _signed_post(url, body, headers, signing_secret, timestamp, bad_signature)

    def post_raw(
        self,
        url: str,
        body: str | bytes,
        *,
        signing_secret: str | None,
        content_type: str = "application/json",
        timestamp: int | None = None,
    ) -> tuple[int, str]:
        """POST any body, as an attacker or a broken proxy might: signed like Slack, or unsigned (None)."""
        if signing_secret is None:
            response = httpx.post(url, content=body, headers={"Content-Type": content_type}, timeout=10)
            return response.status_code, response.text
        text = body.decode() if isinstance(body, bytes) else body
        return _signed_post(url, text, {"Content-Type": content_type}, signing_secret, timestamp, False)


def _signed_post(
    url: str,
    body: str,
    headers: dict[str, str],
    signing_secret: str,
    timestamp: int | None,
    bad_signature: bool,
) -> tuple[int, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = sign(signing_secret, ts, body)
    if bad_signature:
        signature = sign(signing_secret + "-wrong", ts, body)
    headers = {**headers, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    response = httpx.post(url, content=body.encode(), headers=headers, timeout=10)
    return response.status_code, response.text
