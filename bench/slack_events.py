"""Slack adapter overhead: signed Events API requests per second, the answerer stubbed out.

The baseline, measured in the same run, is the least any Slack HTTP endpoint must do: a uvicorn app
that checks the request signature and answers 200. Against it, the real ``SlackBot`` in HTTP mode
(Bolt ``AsyncApp`` on uvicorn) handles the same direct-message events end to end: signature check,
ack, the conversation service's decision and claim in SQLite, the placeholder (``chat.postMessage``, as
for an answer slower than 2 s), an instant stub answer recorded in SQLite, and ``chat.update`` with
Block Kit, against the local fake Slack Web API. Prints acknowledged and answered events per second, ack
latency p50/p95, and ratios.

    python bench/slack_events.py [--events 400] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the fake Slack

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fakes.slack_api import FakeSlack, sign  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402

from bots.conversation import ConversationService  # noqa: E402
from bots.slack_bot import SlackBot  # noqa: E402
from core.database import open_database  # noqa: E402
from core.records import Records  # noqa: E402
from rag.answerer import Answer  # noqa: E402

SECRET = "bench-signing-secret"


class StubAnswerer:
    """Answers instantly, so only the adapter, the service and the database are measured."""

    def answer(self, question: str, *, draft: bool = False, thread: Sequence[str] = ()) -> Answer:
        return Answer(
            question,
            "Refunds are possible within 30 days.",
            ["https://help.example/refunds"],
            [],
            False,
            0,
            0,
        )


def events(count: int) -> list[bytes]:
    bodies = []
    for n in range(count):
        ts = f"1600000000.{n:06d}"
        event = {"type": "message", "channel_type": "im", "channel": f"D{n % 50}", "user": f"U{n % 50}"}
        event |= {"text": "How do refunds work?", "ts": ts, "event_ts": ts}
        body = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event": event}
        body |= {"event_id": f"Ev{n:08d}", "event_time": int(time.time())}
        bodies.append(json.dumps(body).encode())
    return bodies


def post_all(url: str, bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    """POST every body, signed, from ``clients`` concurrent keep-alive connections; (seconds, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    local = threading.local()

    def post(body: bytes) -> None:
        client = getattr(local, "client", None) or httpx.Client(timeout=30)
        local.client = client
        ts = str(int(time.time()))
        headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(SECRET, ts, body.decode())}
        started = time.perf_counter()
        response = client.post(url, content=body, headers={**headers, "Content-Type": "application/json"})
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:200]}")
        with lock:
            latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, bodies))
    return time.perf_counter() - started, latencies


class LoopThread:
    """An event loop in a thread, for the servers under test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def verify_only(scope, receive, send) -> None:
    """The baseline endpoint: read the body, check the signature, 200."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    ok = SignatureVerifier(SECRET).is_valid_request(body, headers)
    await send({"type": "http.response.start", "status": 200 if ok else 401, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def baseline(bodies: list[bytes], clients: int) -> dict[str, float]:
    config = uvicorn.Config(
        verify_only, host="127.0.0.1", port=0, log_config=None, lifespan="off", http="h11"
    )
    server = uvicorn.Server(config)
    thread = LoopThread()
    task = asyncio.run_coroutine_threadsafe(server.serve(), thread.loop)
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    seconds, latencies = post_all(f"http://127.0.0.1:{port}/slack/events", bodies, clients)
    server.should_exit = True
    task.result(10)
    thread.close()
    return summary(len(bodies), seconds, latencies)


def adapter(bodies: list[bytes], clients: int, data_dir: Path) -> dict[str, float]:
    db = open_database(f"sqlite:///{data_dir / 'db.sqlite'}")
    service = ConversationService(StubAnswerer(), Records(db), lambda: 0, "bench")  # type: ignore[arg-type]
    with FakeSlack() as slack:
        thread = LoopThread()

        async def make() -> SlackBot:
            return SlackBot(  # every answer posts the placeholder and updates it: the costlier path
                service,
                bot_token=slack.bot_token,
                signing_secret=SECRET,
                api_url=slack.api_url,
                port=0,
                placeholder_after_s=0.0,
            )

        bot = thread.run(make())
        thread.run(bot.start())
        started = time.perf_counter()
        seconds, latencies = post_all(f"http://127.0.0.1:{bot.port}/slack/events", bodies, clients)
        while len(slack.calls_to("chat.update")) < len(bodies):
            if time.perf_counter() - started > 300:
                raise TimeoutError("not every event was answered within 300 s")
            time.sleep(0.005)
        answered = time.perf_counter() - started
        thread.run(bot.stop())
        thread.close()
    service.close()
    db.close()
    result = summary(len(bodies), seconds, latencies)
    result["answered_per_s"] = round(len(bodies) / answered, 1)
    return result


def summary(count: int, seconds: float, latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "acked_per_s": round(count / seconds, 1),
        "ack_p50_ms": round(1000 * statistics.median(ordered), 2),
        "ack_p95_ms": round(1000 * ordered[round(0.95 * (len(ordered) - 1))], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections (Slack uses several)")
    args = parser.parse_args()
    bodies = events(args.events)
    base = baseline(bodies, args.clients)
    with tempfile.TemporaryDirectory() as tmp:
        ours = adapter(bodies, args.clients, Path(tmp))
    print(
        f"baseline (verify signature, 200): {base['acked_per_s']:7.1f} events/s, "
        f"ack p50 {base['ack_p50_ms']} ms"
    )
    print(
        f"SupportLoop Slack adapter:        {ours['acked_per_s']:7.1f} events/s acked "
        f"(p50 {ours['ack_p50_ms']} ms, p95 {ours['ack_p95_ms']} ms), "
        f"{ours['answered_per_s']} events/s answered"
    )
    print(
        f"adapter/baseline: acks {ours['acked_per_s'] / base['acked_per_s']:.2f}×, "
        f"answers {ours['answered_per_s'] / base['acked_per_s']:.2f}× of the baseline's rate"
    )
    print(json.dumps({"baseline": base, "adapter": ours}))


if __name__ == "__main__":
    main()
