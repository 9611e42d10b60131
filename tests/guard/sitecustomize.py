"""Loaded by every Python subprocess the tests start: install the loopback-only network guard."""

import netguard

netguard.install()
