"""The guard that keeps every test on loopback works, in-process and in subprocesses."""

import socket
import subprocess
import sys

import netguard
import pytest
from helpers import GUARD_DIR


def test_loopback_and_unix_sockets_are_allowed():
    assert netguard.is_local(("127.0.0.1", 80), socket.AF_INET)
    assert netguard.is_local(("127.8.9.10", 80), socket.AF_INET)
    assert netguard.is_local(("::1", 80, 0, 0), socket.AF_INET6)
    assert netguard.is_local(("localhost", 80), socket.AF_INET)
    assert netguard.is_local("/tmp/socket", socket.AF_UNIX)


def test_anything_else_is_blocked_before_a_packet_is_sent(monkeypatch):
    monkeypatch.delenv("SUPPORTLOOP_NETGUARD_LOG")  # this attempt is expected: keep it out of the check
    before = len(netguard.ATTEMPTS)
    with socket.socket() as sock, pytest.raises(netguard.NetworkBlocked):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1; refused by the guard before any syscall
    assert len(netguard.ATTEMPTS) == before + 1
    del netguard.ATTEMPTS[before:]


def test_subprocesses_run_under_the_guard(tmp_path, monkeypatch):
    log = tmp_path / "attempts.log"
    code = "import socket; s = socket.socket(); s.connect(('192.0.2.1', 443))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(GUARD_DIR), "SUPPORTLOOP_NETGUARD_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "NetworkBlocked" in result.stderr
    assert "192.0.2.1" in log.read_text()
