"""``/healthz`` and ``/metrics`` of ``supportloop serve``, for orchestrators and Prometheus.

``/healthz`` answers 200 with a JSON summary while the process can do its work (its database answers,
and a bot has at least one chat platform connected), else 503 with the reason. ``/metrics`` is the
Prometheus text format of ``core.metrics``. Both are served from the event loop of the chat platforms,
on ``SUPPORTLOOP_OPS_HOST``:``SUPPORTLOOP_OPS_PORT``; blocking checks run in a thread.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from core import metrics
from core.errors import SupportLoopError

if TYPE_CHECKING:
    from supportloop.app import SupportLoop
    from supportloop.leader import Leader


@asynccontextmanager
async def ops_server(
    loop: SupportLoop, role: str, leader: Leader | None, say: Callable[[str], None]
) -> AsyncIterator[int]:
    """Serve ``/healthz`` and ``/metrics`` while the block runs; yields the bound port."""

    def model_version() -> int | None:
        """The version this process serves (a bot, once loaded), else the registry's current one.

        Read only: a probe must not load a model or switch versions (answering does that).
        """
        if role != "worker" and "model_version" in loop.__dict__:
            return loop.model_version.id
        return loop.registry.current_id()

    def health() -> tuple[int, dict[str, Any]]:
        report: dict[str, Any] = {"role": role, "platforms": list(loop.platforms)}
        problems = []
        try:
            with loop.db.session() as session:
                session.execute(text("SELECT 1"))
            report["database"] = "ok"
            report["model_version"] = model_version()
        except Exception as exc:  # reported, not raised: this is what the endpoint is for
            report["database"] = f"{type(exc).__name__}: {exc}"[:300]
            problems.append("the database does not answer")
        if role != "worker" and not loop.platforms:
            problems.append("no chat platform is connected")
        if leader is not None:
            report["scheduler"] = "running here" if leader.leading else "standby (another worker runs it)"
        report["status"] = "failing: " + "; ".join(problems) if problems else "ok"
        return (503 if problems else 200), report

    async def healthz(_request: web.Request) -> web.Response:
        status, report = await asyncio.to_thread(health)
        return web.json_response(report, status=status)

    async def metrics_page(_request: web.Request) -> web.Response:
        body = await asyncio.to_thread(generate_latest, metrics.REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def version_or_nan() -> float:
        try:
            version = model_version()
        except Exception:
            return math.nan
        return math.nan if version is None else float(version)

    metrics.MODEL_VERSION.set_function(version_or_nan)
    metrics.SCHEDULER_LEADER.set_function(lambda: float(leader is not None and leader.leading))
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    host, port = loop.settings.ops_host, loop.settings.ops_port
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise SupportLoopError(
            f"Cannot serve /healthz and /metrics on {host}:{port} ({exc.strerror or exc}): set "
            "SUPPORTLOOP_OPS_PORT to a free port (0: any) or SUPPORTLOOP_OPS_HOST to an address of this "
            "machine."
        ) from exc
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  (the bound one, for port 0)
    say(f"Health and metrics: http://{host}:{port}/healthz and /metrics")
    try:
        yield port
    finally:
        await runner.cleanup()
