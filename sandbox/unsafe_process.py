"""The UNSAFE process backend: the worker is a plain child process of the agent.

It isolates nothing: generated code shares the host's filesystem, network, processes and
user (it can read /proc/<agent pid>/environ, the API keys included). It exists only for
trusted code on a machine where neither Docker nor bubblewrap is available, and is chosen
only by its name, `unsafe_process`; `auto` never picks it. What it still gives: the code
runs outside the agent's process, each call in its own forked child with a wall-clock
timeout, CPU and address-space limits, an empty environment (`python -I`) and its own
temporary folder as home and working directory.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.artifacts import make_scratch, remove_scratch, sweep_scratch
from sandbox.base import WORKER_SCRIPT, Sandbox

log = logging.getLogger(__name__)


@dataclass
class UnsafeProcessSandbox(Sandbox):
    backend = "unsafe_process"
    isolates = False
    _proc: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _scratch: Path | None = field(default=None, init=False, repr=False)

    def _launch(self) -> None:
        log.warning(
            "sandbox %s: backend unsafe_process runs generated code UNISOLATED, with this user's "
            "files, network and processes",
            self.name,
        )
        sweep_scratch()
        self._scratch = make_scratch()
        tmp = str(self._scratch / "tmp")
        os.mkdir(tmp)
        os.mkdir(self._scratch / "artifacts")
        threads = str(max(1, int(self.limits.cpus)))
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": tmp,
            "TMPDIR": tmp,
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
        cmd = [
            sys.executable,
            "-I",
            str(WORKER_SCRIPT),
            "--code",
            str(self.workspace.code),
            "--data",
            str(self.workspace.data),
            "--tmp",
            tmp,
            "--max-file-mb",
            str(max(self.limits.tmp_mb, self.limits.artifacts_mb)),
        ]
        if self.workspace.artifacts:
            artifacts = self._scratch / "artifacts" if self.workspace.artifacts_writable else self.workspace.artifacts
            cmd += ["--artifacts", str(artifacts)]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=tmp,
            env=env,
            start_new_session=True,
        )

    def _send(self, line: str) -> None:
        if self._proc is None or self._proc.stdin is None:
            raise BrokenPipeError("the sandbox worker is not running")
        self._proc.stdin.write(line.encode() + b"\n")
        self._proc.stdin.flush()

    def _answers(self) -> int | None:
        return self._proc.stdout.fileno() if self._proc and self._proc.stdout else None

    def _artifacts_out(self) -> Path | None:
        return self._scratch / "artifacts" if self._scratch else None

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
        remove_scratch(self._scratch)
        self._scratch = None
