"""What this process may use of the machine: cores and memory, as its limits say.

A container or a CI job often gets fewer cores than the machine has (CPU affinity, a cgroup
CPU quota) and less memory (a cgroup limit): count what this process may use, not what
the hardware has.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def _cgroup_value(name: str) -> str | None:
    try:
        return (CGROUP / name).read_text().strip()
    except OSError:
        return None


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = (_cgroup_value("cpu.max") or "max").split()
    if quota and quota[0] != "max" and len(quota) == 2:
        cores = min(cores, max(1, math.floor(int(quota[0]) / int(quota[1]))))
    return max(1, cores)


def usable_memory_mb() -> int:
    """Memory this process may use: what the machine has available, capped by a cgroup limit."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) // 1024
    except OSError:
        pass
    limit = _cgroup_value("memory.max")
    if limit and limit != "max":
        cap = int(limit) // (1024 * 1024)
        available = cap if available is None else min(available, cap)
    return available or 4096
