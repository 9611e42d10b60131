"""``/healthz`` says whether a process can do its work and why not; ``/metrics`` counts answers and votes."""

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bots.replies import Origin
from core.settings import Settings
from supportloop.app import SupportLoop
from supportloop.ops_server import ops_server

pytestmark = pytest.mark.slow  # needs the prepared index


def samples(page: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
    }


def test_health_and_metrics_of_a_bot(fresh_dir):
    asker = Origin("console", "user-1", "local")
    answered = ("supportloop_answers_total", frozenset({"platform": "console", "outcome": "quoted"}.items()))
    timed = ("supportloop_answer_seconds_count", frozenset({"platform": "console"}.items()))
    up = ("supportloop_votes_total", frozenset({"platform": "console", "vote": "up"}.items()))

    async def scenario(loop: SupportLoop) -> None:
        async with (
            ops_server(loop, "bot", None, print) as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
        ):
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["status"] == "failing: no chat platform is connected"
            loop.platforms.append("Discord")
            health = await client.get("/healthz")
            assert health.status_code == 200, health.json()
            assert health.json() == {
                "role": "bot",
                "platforms": ["Discord"],
                "database": "ok",
                "model_version": None,  # SUPPORTLOOP_MODEL_PATH: a folder, not a registered version
                "status": "ok",
            }

            before = samples((await client.get("/metrics")).text)
            reply = await asyncio.to_thread(
                loop.conversations.ask, "How do I get a refund on an annual plan?", asker
            )
            await asyncio.to_thread(loop.conversations.vote, reply.answer_id, asker, 1)
            page = await client.get("/metrics")
            assert page.headers["content-type"].startswith("text/plain")
            after = samples(page.text)
            for key in (answered, timed, up):
                assert after[key] == before.get(key, 0) + 1, key
            assert ("supportloop_scheduler_leader", frozenset()) in after

    with SupportLoop(Settings(data_dir=fresh_dir, ops_port=0)) as loop:
        asyncio.run(scenario(loop))
