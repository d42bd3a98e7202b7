"""Trials on Dask workers (DESIGN.md, principle 7): a LocalCluster on this machine, or the
workers of a Dask scheduler that is already running.

SMAC's own Dask runner is not used: the search asks and tells trial by trial so that the
sandbox decides each trial's status (tools/smac_tool.py). Each trial is submitted to Dask
instead, and the Dask worker that picks it up runs it in a warm sandbox it keeps for the
run (principle 4), started on its first trial and closed when the search ends.

The sandbox reads the run's code and training data by path, so a worker on another machine
needs the project installed, the run folder at the same path (a shared filesystem) and, for
the Docker backend, the sandbox image.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from sandbox import Sandbox, open_sandbox
from sandbox.base import CallOutcome
from tools.errors import first_line

log = logging.getLogger(__name__)

LOCAL = "local"
CONNECT_SECONDS = 10

# In each Dask worker process: (run, thread) -> its warm sandbox. A worker with several
# threads runs several trials at once, each thread in a sandbox of its own; a shared
# scheduler may serve several runs, told apart by their code folders.
_warm: dict[tuple[str, int], Sandbox] = {}
_warm_lock = threading.Lock()


class DaskError(RuntimeError):
    """Dask cannot run this search's trials; the message is one line that says why."""


def _run_key(recipe: dict) -> str:
    return str(recipe["workspace"].code)


def run_trial(recipe: dict, request: dict, timeout: float) -> tuple[CallOutcome, str]:
    """On a Dask worker: one trial in this thread's warm sandbox for the run, and where it ran."""
    from distributed import get_worker

    worker = get_worker()
    key = (_run_key(recipe), threading.get_ident())
    with _warm_lock:
        sandbox = _warm.get(key)
    if sandbox is None:  # this thread's first trial of the run
        sandbox = open_sandbox(**{**recipe, "name": f"{recipe['name']}-dask-{worker.name}"})
        with _warm_lock:
            _warm[key] = sandbox
    return sandbox.call("train", timeout=timeout, **request), worker.address


def close_sandboxes(recipe: dict) -> int:
    """On a Dask worker: close the run's warm sandboxes; how many there were."""
    with _warm_lock:
        mine = [key for key in _warm if key[0] == _run_key(recipe)]
        sandboxes = [_warm.pop(key) for key in mine]
    for sandbox in sandboxes:
        sandbox.close()
    return len(sandboxes)


def connect(address: str, workers: int):
    """(client, cluster or None): a LocalCluster of `workers` single-threaded processes for
    'local', else a client of the scheduler at `address`. Raises DaskError."""
    from distributed import Client, LocalCluster

    if address == LOCAL:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
        )
        return Client(cluster), cluster
    try:
        return Client(address, timeout=CONNECT_SECONDS), None
    except (OSError, TimeoutError) as exc:
        raise DaskError(f"optimizer.dask: cannot reach the Dask scheduler at {address}: {first_line(exc)}") from None


class DaskTrials:
    """Runs trials on Dask; a context manager that leaves no sandbox or cluster behind."""

    def __init__(self, address: str, workers: int, recipe: dict):
        self.address, self.workers, self.recipe = address, workers, recipe
        self.client = self.cluster = None

    def __enter__(self) -> DaskTrials:
        self.client, self.cluster = connect(self.address, self.workers)
        # A worker elsewhere without the run folder would crash every trial it takes; with no
        # worker at all, the first trial would wait forever.
        folders = [str(self.recipe["workspace"].code), str(self.recipe["workspace"].data)]
        sight = self.client.run(_sees, folders)
        if not sight:
            self._close()
            raise DaskError(
                f"optimizer.dask: the Dask scheduler at {self.address} has no workers; "
                "start some (dask worker ADDRESS) and run again"
            )
        blind = sorted(address for address, sees in sight.items() if not sees)
        if blind:
            self._close()
            raise DaskError(
                f"optimizer.dask: the Dask worker(s) {', '.join(blind)} cannot see the run folder "
                f"{Path(folders[0]).parent}; give every worker the run folder at the same path"
            )
        log.info(
            "optimize: trials on Dask (%s), %d workers", self.address, len(self.client.scheduler_info()["workers"])
        )
        return self

    def evaluate(self, request: dict, timeout: float) -> CallOutcome:
        future = self.client.submit(run_trial, self.recipe, request, timeout, pure=False)
        try:
            outcome, where = future.result()
        except Exception as exc:  # noqa: BLE001 - a lost worker is one crashed trial, not a failed search
            return CallOutcome("crashed", error=f"the Dask worker running the trial failed: {first_line(exc)}")
        outcome.where = where
        return outcome

    def __exit__(self, *exc: object) -> None:
        try:
            self.client.run(close_sandboxes, self.recipe)
        finally:
            self._close()

    def _close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _sees(folders: list[str]) -> bool:
    """On a Dask worker: are these folders there?"""
    return all(os.path.isdir(folder) for folder in folders)
