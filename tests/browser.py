"""A real browser for UI tests: Debian's Chromium, driven by Playwright, never a downloaded build.

``chromium_path`` installs the ``chromium`` package with apt when it is missing (as ``postgres_server``
does for PostgreSQL). When that fails the test fails saying so: a UI test skipped without a word would
pass a broken console.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Root in a container has no sandbox to drop into; the rest keeps Chromium from calling home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def chromium_path() -> Path:
    """Debian's Chromium, installed first when missing; fails the test when it cannot be installed."""
    if not CHROMIUM.exists():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True, timeout=600)
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "chromium"],
                check=True,
                env=env,
                capture_output=True,
                timeout=900,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.fail(f"The browser test needs Debian's chromium and it could not be installed: {exc}")
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.fail(f"The browser test needs Debian's chromium at {CHROMIUM}: `apt-get install -y chromium`.")
    return CHROMIUM
