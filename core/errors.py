"""Errors a user can cause or fix, each carrying a one-line message that says what to do.

The CLI prints ``str(error)`` and exits non-zero; tracebacks go to the log only. Anything that is not a
``SupportLoopError`` is a bug and is reported as one.
"""


class SupportLoopError(Exception):
    """Base class: the message is shown to the user as it is, on one line."""

    exit_code = 1


class ConfigError(SupportLoopError):
    """A setting has an invalid value."""

    exit_code = 2


class StorageError(SupportLoopError):
    """The database cannot be opened or is not ours."""


class ModelError(SupportLoopError):
    """A model folder is missing, corrupt, or cannot be loaded."""


class LLMServerError(ModelError):
    """The OpenAI-compatible model server is unreachable, failing, or refuses our requests."""


class CrawlError(SupportLoopError):
    """A help site could not be crawled into anything worth indexing."""


class IndexEmptyError(SupportLoopError):
    """A question was asked before any help pages were indexed."""
