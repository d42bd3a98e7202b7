"""The host's end of the line channel to a worker: two FIFOs that exist only until the
worker has opened them.

Both backends hand the worker a folder (mounted read-only at /io) with a `requests` and a
`responses` FIFO. The worker opens both at start and says it is ready; the host then
unlinks them, so that no process of a call can open the channel by path, the way a trial
once reopened /io/responses and forged answers. What remains are descriptors held by the
host and the worker alone: a call's child closes its copies before generated code runs, and
the worker is not dumpable, so /proc/<worker>/fd is closed to the calls too. (Inherited
stdin/stdout would not do: bubblewrap's PID 1 keeps a copy of them, readable through /proc.)
"""

from __future__ import annotations

import os
from pathlib import Path


class FifoChannel:
    def __init__(self, folder: Path, owner: int | None = None):
        """Make the FIFOs in `folder` (created here) and open the host's ends. `owner`: the
        uid the worker runs as, when it differs from ours."""
        self.folder = folder
        folder.mkdir(mode=0o711)  # the worker may enter, not list
        for name in ("requests", "responses"):
            os.mkfifo(folder / name, 0o600)
            if owner is not None:
                try:
                    os.chown(folder / name, owner, owner)
                except PermissionError:  # not root: the worker is our own uid in a namespace
                    os.chmod(folder / name, 0o666)
        # responses: read end, non-blocking so the open does not wait for the worker.
        # requests: O_RDWR, which never blocks on Linux and lets the worker's (blocking)
        # open for reading succeed at once. A dead worker shows as EOF on responses.
        self.answers = os.open(folder / "responses", os.O_RDONLY | os.O_NONBLOCK)
        self._requests = os.open(folder / "requests", os.O_RDWR)

    def send(self, line: str) -> None:
        if self._requests is None:
            raise BrokenPipeError("the sandbox worker is not running")
        os.write(self._requests, line.encode() + b"\n")

    def unlink(self) -> None:
        """Remove the FIFOs' names once the worker holds both ends (it said it is ready)."""
        for name in ("requests", "responses"):
            try:
                os.unlink(self.folder / name)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        for fd in (self.answers, self._requests):
            if fd is not None:
                os.close(fd)
        self.answers = self._requests = None
        self.unlink()
