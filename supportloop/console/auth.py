"""Who may use the console: one admin token, exchanged at the login form for a server-side session.

The token is compared in constant time; wrong tokens are counted per client address and, past a few a
minute, refused without being checked, so the token cannot be guessed at speed. A session is a random id
in an HttpOnly, SameSite=Strict cookie; each carries its own CSRF token, which every form posts back.
Sessions live in memory: restarting the console logs everyone out, which is the safe direction.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

SESSION_COOKIE = "supportloop_console"
SESSION_TTL_S = 8 * 3600
MAX_FAILURES = 5  # wrong tokens per client address per window before logins are refused outright
FAILURE_WINDOW_S = 60.0


class TooManyAttempts(Exception):
    """A client gave too many wrong tokens lately; it must wait before trying again."""


@dataclass(frozen=True)
class Session:
    id: str
    csrf: str
    expires: float


class Sessions:
    """Logins, sessions and the failed-login limit of one console."""

    def __init__(self, token: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._token = token.encode()
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def login(self, offered: str, client: str) -> Session | None:
        """A new session if ``offered`` is the token, else None; raises ``TooManyAttempts`` when limited."""
        now = self._clock()
        with self._lock:
            recent = [t for t in self._failures.get(client, []) if now - t < FAILURE_WINDOW_S]
            if len(recent) >= MAX_FAILURES:
                self._failures[client] = recent
                raise TooManyAttempts
            if not hmac.compare_digest(offered.encode(), self._token):
                self._failures[client] = [*recent, now]
                self._forget(now)
                return None
            self._failures.pop(client, None)
            self._forget(now)
            session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + SESSION_TTL_S)
            self._sessions[session.id] = session
            return session

    def _forget(self, now: float) -> None:
        """Drop expired sessions and old failures, so a stream of logins cannot grow memory for ever."""
        self._sessions = {key: s for key, s in self._sessions.items() if s.expires >= now}
        self._failures = {
            client: times for client, times in self._failures.items() if now - times[-1] < FAILURE_WINDOW_S
        }

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, if any."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.expires < self._clock():
                del self._sessions[session_id]
                return None
            return session

    def logout(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)


def csrf_matches(session: Session, offered: str) -> bool:
    return hmac.compare_digest(session.csrf.encode(), offered.encode())
