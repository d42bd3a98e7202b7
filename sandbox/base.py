"""The sandbox interface every backend implements.

A `Sandbox` owns one warm worker (`sandbox/worker.py`) on the far side of an isolation
boundary: a child process (`ProcessSandbox`) or a hardened container (`DockerSandbox`).
The host sends JSON requests and gets `CallOutcome`s back; generated code never runs in
the agent's own process. A backend only says how to launch the worker and how to move
lines to and from it; the protocol, timeouts and recovery live here, once.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

log = logging.getLogger(__name__)

Status = Literal["success", "timeout", "memoryout", "crashed"]
WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# Extra seconds the host waits beyond a call's own limit before it declares the whole
# worker stuck and restarts it (the worker enforces the limit itself first).
HOST_GRACE_SECONDS = 15.0
STARTUP_TIMEOUT_SECONDS = 120.0


class SandboxError(RuntimeError):
    """The sandbox itself (not the generated code) failed: engine gone, image missing."""


@dataclass
class Limits:
    """What one call may use. The container backend enforces them for the whole worker too."""

    timeout: float = 60.0  # wall-clock seconds per call
    memory_mb: int = 2048
    cpus: float = 1.0
    pids: int = 256
    tmp_mb: int = 256


@dataclass
class Workspace:
    """Host folders the sandbox sees: code and data read-only, artifacts writable unless
    `artifacts_writable` is False (predicting with a saved model only reads it)."""

    code: Path
    data: Path
    artifacts: Path | None = None
    artifacts_writable: bool = True


@dataclass
class CallOutcome:
    status: Status
    result: dict | None = None
    error: str | None = None
    traceback: str | None = None
    output: str | None = None  # tail of what the generated code printed
    elapsed: float = 0.0
    where: str | None = None  # which optimizer worker ran it (a sandbox, a Dask worker's address)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def describe(self) -> str:
        """One paragraph for a verification report or an LLM retry prompt."""
        parts = [f"{self.status}: {self.error or 'no error message'}"]
        if self.traceback:
            parts.append("traceback (tail):\n" + self.traceback.strip()[-1500:])
        if self.output and self.output.strip():
            parts.append("output (tail):\n" + self.output.strip()[-800:])
        return "\n".join(parts)


@dataclass
class Sandbox(ABC):
    workspace: Workspace
    limits: Limits = field(default_factory=Limits)
    name: str = "sandbox"
    _ids: Any = field(default_factory=lambda: itertools.count(1), init=False, repr=False)
    _running: bool = field(default=False, init=False, repr=False)
    versions: dict = field(default_factory=dict, init=False)

    backend: ClassVar[str] = "abstract"

    # ---- what a backend implements --------------------------------------------------

    @abstractmethod
    def _launch(self) -> None:
        """Start the worker; afterwards `_send` and `_recv` talk to it."""

    @abstractmethod
    def _send(self, line: str) -> None: ...

    @abstractmethod
    def _recv(self, timeout: float) -> str | None:
        """One response line, or None when nothing came within `timeout` or the worker died."""

    @abstractmethod
    def _kill(self) -> None:
        """Stop the worker and release everything it holds; safe to call twice."""

    def _exit_reason(self) -> str:
        """Why the worker went away, when it did (exit code, OOM)."""
        return "the sandbox worker stopped"

    # ---- the interface nodes use ----------------------------------------------------

    def start(self) -> Sandbox:
        if self._running:
            return self
        self._launch()
        hello = self._recv(STARTUP_TIMEOUT_SECONDS)
        if hello is None:
            reason = self._exit_reason()
            self._kill()
            raise SandboxError(f"the {self.backend} sandbox worker did not start: {reason}")
        self.versions = json.loads(hello).get("versions", {})
        self._running = True
        log.debug("%s sandbox %s ready: %s", self.backend, self.name, self.versions)
        return self

    def call(self, op: str, timeout: float | None = None, **args: Any) -> CallOutcome:
        """Run one operation of the worker in an isolated child; never raises for bad code."""
        if not self._running:
            self.start()
        timeout = float(timeout or self.limits.timeout)
        request = {
            "id": next(self._ids),
            "op": op,
            "timeout": timeout,
            "memory_mb": self.limits.memory_mb,
            "cpus": self.limits.cpus,
            **args,
        }
        started = time.monotonic()
        try:
            self._send(json.dumps(request))
            line = self._recv(timeout + HOST_GRACE_SECONDS)
        except (BrokenPipeError, OSError) as exc:
            line, failure = None, str(exc)
        else:
            failure = None
        if line is None:
            # The worker itself is gone or stuck: report the call and start afresh.
            elapsed = time.monotonic() - started
            reason = failure or self._exit_reason()
            stuck = elapsed >= timeout
            self.restart()
            if stuck:
                return CallOutcome("timeout", error=f"exceeded {timeout:g} s; worker restarted",
                                   elapsed=elapsed)
            status = "memoryout" if "memory" in reason.lower() else "crashed"
            return CallOutcome(status, error=f"{reason}; worker restarted", elapsed=elapsed)
        response = json.loads(line)
        return CallOutcome(
            status=response["status"],
            result=response.get("result"),
            error=response.get("error"),
            traceback=response.get("traceback"),
            output=response.get("output"),
            elapsed=response.get("elapsed", time.monotonic() - started),
        )

    def restart(self) -> None:
        self._kill()
        self._running = False
        self.start()

    def close(self) -> None:
        if self._running:
            try:
                self._send(json.dumps({"id": 0, "op": "shutdown"}))
                self._recv(5.0)
            except OSError:
                pass
        self._kill()
        self._running = False

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
