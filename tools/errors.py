"""The errors a user sees as one line, and the helper that makes that line.

`ConfigError` is bad input the user must fix (exit 2); `RunFailed` is a run that cannot
go on (exit 1, resumable once the cause is fixed). Every layer raises these; only the CLIs
turn them into exit codes.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration or input the user must fix; the message is one line naming the field."""


class RunFailed(RuntimeError):
    """The run cannot go on; the message says why and what to do."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
