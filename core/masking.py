"""Hiding credentials in text that is shown: settings, status lines and error messages.

Kept apart from the settings so that anything printing a URL or an error can mask it without reading
the settings object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
# user:password@ (or a bare token@) after a scheme, and key=value query parameters that name a secret
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][\w+.-]*://)(?P<user>[^\s/?#@:]*)(?::[^\s@]*)?@")
_SECRET_PARAMETER = re.compile(
    r"(?i)(?P<name>[?&;][\w.-]*(?:password|passwd|pwd|secret|token|key)[\w.-]*=)[^&;#\s]+"
)


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` as it may be shown: every credential inside a URL, and each of ``secrets``, replaced.

    ``postgresql://user:pass@db/x`` shows as ``postgresql://user:***@db/x``; a bare ``token@host``
    as ``***@host``. Settings, status and error messages all pass through here, so a password typed
    into any URL setting is never printed.
    """
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)

    def userinfo(match: re.Match[str]) -> str:
        bare = match.group(0).endswith(f"{match['user']}@")  # no colon: the whole userinfo is a token
        return f"{match['scheme']}{MASK}@" if bare else f"{match['scheme']}{match['user']}:{MASK}@"

    text = _URL_USERINFO.sub(userinfo, text)
    return _SECRET_PARAMETER.sub(lambda m: m["name"] + MASK, text)
