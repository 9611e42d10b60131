"""Logs as JSON lines for container log collectors: one object per record, tracebacks included."""

import json
import logging
import sys

import pytest

from supportloop.logs import setup_logging


@pytest.fixture
def restored_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def record(level: int, message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.getLogger("supportloop.test").makeRecord(
        "supportloop.test", level, __file__, 1, message, args, exc_info
    )


def test_json_logs_go_to_the_file_and_stderr_one_object_per_line(tmp_path, capsys, restored_logging):
    log_file = tmp_path / "supportloop.log"
    setup_logging(log_file, "INFO", "json")
    # Straight to the handlers: what other tests' libraries did to logger levels does not matter here.
    restored_logging.handle(record(logging.DEBUG, "not at this level"))
    restored_logging.handle(record(logging.INFO, "answered %s questions", 3))
    try:
        raise ValueError("broken page")
    except ValueError:
        restored_logging.handle(record(logging.ERROR, "crawl failed", exc_info=sys.exc_info()))
    for handler in restored_logging.handlers:
        handler.flush()
    written = [json.loads(line) for line in log_file.read_text().splitlines()]
    printed = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert written == printed
    assert [(e["level"], e["logger"], e["message"]) for e in written] == [
        ("INFO", "supportloop.test", "answered 3 questions"),
        ("ERROR", "supportloop.test", "crawl failed"),
    ]
    assert "ValueError: broken page" in written[1]["exception"] and "exception" not in written[0]
    assert written[0]["time"].endswith("Z") and isinstance(written[0]["process"], int)
