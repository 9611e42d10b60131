"""The support team's web console: server-rendered pages over the admin service, nothing from a CDN.

Every page but the login form needs a session: without one a page answers 401 (with the login form) and
a POST 403. Every POST also carries the session's CSRF token. The home page puts the top knowledge gap
and the last 👎 reason first, since those are what an admin opens the console for.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from bots.admin import JOB_KINDS
from core.errors import SupportLoopError
from supportloop.console.auth import (
    SESSION_COOKIE,
    SESSION_TTL_S,
    Session,
    Sessions,
    TooManyAttempts,
    csrf_matches,
)
from supportloop.history import ConversationFilter, VoteFilter
from supportloop.operations import AdminService

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
CONSOLE_CSP = "default-src 'self'; frame-ancestors 'none'"
# Reports are self-contained files: inline styles and their plots as data: images, never scripts.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
VOTES: tuple[VoteFilter, ...] = ("", "up", "down", "unvoted", "declined")
TAKEN_BY = "console"  # who took a request when the admin left the name field empty


async def checked(request: Request) -> Session:
    """The session of a POST whose form carries its CSRF token (else 403, and nothing changes).

    The middleware has already answered 403 to a POST without a session.
    """
    session: Session = request.state.session
    offered = (await request.form()).get("csrf", "")
    if not isinstance(offered, str) or not csrf_matches(session, offered):
        raise HTTPException(403, "The form's CSRF token is missing or wrong: reload the page.")
    return session


Checked = Annotated[Session, Depends(checked)]


def create_console(admin: AdminService, token: str) -> FastAPI:
    """The console's ASGI app; ``token`` is the admin token that the login form asks for."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    sessions = Sessions(token)

    def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        session = getattr(request.state, "session", None)
        context.update(csrf=session.csrf if session else "", path=request.url.path)
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    @app.middleware("http")
    async def require_session(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.session = sessions.get(request.cookies.get(SESSION_COOKIE))
        public = request.url.path == "/login" or request.url.path.startswith("/static/")
        if request.state.session is None and not public:
            if request.method in ("GET", "HEAD"):
                response: Response = render(
                    request, "login.html", 401, error="Log in with the admin token to continue."
                )
            else:
                response = Response("Forbidden: log in first.", status_code=403, media_type="text/plain")
        else:
            response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return render(request, "login.html")

    @app.post("/login")
    def login(request: Request, token: Annotated[str, Form()] = "") -> Response:
        client = request.client.host if request.client else "unknown"
        try:
            session = sessions.login(token, client)
        except TooManyAttempts:
            log.warning("console login refused: too many wrong tokens from %s", client)
            return render(request, "login.html", 429, error="Too many wrong tokens: wait a minute.")
        if session is None:
            log.info("console login with a wrong token from %s", client)
            return render(request, "login.html", 401, error="That is not the admin token.")
        response = RedirectResponse("/", status_code=303)
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
        response.set_cookie(
            SESSION_COOKIE,
            session.id,
            max_age=SESSION_TTL_S,
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return response

    @app.post("/logout")
    def logout(session: Checked) -> Response:
        sessions.logout(session.id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        gaps = admin.gaps()
        return render(
            request,
            "home.html",
            gap=gaps[0] if gaps else None,
            gap_count=len(gaps),
            downvote=admin.last_downvote(),
            status=admin.status(),
        )

    @app.get("/conversations", response_class=HTMLResponse)
    def conversations(
        request: Request, vote: str = "", platform: str = "", since: str = "", until: str = ""
    ) -> HTMLResponse:
        wanted = ConversationFilter(
            vote=vote if vote in VOTES else "",  # type: ignore[arg-type]
            platform=platform,
            since=_day(since),
            until=_day(until),
        )
        return render(
            request,
            "conversations.html",
            rows=admin.conversations(wanted),
            wanted=wanted,
            votes=VOTES,
            platforms=admin.platforms(),
        )

    @app.get("/gaps", response_class=HTMLResponse)
    def gaps(request: Request) -> HTMLResponse:
        return render(request, "gaps.html", gaps=admin.gaps())

    @app.get("/escalations", response_class=HTMLResponse)
    def escalations(request: Request, message: str = "") -> HTMLResponse:
        return render(
            request,
            "escalations.html",
            open=admin.escalations("open"),
            taken=admin.escalations("taken"),
            message=message,
        )

    @app.post("/escalations/{escalation_id}/take")
    def take_escalation(
        escalation_id: int, _session: Checked, name: Annotated[str, Form(max_length=64)] = ""
    ) -> Response:
        # Admins share one token, so the console knows them only by the name they give when they take one.
        taken = admin.take_escalation(escalation_id, " ".join(name.split()) or TAKEN_BY)
        message = "It's yours: reply in its thread." if taken else "Someone took that one already."
        return RedirectResponse(f"/escalations?message={_quote(message)}", status_code=303)

    @app.post("/escalations/{escalation_id}/close")
    def close_escalation(escalation_id: int, _session: Checked) -> Response:
        admin.close_escalation(escalation_id)
        return RedirectResponse("/escalations", status_code=303)

    @app.get("/models", response_class=HTMLResponse)
    def models(request: Request, message: str = "") -> HTMLResponse:
        return render(request, "models.html", versions=admin.versions(), message=message)

    @app.post("/models/{version}/activate")
    def activate(version: int, _session: Checked) -> Response:
        try:
            message = admin.rollback(version)
        except SupportLoopError as exc:
            message = str(exc)
        return RedirectResponse(f"/models?message={_quote(message)}", status_code=303)

    @app.get("/reports/{name}")
    def report(name: str) -> FileResponse:
        path = admin.report_path(name)
        if path is None:
            raise HTTPException(404, "No such report.")
        return FileResponse(path, media_type="text/html", headers={"Content-Security-Policy": REPORT_CSP})

    @app.get("/jobs", response_class=HTMLResponse)
    def jobs(request: Request, message: str = "") -> HTMLResponse:
        runs = admin.jobs()
        active = any(run.status in ("queued", "running") for run in runs)
        return render(request, "jobs.html", runs=runs, kinds=JOB_KINDS, message=message, refresh=active)

    @app.post("/jobs")
    def queue_job(session: Checked, kind: Annotated[str, Form()] = "") -> Response:
        if kind not in JOB_KINDS:
            raise HTTPException(400, f"Unknown job kind {kind!r}: use one of {', '.join(JOB_KINDS)}.")
        ticket = admin.start_job(kind, "console", lambda line: None)
        message = f"Queued job #{ticket.run.id} ({kind})."
        if not ticket.will_run:
            message += " No worker runs jobs now: start `supportloop serve` (or `--role worker`)."
        return RedirectResponse(f"/jobs?message={_quote(message)}", status_code=303)

    @app.get("/settings", response_class=HTMLResponse)
    def settings(request: Request) -> HTMLResponse:
        return render(request, "settings.html", rows=admin.settings())

    return app


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _quote(text: str) -> str:
    return quote(text[:300])
