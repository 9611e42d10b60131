"""The console's login limits and session lifetime, on a clock the test moves."""

from __future__ import annotations

import pytest

from supportloop.console.auth import (
    FAILURE_WINDOW_S,
    MAX_FAILURES,
    SESSION_TTL_S,
    Sessions,
    TooManyAttempts,
    csrf_matches,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_tokens_lock_out_one_address_for_a_window():
    clock = Clock()
    sessions = Sessions("secret", clock)
    for _ in range(MAX_FAILURES):
        assert sessions.login("guess", "10.0.0.1") is None
    with pytest.raises(TooManyAttempts):
        sessions.login("secret", "10.0.0.1")
    assert sessions.login("secret", "10.0.0.2") is not None  # another address is not locked out
    clock.now += FAILURE_WINDOW_S
    assert sessions.login("secret", "10.0.0.1") is not None


def test_sessions_expire_and_log_out():
    clock = Clock()
    sessions = Sessions("secret", clock)
    session = sessions.login("secret", "a")
    assert session is not None and sessions.get(session.id) == session
    assert csrf_matches(session, session.csrf) and not csrf_matches(session, "x")
    sessions.logout(session.id)
    assert sessions.get(session.id) is None
    later = sessions.login("secret", "a")
    clock.now += SESSION_TTL_S + 1
    assert later is not None and sessions.get(later.id) is None
    assert sessions.get(None) is None and sessions.get("") is None
