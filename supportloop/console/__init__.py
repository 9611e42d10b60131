"""The support team's web console (``supportloop console``, and ``serve`` when an admin token is set)."""
