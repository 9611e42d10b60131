"""A web site on 127.0.0.1 whose every response a test scripts: statuses, headers, delays, huge bodies.

It records each request (path and headers) so tests can check what a crawler fetched, and never
fetched. Paths without a route answer 404.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Response:
    body: bytes | str = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    stream_bytes: int = 0  # send this many filler bytes after the body, without a Content-Length


@dataclass
class Request:
    path: str
    headers: dict[str, str]


Route = Response | Callable[[Request], Response]


class ScriptedSite:
    """Routes by path; ``requests`` lists what was asked, in order."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[Request] = []
        self.bytes_sent = 0
        self._lock = threading.Lock()

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def respond(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
        route = self.routes.get(request.path)
        if route is None:
            return Response("not found", status=404, content_type="text/plain")
        return route(request) if callable(route) else route

    @contextmanager
    def serve(self) -> Iterator[str]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                response = site.respond(Request(self.path, dict(self.headers.items())))
                if response.delay_s:
                    time.sleep(response.delay_s)
                body = response.body.encode() if isinstance(response.body, str) else response.body
                sent = 0
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", response.content_type)
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    if not response.stream_bytes:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    sent += len(body)
                    filler = b"<p>" + b"x" * 65_530 + b"</p>\n"
                    while sent < len(body) + response.stream_bytes:
                        self.wfile.write(filler)
                        sent += len(filler)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, as it should for an oversized page
                with site._lock:
                    site.bytes_sent += sent

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


def page(title: str, body: str = "", links: tuple[str, ...] = ()) -> str:
    """A small help page with a heading, some text and links."""
    anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return (
        f"<html><head><title>{title}</title></head><body><main><h1>{title}</h1>"
        f"<p>{body or 'This help page explains ' + title.lower() + ' in enough words to be indexed.'}</p>"
        f"<ul>{anchors}</ul></main></body></html>"
    )
