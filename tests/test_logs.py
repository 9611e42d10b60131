"""Logs as JSON lines for container log collectors: one object per record, tracebacks included."""

import json
import logging

import pytest

from supportloop.logs import setup_logging


@pytest.fixture
def restored_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_logs_go_to_the_file_and_stderr_one_object_per_line(tmp_path, capsys, restored_logging):
    log_file = tmp_path / "supportloop.log"
    setup_logging(log_file, "INFO", "json")
    log = logging.getLogger("supportloop.test")
    log.debug("not at this level")
    log.info("answered %s questions", 3)
    try:
        raise ValueError("broken page")
    except ValueError:
        log.exception("crawl failed")
    for handler in logging.getLogger().handlers:
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
