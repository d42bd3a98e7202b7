"""A cgroup per process sandbox: total memory and processes of the worker and every call.

RLIMIT_AS caps one process; a call that forks ten hogs needs a cap on all of them. Where
the machine lets this process make cgroups (root, or a delegated cgroup v2 subtree), each
process sandbox gets its own, below this process's own cgroup: cgroup v2 (`memory.max`,
`memory.swap.max`, `pids.max`), else the v1 `memory` and `pids` hierarchies. The kernel
counts the OOM kills in it (`memory.events` / `memory.oom_control`), which is how the
worker tells an out-of-memory kill from any other SIGKILL. Where none can be made,
`Cgroup.create` says why and the sandbox runs on per-process limits only.

Cgroups are named like the scratch folders (`automl-sandbox-<owner pid>-<random>`), so the
ones of a killed agent are removed at the next start (`sweep_cgroups`).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox.artifacts import _OWNED, SCRATCH_PREFIX, pid_alive

ROOT = Path("/sys/fs/cgroup")


def _own_paths() -> dict[str, str]:
    """This process's cgroup per hierarchy: {"" (v2) or controller name (v1): path}."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _v2_root() -> Path | None:
    for root in (ROOT, ROOT / "unified"):
        controllers = root / "cgroup.controllers"
        if controllers.exists() and {"memory", "pids"} <= set(controllers.read_text().split()):
            return root
    return None


@dataclass
class Cgroup:
    memory: Path  # the folder with the memory files (v1: in the memory hierarchy)
    pids: Path
    version: int

    @classmethod
    def create(cls, name: str, memory_bytes: int, max_pids: int) -> tuple[Cgroup | None, str]:
        """A new cgroup with these limits, or (None, why not)."""
        try:
            own = _own_paths()
            v2 = _v2_root()
            if v2 is not None and "" in own:
                parent = v2 / own[""].lstrip("/")
                try:  # works where the parent holds no processes itself (or is the root)
                    (parent / "cgroup.subtree_control").write_text("+memory +pids")
                except OSError:
                    pass
                folder = parent / name
                folder.mkdir()
                group = cls(folder, folder, 2)
                try:
                    (folder / "memory.max").write_text(str(memory_bytes))
                    (folder / "pids.max").write_text(str(max_pids))
                    if (folder / "memory.swap.max").exists():
                        (folder / "memory.swap.max").write_text("0")
                except OSError:
                    group.remove()
                    raise
                return group, ""
            if (ROOT / "memory").is_dir() and (ROOT / "pids").is_dir():
                memory = ROOT / "memory" / own.get("memory", "/").lstrip("/") / name
                pids = ROOT / "pids" / own.get("pids", "/").lstrip("/") / name
                memory.mkdir()
                group = cls(memory, pids, 1)
                try:
                    pids.mkdir()
                    (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
                    if (memory / "memory.memsw.limit_in_bytes").exists():  # no swap beyond it
                        (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                    (pids / "pids.max").write_text(str(max_pids))
                except OSError:
                    group.remove()
                    raise
                return group, ""
            return None, "no cgroup memory and pids controllers are mounted"
        except OSError as exc:
            return None, f"cannot make a cgroup here ({exc.strerror or exc})"

    def procs_files(self) -> list[Path]:
        """Where a process writes its pid to join (every hierarchy of the cgroup)."""
        return sorted({self.memory / "cgroup.procs", self.pids / "cgroup.procs"})

    def oom_kills(self) -> int | None:
        counter = self.memory / ("memory.events" if self.version == 2 else "memory.oom_control")
        try:
            for line in counter.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return None

    def remove(self) -> None:
        """Kill whatever is still in it, then remove it."""
        _kill_and_remove(self.memory)
        if self.pids != self.memory:
            _kill_and_remove(self.pids)


def _kill_and_remove(folder: Path) -> None:
    for _ in range(100):
        try:
            pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
        except OSError:
            return  # already gone
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            folder.rmdir()
            return
        except OSError:
            time.sleep(0.01)  # killed processes still exiting


def sandbox_cgroups() -> list[Path]:
    """The sandbox cgroups below this process's own cgroups (every hierarchy)."""
    try:
        own = _own_paths()
    except OSError:
        return []
    v2 = _v2_root()
    parents = [v2 / own[""].lstrip("/")] if v2 is not None and "" in own else []
    parents += [ROOT / c / own[c].lstrip("/") for c in ("memory", "pids") if c in own]
    return [folder for parent in parents for folder in parent.glob(f"{SCRATCH_PREFIX}*")]


def sweep_cgroups() -> list[str]:
    """Remove the sandbox cgroups whose owning process is gone; their names."""
    removed = []
    for folder in sandbox_cgroups():
        owner = _OWNED.match(folder.name)
        if owner and int(owner.group(1)) != os.getpid() and not pid_alive(int(owner.group(1))):
            _kill_and_remove(folder)
            removed.append(folder.name)
    return removed
