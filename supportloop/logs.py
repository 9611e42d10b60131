"""Logging: everything to ``<data_dir>/supportloop.log``, warnings and worse to stderr too.

With ``SUPPORTLOOP_LOG_FORMAT=json`` (the container images set it) every record is one JSON object per
line, and stderr gets the log level's records too, for the log collector of the orchestrator.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"  # several processes may share the file


def quiet_environment() -> None:
    """Offline by design: never reach a model hub, and keep library progress bars off our output.

    Must run before transformers or huggingface_hub are imported: they read these at import time.
    """
    for name, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "TOKENIZERS_PARALLELISM": "false",
        "TQDM_DISABLE": "1",  # library bars (GGUF conversion); ours are drawn with rich
        "ANONYMIZED_TELEMETRY": "False",
        "TRL_EXPERIMENTAL_SILENCE": "1",  # PPO exists only in trl.experimental in the pinned 1.12
        # On a GPU, transformers would fetch compiled layers from the hub ("kernels-community/rotary") when
        # a model trains, and fail offline: measured on an H200 with bench/policy_update_speed.py.
        "USE_HUB_KERNELS": "NO",
    }.items():
        os.environ.setdefault(name, value)


class OneLine(logging.Formatter):
    """Warnings on stderr stay one line each; their tracebacks are in the log file."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname}: {record.getMessage()}"


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, process, message, and the traceback if any."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(log_file: Path | None, level: str = "INFO", log_format: str = "text") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.DEBUG)
    stderr = logging.StreamHandler()
    if log_format == "json":
        stderr.setLevel(level)
        stderr.setFormatter(JsonLines())
    else:
        stderr.setLevel(logging.WARNING)
        stderr.setFormatter(OneLine())
    root.addHandler(stderr)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(level)
        file_handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(FORMAT))
        root.addHandler(file_handler)
    for noisy in ("httpx", "httpcore", "chromadb", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
