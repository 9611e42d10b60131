"""Fail any connection to anything but loopback or a Unix socket.

Installed in the test process by ``tests/conftest.py`` and in every subprocess the tests start by
``sitecustomize.py`` beside this file (through ``PYTHONPATH``). A blocked attempt raises before any
packet is sent, and is also appended to the file named by ``SUPPORTLOOP_NETGUARD_LOG`` so that an
attempt a library swallows is still seen by the test that caused it.
"""

from __future__ import annotations

import ipaddress
import os
import socket

ATTEMPTS: list[str] = []
_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex


class NetworkBlocked(OSError):
    pass


def is_local(address: object, family: int) -> bool:
    if family == socket.AF_UNIX:
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: resolving it would already be network use


def _check(sock: socket.socket, address: object) -> None:
    if is_local(address, sock.family):
        return
    ATTEMPTS.append(repr(address))
    log = os.environ.get("SUPPORTLOOP_NETGUARD_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {address!r}\n")
    raise NetworkBlocked(f"network access outside loopback is not allowed in tests: {address!r}")


def _connect(self: socket.socket, address: object) -> None:
    _check(self, address)
    return _original_connect(self, address)


def _connect_ex(self: socket.socket, address: object) -> int:
    _check(self, address)
    return _original_connect_ex(self, address)


def install() -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
