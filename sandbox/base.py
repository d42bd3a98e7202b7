"""The sandbox interface every backend implements.

A `Sandbox` owns one warm worker (`sandbox/worker.py`) on the far side of an isolation
boundary: a namespaced child process (`ProcessSandbox`), a hardened container
(`DockerSandbox`), or, only when asked for by name, a plain child process
(`UnsafeProcessSandbox`). The host sends JSON requests and gets `CallOutcome`s back;
generated code never runs in the agent's own process. A backend only says how to launch
the worker, how to send it a line and where its answers arrive; the protocol, its checks,
timeouts and recovery live here, once.

Nothing the worker sends is trusted: an answer must be one JSON line of at most
MAX_ANSWER_BYTES, for the request just sent, in the schema below. Anything else (garbage,
a forged or stale id, an oversized line) becomes a `crashed` outcome and a fresh worker,
never an exception and never an answer one call out of step.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import select
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from sandbox.artifacts import ArtifactError, copy_artifact

log = logging.getLogger(__name__)

Status = Literal["success", "timeout", "memoryout", "crashed"]
STATUSES = ("success", "timeout", "memoryout", "crashed")
WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# Extra seconds the host waits beyond a call's own limit before it declares the whole
# worker stuck and restarts it (the worker enforces the limit itself first).
HOST_GRACE_SECONDS = 15.0
STARTUP_TIMEOUT_SECONDS = 120.0
# The longest answer line the host reads (the worker refuses bigger results itself).
MAX_ANSWER_BYTES = 64 * 2**20
# While waiting for an answer, how often to ask the backend whether its worker still lives.
LIVENESS_CHECK_SECONDS = 1.0


class SandboxError(RuntimeError):
    """The sandbox itself (not the generated code) failed: engine gone, image missing."""


class ProtocolError(Exception):
    """The worker's answer broke the protocol; the worker can no longer be trusted."""


@dataclass
class Limits:
    """What one call may use. The container and the namespaced process backend enforce
    memory and processes for the whole worker too (a cgroup), where the machine allows."""

    timeout: float = 60.0  # wall-clock seconds per call
    memory_mb: int = 2048
    cpus: float = 1.0
    pids: int = 256
    tmp_mb: int = 256  # the sandbox's own /tmp
    artifacts_mb: int = 2048  # the largest file a call may write, and of an artifact copied back


@dataclass
class Workspace:
    """Host folders a sandbox works with. `code` and `data` it sees read-only.

    `artifacts`, with `artifacts_writable` (deploy): where the host puts the files a call
    saves. The sandbox never sees this folder; it writes into a fresh folder of its own, and
    after a successful call with `artifact=NAME` the host copies NAME from there (a regular
    file, no symlink, at most `Limits.artifacts_mb`). Without `artifacts_writable`
    (predict): a folder with a saved model, which the sandbox sees read-only.
    """

    code: Path
    data: Path
    artifacts: Path | None = None
    artifacts_writable: bool = True

    def __post_init__(self) -> None:
        # Absolute, so that a relative run folder (the default `--runs-dir runs`) names the
        # same folder to a worker whose working directory is elsewhere.
        self.code = Path(self.code).resolve()
        self.data = Path(self.data).resolve()
        if self.artifacts is not None:
            self.artifacts = Path(self.artifacts).resolve()


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


def worker_arguments(limits: Limits, artifacts: bool) -> list[str]:
    """The worker's arguments, as every backend mounts it: the script at /sandbox/worker.py and
    the code, data, temp, io (and artifacts) folders at fixed paths inside the sandbox."""
    args = [
        "/sandbox/worker.py",
        "--code",
        "/code",
        "--data",
        "/data",
        "--tmp",
        "/tmp",
        "--io",
        "/io",
        "--max-file-mb",
        str(max(limits.tmp_mb, limits.artifacts_mb)),
    ]
    return [*args, "--artifacts", "/artifacts"] if artifacts else args


def parse_answer(line: bytes, request_id: int) -> dict:
    """The worker's answer to request `request_id`, checked; ProtocolError if it is not one."""
    try:
        answer = json.loads(line)
    except (ValueError, RecursionError) as exc:  # garbage, bad UTF-8, absurd nesting
        raise ProtocolError(f"an answer that is not JSON ({type(exc).__name__})") from None
    if not isinstance(answer, dict):
        raise ProtocolError("an answer that is not a JSON object")
    if type(answer.get("id")) is not int or answer["id"] != request_id:
        raise ProtocolError(f"an answer for request {str(answer.get('id'))[:20]!r}, expected {request_id}")
    if answer.get("status") not in STATUSES:
        raise ProtocolError(f"an unknown status {str(answer.get('status'))[:40]!r}")
    if answer["status"] == "success" and not isinstance(answer.get("result"), dict):
        raise ProtocolError("a success without a result object")
    if answer.get("result") is not None and not isinstance(answer["result"], dict):
        raise ProtocolError("a result that is not an object")
    for key in ("error", "traceback", "output"):
        if answer.get(key) is not None and not isinstance(answer[key], str):
            raise ProtocolError(f"a non-text {key}")
    elapsed = answer.get("elapsed")
    if elapsed is not None and (type(elapsed) not in (int, float) or not 0 <= elapsed < 1e7):
        raise ProtocolError("an impossible elapsed time")
    return answer


def _bad_loss(result: dict) -> str | None:
    """Why a train result's loss is unusable, or None. Checked here because the worker's
    own check runs in the generated code's process, which that code can patch."""
    loss = result.get("loss")
    if type(loss) not in (int, float) or not math.isfinite(loss):
        return f"train() returned an unusable loss: {str(loss)[:60]}"
    return None


@dataclass
class Sandbox(ABC):
    workspace: Workspace
    limits: Limits = field(default_factory=Limits)
    name: str = "sandbox"
    _ids: Any = field(default_factory=lambda: itertools.count(1), init=False, repr=False)
    _running: bool = field(default=False, init=False, repr=False)
    _buffer: bytearray = field(default_factory=bytearray, init=False, repr=False)
    _scanned: int = field(default=0, init=False, repr=False)  # bytes of _buffer without a newline
    versions: dict = field(default_factory=dict, init=False)

    backend: ClassVar[str] = "abstract"
    isolates: ClassVar[bool] = True  # False only for the explicitly unsafe backend

    # ---- what a backend implements --------------------------------------------------

    @abstractmethod
    def _launch(self) -> None:
        """Start the worker; afterwards `_send` and `_answers` talk to it."""

    @abstractmethod
    def _send(self, line: str) -> None: ...

    @abstractmethod
    def _answers(self) -> int | None:
        """The descriptor the worker's answers arrive on (None: not running)."""

    @abstractmethod
    def _kill(self) -> None:
        """Stop the worker and release everything it holds; safe to call twice."""

    def _alive(self) -> bool:
        """Polled while waiting for an answer (a container can die without closing a pipe)."""
        return True

    def _exit_reason(self) -> str:
        """Why the worker went away, when it did (exit code, OOM)."""
        return "the sandbox worker stopped"

    def _artifacts_out(self) -> Path | None:
        """The host side of the folder the worker saves artifacts in (its own, fresh)."""
        return None

    def _started(self) -> None:  # noqa: B027 - an optional hook
        """Called once the worker said it is ready (it has opened everything it needs)."""

    # ---- reading answers --------------------------------------------------------------

    def _recv(self, timeout: float, stop: Callable[[], bool] | None = None) -> bytes | None:
        """One answer line; None when nothing came within `timeout`, the worker died, or
        `stop()` (asked about once a second while waiting) said to give up. Linear in the
        answer's size (a bytearray, scanned once); ProtocolError past MAX_ANSWER_BYTES
        without a newline."""
        fd = self._answers()
        if fd is None:
            return None
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + timeout
        while True:
            newline = self._buffer.find(b"\n", self._scanned)
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                self._scanned = 0
                return line
            self._scanned = len(self._buffer)
            if len(self._buffer) > MAX_ANSWER_BYTES:
                raise ProtocolError(f"an answer longer than {MAX_ANSWER_BYTES // 2**20} MiB")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not poller.poll(min(remaining, LIVENESS_CHECK_SECONDS) * 1000):
                if not self._alive() or (stop is not None and stop()):
                    return None
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None  # the worker closed its end: it exited
            self._buffer += chunk

    # ---- the interface nodes use ----------------------------------------------------

    def start(self) -> Sandbox:
        if self._running:
            return self
        for role, folder in (("code", self.workspace.code), ("data", self.workspace.data)):
            if not folder.is_dir():  # Docker would make a missing bind source, as root
                raise SandboxError(f"the sandbox's {role} folder {folder} does not exist")
        self._buffer, self._scanned = bytearray(), 0
        try:
            self._launch()
        except BaseException:
            self._kill()  # a half-made sandbox: folders, cgroup, process
            raise
        try:
            hello = self._recv(STARTUP_TIMEOUT_SECONDS)
            if hello is None:
                raise ProtocolError(self._exit_reason())
            answer = parse_answer_ready(hello)
        except ProtocolError as exc:
            self._kill()
            raise SandboxError(f"the {self.backend} sandbox worker did not start: {exc}") from None
        self.versions = answer.get("versions") if isinstance(answer.get("versions"), dict) else {}
        self._started()
        self._running = True
        log.debug("%s sandbox %s ready: %s", self.backend, self.name, self.versions)
        return self

    def call(
        self, op: str, timeout: float | None = None, stop: Callable[[], bool] | None = None, **args: Any
    ) -> CallOutcome:
        """Run one operation of the worker in an isolated child; never raises for bad code
        or for anything the worker sends back. `stop()`, asked about once a second while the
        call runs, may end it before its timeout: the worker is restarted and the call
        reported as a timeout (the search's way to cut a trial whose share of time shrank)."""
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
        failure, stopped = None, [False]

        def give_up() -> bool:
            stopped[0] = stop is not None and stop()
            return stopped[0]

        try:
            self._send(json.dumps(request))
            line = self._recv(timeout + HOST_GRACE_SECONDS, give_up if stop else None)
            answer = None if line is None else parse_answer(line, request["id"])
        except ProtocolError as exc:
            self.restart()
            return CallOutcome(
                "crashed", error=f"the sandbox sent back {exc}; worker restarted", elapsed=time.monotonic() - started
            )
        except OSError as exc:  # BrokenPipeError: the worker is gone
            answer, failure = None, str(exc)
        if answer is None:
            # The worker itself is gone or stuck: report the call and start afresh.
            elapsed = time.monotonic() - started
            reason = failure or self._exit_reason()
            stuck = elapsed >= timeout
            self.restart()
            if stopped[0]:
                return CallOutcome("timeout", error=f"stopped by its caller after {elapsed:.0f} s", elapsed=elapsed)
            if stuck:
                return CallOutcome("timeout", error=f"exceeded {timeout:g} s; worker restarted", elapsed=elapsed)
            status = "memoryout" if "out of memory" in reason.lower() else "crashed"
            return CallOutcome(status, error=f"{reason}; worker restarted", elapsed=elapsed)
        outcome = CallOutcome(
            status=answer["status"],
            result=answer.get("result"),
            error=answer.get("error"),
            traceback=answer.get("traceback"),
            output=answer.get("output"),
            # The host's own stopwatch, not the worker's figure: the search's seconds per trial
            # (SMAC's trial times, the trial-cost rule, deploy's refit estimate) are then
            # nothing code in the sandbox can set.
            elapsed=time.monotonic() - started,
        )
        if outcome.ok and op == "train" and (problem := _bad_loss(outcome.result)):
            return CallOutcome("crashed", error=problem, elapsed=outcome.elapsed)
        if outcome.ok and args.get("artifact"):
            return self._bring_back(outcome, str(args["artifact"]))
        return outcome

    def _bring_back(self, outcome: CallOutcome, name: str) -> CallOutcome:
        """Copy an artifact the call saved into `workspace.artifacts`, safely, or crash the call."""
        source = self._artifacts_out()
        if not (self.workspace.artifacts and self.workspace.artifacts_writable and source):
            return outcome
        try:
            copy_artifact(source, name, self.workspace.artifacts, self.limits.artifacts_mb * 2**20)
        except ArtifactError as exc:
            return CallOutcome("crashed", error=str(exc), elapsed=outcome.elapsed)
        return outcome

    def alive(self) -> bool:
        """Started and still there (a sandbox handed on is checked before its next use)."""
        return self._running and self._alive()

    def restart(self) -> None:
        self._kill()
        self._running = False
        self.start()

    def close(self) -> None:
        if self._running:
            try:
                self._send(json.dumps({"id": 0, "op": "shutdown"}))
                self._recv(5.0)
            except (OSError, ProtocolError):
                pass
        self._kill()
        self._running = False

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_answer_ready(line: bytes) -> dict:
    """The worker's first line: {"id": 0, "status": "ready", "versions": {...}}."""
    try:
        hello = json.loads(line)
    except (ValueError, RecursionError):
        raise ProtocolError("a first line that is not JSON") from None
    if not isinstance(hello, dict) or hello.get("status") != "ready" or hello.get("id") != 0:
        raise ProtocolError("a first line that is not the ready message")
    return hello
