"""Who may run admin commands on Slack: a configured user id, or a workspace admin or owner."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from slack_sdk.web.async_client import AsyncWebClient

from bots.slack_posting import SLACK_ERRORS, why

log = logging.getLogger(__name__)

ADMIN_CACHE_S = 300.0
ADMIN_FLAGS = ("is_admin", "is_owner", "is_primary_owner")


class SlackAdmins:
    """Answers "is this user an admin?", asking ``users.info`` at most every 5 minutes per user."""

    def __init__(self, client: AsyncWebClient, configured: Iterable[str]) -> None:
        self.client = client
        self.configured = frozenset(configured)
        self._cache: dict[str, tuple[bool, float]] = {}

    async def is_admin(self, user: str) -> bool:
        """A configured admin, or a workspace admin/owner per ``users.info`` (cached; a failure is "no")."""
        if user in self.configured:
            return True
        now = time.monotonic()
        cached = self._cache.get(user)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            info = (await self.client.users_info(user=user))["user"]
        except SLACK_ERRORS as exc:
            log.warning("users.info failed (%s); treating the user as no admin", why(exc))
            return False
        is_admin = any(bool(info.get(flag)) for flag in ADMIN_FLAGS)
        self._cache[user] = (is_admin, now + ADMIN_CACHE_S)
        return is_admin
