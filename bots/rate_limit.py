"""The per-user question rate limit, shared by every platform's adapter through the service."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class RateLimit:
    """At most ``per_minute`` questions per user in any 60 s window (0: no limit)."""

    per_minute: int
    _asked: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_s(self, key: str, now: float | None = None) -> float:
        """0 if ``key`` may ask now (and counts the question); else seconds until it may."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            asked = self._asked.setdefault(key, deque())
            while asked and now - asked[0] >= 60:
                asked.popleft()
            if len(asked) >= self.per_minute:
                return 60 - (now - asked[0])
            asked.append(now)
            return 0.0
