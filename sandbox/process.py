"""The process backend: the worker runs as a child process of the agent.

Weaker than a container (it shares the host's filesystem and network), but it still
keeps generated code out of the agent's process and gives each call its own process
group, wall-clock timeout, CPU and address-space limits. The worker starts with an
empty environment (no API keys, no proxies), an isolated interpreter (`python -I`) and
its own temporary folder as home and working directory.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

from sandbox.base import WORKER_SCRIPT, Sandbox


@dataclass
class ProcessSandbox(Sandbox):
    backend = "process"
    _proc: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _tmp: str | None = field(default=None, init=False, repr=False)
    _buffer: bytes = field(default=b"", init=False, repr=False)

    def _launch(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="automl-sandbox-")
        threads = str(max(1, int(self.limits.cpus)))
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": self._tmp,
            "TMPDIR": self._tmp,
            "LANG": "C.UTF-8",
            # One thread pool per call, sized to the CPU share the call is given.
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "MPLBACKEND": "Agg",
        }
        # Keep the machine's own OpenBLAS safety settings (see the field notes).
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            if key in os.environ:
                env[key] = os.environ[key]
        cmd = [sys.executable, "-I", str(WORKER_SCRIPT),
               "--code", str(self.workspace.code), "--data", str(self.workspace.data),
               "--tmp", self._tmp]
        if self.workspace.artifacts:
            cmd += ["--artifacts", str(self.workspace.artifacts)]
        self._buffer = b""
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=self._tmp, env=env, start_new_session=True,
        )

    def _send(self, line: str) -> None:
        assert self._proc and self._proc.stdin
        self._proc.stdin.write(line.encode() + b"\n")
        self._proc.stdin.flush()

    def _recv(self, timeout: float) -> str | None:
        import time

        assert self._proc and self._proc.stdout
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None  # the worker exited
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def _exit_reason(self) -> str:
        if self._proc is None:
            return "the worker was never started"
        code = self._proc.poll()
        if code is None:
            return "the worker did not answer"
        if code < 0:
            return f"the worker was killed by signal {-code}"
        return f"the worker exited with code {code}"

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                try:
                    os.killpg(self._proc.pid, 9)
                except (ProcessLookupError, PermissionError):
                    self._proc.kill()
            self._proc.wait()
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream:
                    stream.close()
            self._proc = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
