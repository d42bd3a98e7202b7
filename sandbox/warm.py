"""Sandboxes started before they are needed, and handed on from one node to the next.

A sandbox's start is its worker importing numpy, pandas, SciPy and scikit-learn: about 2 s
of one core. A run started one for verification, closed it, then started one per search
worker, each time while nothing else ran: at 60 s of walltime that was about 4 s of the
run's set-up before its first trial (bench/automl_benchmark.md, "Sandboxes started ahead").
Verification now starts the search's sandboxes all at once, runs in one of them and gives it
back; the search takes them all. Any left over are closed once the search has its own, when
the run ends, or when the process exits.

Handing a sandbox on keeps what separates calls: every call runs in a child of the worker
that is killed, with every process it started, when it answers (sandbox/worker.py), so a
later call sees nothing of an earlier one but the worker's own imports, exactly as trials
of one search worker already do. Sandboxes are only ever handed on within one run (the
recipe names the run's folders).
"""

from __future__ import annotations

import atexit
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from sandbox import Sandbox, open_sandbox

log = logging.getLogger("automl")


def _key(recipe: dict) -> tuple:
    """What makes two sandboxes interchangeable: backend, folders and limits. Not the name
    (a label for logs) and not the default call timeout (each taker sets its own)."""
    return (recipe["backend"], repr(recipe["workspace"]), repr(replace(recipe["limits"], timeout=0.0)))


class WarmPool:
    """Started (or starting) sandboxes, by recipe; `take` one, `give_back` it when done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple, list[Future]] = {}
        self._starter = ThreadPoolExecutor(4, thread_name_prefix="sandbox-start")

    def prestart(self, recipe: dict, count: int) -> None:
        """Start sandboxes of `recipe` in the background until `count` are idle or starting.
        Idle sandboxes of other recipes (another run's) are closed: the pool holds one run's."""
        key = _key(recipe)
        with self._lock:
            others = [f for k, idle in self._idle.items() if k != key for f in idle]
            self._idle = {key: self._idle.get(key, [])}
            idle = self._idle[key]
            for number in range(len(idle), count):
                idle.append(self._starter.submit(open_sandbox, **{**recipe, "name": f"{recipe['name']}-{number}"}))
        _close_when_started(others)

    def take(self, recipe: dict) -> Sandbox:
        """A started sandbox of `recipe`: one from the pool (waiting for its start) if there is
        one, else a new one. The caller owns it: close it or give it back."""
        while True:
            with self._lock:
                idle = self._idle.get(_key(recipe)) or []
                future = idle.pop(0) if idle else None
            if future is None:
                return open_sandbox(**recipe)
            try:
                sandbox = future.result()
            except Exception as exc:  # noqa: BLE001 - a fresh start below says what is wrong
                log.debug("a sandbox started ahead failed: %s", exc)
                continue
            if sandbox.alive():
                sandbox.limits = replace(sandbox.limits, timeout=recipe["limits"].timeout)
                return sandbox
            sandbox.close()

    def give_back(self, recipe: dict, sandbox: Sandbox) -> None:
        """Keep `sandbox` for the next taker of `recipe` (closed instead if its worker died)."""
        if not sandbox.alive():
            sandbox.close()
            return
        done: Future = Future()
        done.set_result(sandbox)
        with self._lock:
            self._idle.setdefault(_key(recipe), []).append(done)

    def close_idle(self) -> None:
        """Close every sandbox nobody has taken (those still starting, once started)."""
        with self._lock:
            futures = [f for idle in self._idle.values() for f in idle]
            self._idle.clear()
        _close_when_started(futures)


def _close_when_started(futures: list[Future]) -> None:
    def close(future: Future) -> None:
        if future.exception() is None:
            future.result().close()

    for future in futures:
        future.add_done_callback(close)


POOL = WarmPool()
atexit.register(POOL.close_idle)
