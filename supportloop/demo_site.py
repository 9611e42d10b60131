"""The bundled demo help center (a fictional product, Tidepool), served on 127.0.0.1.

Pages use root-relative links; ``sitemap.xml`` and ``robots.txt`` hold the placeholder ``__BASE_URL__``,
replaced with the server's own address as they are served.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from core.errors import SupportLoopError
from rag.evaluation import EvalQuestion, load_eval_questions

SITE_DIR = Path(__file__).parent / "demo_site" / "site"
QUESTIONS_FILE = Path(__file__).parent / "demo_site" / "questions.jsonl"
PLACEHOLDER = b"__BASE_URL__"


def load_questions() -> list[EvalQuestion]:
    """The bundled evaluation questions about the demo site (see ``rag.evaluation`` for the format)."""
    return load_eval_questions(QUESTIONS_FILE)


class _Handler(SimpleHTTPRequestHandler):
    """Static files with an ETag, answering conditional requests with 304, as real help centers do."""

    base_url = ""

    def send_head(self):  # type: ignore[no-untyped-def]
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
            if not self.path.split("?")[0].endswith("/"):
                return super().send_head()  # the standard redirect to the slash-terminated URL
        if not path.is_file():
            return super().send_head()
        stat = path.stat()
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return None
        body = path.read_bytes()
        if path.suffix in (".xml", ".txt"):
            body = body.replace(PLACEHOLDER, self.base_url.encode())
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", self.date_time_string(int(stat.st_mtime)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet: the crawler logs what matters
        pass


@contextmanager
def serve_demo_site(port: int = 0, site_dir: Path = SITE_DIR) -> Iterator[str]:
    """Serve the demo site on 127.0.0.1 (``port`` 0 picks a free one); yields its base URL."""

    class Handler(_Handler):  # a class per server, so each knows its own base URL
        pass

    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), partial(Handler, directory=str(site_dir)))
    except OSError as exc:
        raise SupportLoopError(
            f"Cannot serve the demo site on 127.0.0.1:{port} ({exc.strerror}); "
            "set SUPPORTLOOP_DEMO_PORT to a free port."
        ) from exc
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    Handler.base_url = base_url
    thread = threading.Thread(target=server.serve_forever, name="demo-site", daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()
