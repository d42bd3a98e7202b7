"""The process backend: the worker runs in namespaces of its own, made by bubblewrap.

For machines without Docker (and CI without an engine). The worker runs in new user,
PID, network, mount, IPC and UTS namespaces, as uid 65534 with no capabilities, in a
new session (no terminal to inject into). It sees only read-only views of the Python
installation it runs on (/usr, the interpreter's prefix, the virtual environment), the
worker script, the code folder and the data folder, plus a size-capped tmpfs /tmp of its
own and, at deploy, a fresh artifacts folder (never a run's folder). Its /proc is the one
of its own PID namespace (no host process, no /proc/<agent pid>/environ); its network is
a loopback of its own; its environment is built from scratch. RLIMIT_NPROC (counted in
its own user namespace) and RLIMIT_FSIZE hold every process of it; a cgroup holds their
total memory and processes where the machine lets us make one (see cgroup.py).

The worker talks over two FIFOs that are unlinked once it has opened them (channel.py),
so no process of a call can reopen the channel: no path, the call's child closes its
copies, and the worker is not dumpable (so /proc/<worker>/fd is closed).

As root, the sandbox still runs as an unprivileged host uid (65534): a small launcher
(stage.py) stages the folders that uid cannot reach, then drops to it and execs bubblewrap.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.artifacts import SANDBOX_UID, make_scratch, open_to_sandbox, remove_scratch, sweep_scratch
from sandbox.base import WORKER_SCRIPT, Sandbox, SandboxError, worker_arguments
from sandbox.cgroup import Cgroup, sweep_cgroups
from sandbox.channel import FifoChannel

log = logging.getLogger(__name__)

STAGE_SCRIPT = Path(__file__).with_name("stage.py")
# Any existing folder will do: the launcher mounts over it in its own mount namespace only.
STAGE_CANDIDATES = ("/mnt", "/media", "/srv", "/opt")
SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
# The warm parent (interpreter, scikit-learn, pandas, the loaded data) needs memory on top
# of what one call may use; the call itself is held to its share by RLIMIT_AS in the worker.
PARENT_MEMORY_MB = 512
INSTALL_HINT = "install bubblewrap (`make bubblewrap`, or apt-get install bubblewrap)"

_warned_no_cgroup = False
_live: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # stopped at interpreter exit


def _as_root() -> bool:
    return os.geteuid() == 0


def _stage_root() -> str:
    for candidate in STAGE_CANDIDATES:
        if os.path.isdir(candidate) and not os.path.islink(candidate):
            return candidate
    raise SandboxError(f"the process sandbox needs one of {', '.join(STAGE_CANDIDATES)} to exist")


def _system_binds() -> list[str]:
    """bubblewrap arguments for /usr and the top-level links into it (merged /usr)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in SYSTEM_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def _python_dirs() -> list[str]:
    """The interpreter's installation and the virtual environment, unless under /usr."""
    dirs = []
    for prefix in {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}:
        if prefix != "/usr" and not prefix.startswith("/usr/"):
            dirs.append(prefix)
    return sorted(dirs)


def _bwrap(
    binds: list[tuple[str, str, bool]],
    extra: list[str],
    command: list[str],
    cgroup_procs: list[Path] = (),
    before_binds: list[str] = (),
) -> list[str]:
    """The full command line: bubblewrap with `binds` (host path, sandbox path, writable),
    through the staging launcher when we are root. `before_binds` are mounted first: a tmpfs
    on /tmp mounted after the binds would hide one below /tmp (a checkout, and so its venv,
    may live there)."""
    args = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "sandbox",
        "--new-session",
        "--cap-drop",
        "ALL",
        *_system_binds(),
        *before_binds,
    ]
    if not _as_root():  # bubblewrap runs as us and reaches our folders itself
        binds_args = [a for host, inside, rw in binds for a in ("--bind" if rw else "--ro-bind", host, inside)]
        return [*args, *binds_args, *extra, *command]
    stage = _stage_root()
    launcher = [sys.executable, "-I", "-S", str(STAGE_SCRIPT), "--uid", str(SANDBOX_UID), "--stage", stage]
    for procs in cgroup_procs:
        launcher += ["--join", str(procs)]
    for index, (host, inside, writable) in enumerate(binds):
        launcher += ["--bind", host]  # staged at STAGE/<index>, where the sandbox user can reach it
        args += ["--bind" if writable else "--ro-bind", f"{stage}/{index}", inside]
    return [*launcher, "--", *args, *extra, *command]


@functools.cache
def process_unavailable_reason() -> str | None:
    """None when bubblewrap can make the namespaces here, else what to do (one sentence)."""
    if shutil.which("bwrap") is None:
        return f"bubblewrap is not installed; {INSTALL_HINT}"
    try:
        probe = subprocess.run(
            _bwrap(
                [(d, d, False) for d in _python_dirs()],
                ["--proc", "/proc", "--dev", "/dev"],
                [sys.executable, "-I", "-S", "-c", "pass"],
            ),
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin"},
        )
    except (OSError, subprocess.TimeoutExpired, SandboxError) as exc:
        return f"bubblewrap failed to start ({exc})"
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no message"])[-1][:200]
        return f"bubblewrap cannot make the sandbox's namespaces on this machine ({last})"
    return None


def sweep_leftovers() -> list[str]:
    """Scratch folders and cgroups of sandboxes whose agent died (kill -9); their names."""
    return sweep_scratch() + sweep_cgroups()


@dataclass
class ProcessSandbox(Sandbox):
    backend = "process"
    _proc: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _scratch: Path | None = field(default=None, init=False, repr=False)
    _channel: FifoChannel | None = field(default=None, init=False, repr=False)
    _cgroup: Cgroup | None = field(default=None, init=False, repr=False)
    _ns_init: int | None = field(default=None, init=False, repr=False)  # host pid of PID 1 inside
    _oom_at_start: int | None = field(default=None, init=False, repr=False)

    def _launch(self) -> None:
        global _warned_no_cgroup
        reason = process_unavailable_reason()
        if reason:
            raise SandboxError(reason)
        sweep_leftovers()
        self._scratch = make_scratch()
        artifacts = self._scratch / "artifacts"
        artifacts.mkdir()
        if _as_root():
            open_to_sandbox(artifacts)
        self._cgroup, why = Cgroup.create(
            self._scratch.name, (self.limits.memory_mb + PARENT_MEMORY_MB) * 2**20, self.limits.pids
        )
        if self._cgroup is None and not _warned_no_cgroup:
            _warned_no_cgroup = True
            log.warning("process sandbox without a cgroup: %s; memory is capped per process only", why)
        self._oom_at_start = self._cgroup.oom_kills() if self._cgroup else None
        self._channel = FifoChannel(self._scratch / "io", owner=SANDBOX_UID)

        binds = [(d, d, False) for d in _python_dirs()]
        binds += [
            (str(WORKER_SCRIPT), "/sandbox/worker.py", False),
            (str(self.workspace.code), "/code", False),
            (str(self.workspace.data), "/data", False),
            (str(self._scratch / "io"), "/io", False),
        ]
        command = [
            sys.executable,
            "-I",
            *worker_arguments(self.limits, bool(self.workspace.artifacts)),
            "--max-processes",  # RLIMIT_NPROC counts per user namespace: here the sandbox has its own
            str(self.limits.pids),
        ]
        if self.workspace.artifacts:
            if self.workspace.artifacts_writable:
                binds.append((str(artifacts), "/artifacts", True))
            else:
                binds.append((str(self.workspace.artifacts), "/artifacts", False))
        if self._cgroup:  # read-only, so the worker can read the OOM-kill count
            inside = "/sys/fs/cgroup" if self._cgroup.version == 2 else "/sys/fs/cgroup/memory"
            binds.append((str(self._cgroup.memory), inside, False))
        info_read, info_write = os.pipe()
        tmpfs = ["--size", str(self.limits.tmp_mb * 2**20), "--perms", "1777", "--tmpfs"]
        # The root bubblewrap builds is a tmpfs: read-only once everything is mounted, so the
        # code writes only into /tmp (and /dev/shm, for semaphores), both capped.
        first = ["--proc", "/proc", "--dev", "/dev", *tmpfs, "/tmp", *tmpfs, "/dev/shm"]
        extra = ["--info-fd", str(info_write), "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp"]
        procs = self._cgroup.procs_files() if self._cgroup and _as_root() else []
        cmd = _bwrap(binds, extra, command, procs, before_binds=first)
        # stdout and stderr: a pipe, not a host file. bubblewrap's PID 1 keeps copies that a
        # call could reopen through /proc/1/fd; a pipe holds 64 KiB and then refuses more,
        # where a file would take whatever it is given. The worker stops writing to it once
        # it is ready; the host reads it only to say why a worker stopped.
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=_environment(self.limits.cpus),
                pass_fds=(info_write,),
                cwd="/",
                start_new_session=True,
            )
        finally:
            os.close(info_write)
        os.set_blocking(self._proc.stdout.fileno(), False)
        self._ns_init = _read_child_pid(info_read)
        _live[id(self)] = self

    def _send(self, line: str) -> None:
        if self._channel is None:
            raise BrokenPipeError("the sandbox worker is not running")
        self._channel.send(line)

    def _answers(self) -> int | None:
        return self._channel.answers if self._channel else None

    def _started(self) -> None:
        self._channel.unlink()

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _artifacts_out(self) -> Path | None:
        return self._scratch / "artifacts" if self._scratch else None

    def _exit_reason(self) -> str:
        if self._proc is None:
            return "the worker was never started"
        try:
            code = self._proc.wait(timeout=3)  # EOF can come a moment before the exit
        except subprocess.TimeoutExpired:
            return "the worker did not answer"
        if self._cgroup and (self._cgroup.oom_kills() or 0) > (self._oom_at_start or 0):
            return (
                f"the sandbox ran out of memory (the kernel's OOM killer, at "
                f"{self.limits.memory_mb + PARENT_MEMORY_MB} MB)"
            )
        reason = f"the worker exited with code {code}" if code >= 0 else f"the worker was killed by signal {-code}"
        try:
            last = (self._proc.stdout.read(1 << 16) or b"").decode(errors="replace").strip()
        except OSError:
            last = ""
        return f"{reason}: {last.splitlines()[-1][:300]}" if last else reason

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                # bubblewrap still waits for its child, so this pid cannot have been reused:
                # when PID 1 of a namespace dies, the kernel kills everything in it.
                if self._ns_init:
                    _signal(self._ns_init)
                _signal(self._proc.pid)
            self._proc.wait()
            self._proc.stdout.close()
            self._proc = None
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._ns_init = None
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
        remove_scratch(self._scratch)
        self._scratch = None


@atexit.register
def _stop_live_sandboxes() -> None:
    for sandbox in list(_live.values()):
        sandbox._kill()


def _environment(cpus: float) -> dict:
    """The sandbox's whole environment: nothing of the host's (no API keys, no proxies)."""
    threads = str(max(1, int(cpus)))
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
    }
    # Keep the machine's own OpenBLAS safety settings (see the field notes).
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _read_child_pid(fd: int, timeout: float = 30.0) -> int | None:
    """bubblewrap's --info-fd JSON: the host pid of the namespace's PID 1."""
    data, deadline = b"", time.monotonic() + timeout
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    try:
        while time.monotonic() < deadline:
            ready = poller.poll(max(0.0, deadline - time.monotonic()) * 1000)
            chunk = os.read(fd, 4096) if ready else b""
            data += chunk
            try:
                return int(json.loads(data)["child-pid"])
            except (ValueError, KeyError, TypeError):
                if not chunk:
                    return None  # bubblewrap exited before it wrote the information
    finally:
        os.close(fd)
    return None


def _signal(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
