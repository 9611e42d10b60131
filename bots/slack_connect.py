"""Connecting to Slack: start-up calls that fail in one line naming the setting, and Socket Mode.

A rejected token or an unreachable API at start-up is the operator's to fix, so it becomes a
``SupportLoopError`` that says which setting or URL is at fault, never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import SupportLoopError


async def checked_call(setting: str, call: Awaitable[Any], api_url: str) -> Any:
    """Await a Web API call made at start-up, as a one-line error naming the setting at fault."""
    try:
        return await call
    except SlackApiError as exc:
        raise SupportLoopError(f"Slack rejected {setting} ({exc.response.get('error', '?')}).") from exc
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise SupportLoopError(f"Cannot reach the Slack API at {api_url} ({detail}).") from exc


async def open_socket_mode(
    app: AsyncApp, client: AsyncWebClient, app_token: str, timeout_s: float
) -> AsyncSocketModeHandler:
    """A connected Socket Mode handler for ``app``, or a one-line error within ``timeout_s``."""
    handler = AsyncSocketModeHandler(app, app_token, web_client=client)
    try:
        # Opened here rather than by connect_async(), which retries a rejected token forever.
        opened = await checked_call(
            "SUPPORTLOOP_SLACK_APP_TOKEN", client.apps_connections_open(app_token=app_token), client.base_url
        )
        handler.client.wss_uri = opened["url"]
        await asyncio.wait_for(handler.connect_async(), timeout_s)
    except BaseException as exc:
        await handler.close_async()
        if isinstance(exc, TimeoutError):
            raise SupportLoopError(
                f"Could not open the Slack Socket Mode connection within {timeout_s:g} s."
            ) from exc
        raise
    return handler
