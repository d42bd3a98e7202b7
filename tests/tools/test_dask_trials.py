"""Trials on Dask (optimizer.dask): a real LocalCluster, real sandboxes, a real search."""

from __future__ import annotations

import csv
import pickle
import socket
import textwrap
import time
from pathlib import Path

import pytest
from sklearn.datasets import load_iris

from sandbox import Limits, Workspace
from tests.conftest import FAST, kill_mid_search, read_json, run_agent
from tools.dask_trials import DaskError, DaskTrials

DASK = ["--set", "optimizer.dask=local", "--set", "optimizer.workers=2"]


def sandbox_processes(folder: Path) -> list[int]:
    """Sandbox processes still alive that serve a run folder, as pids of their own PID
    namespace: the folder is in the command line of an unisolated worker, or in the mount
    table of a namespaced one (whose command line names only /code)."""
    alive = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            if "sandbox/worker.py" not in cmdline:
                continue
            if str(folder) not in cmdline and str(folder) not in (proc / "mountinfo").read_text():
                continue
            nspid = [line for line in (proc / "status").read_text().splitlines() if line.startswith("NSpid:")]
        except OSError:
            continue
        alive.append(int(nspid[0].split()[-1]))
    return alive


def no_sandbox_left(folder: Path, seconds: float = 10) -> bool:
    """No sandbox process for the folder, allowing a trial child a moment to exit."""
    deadline = time.monotonic() + seconds
    while sandbox_processes(folder):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_each_dask_worker_keeps_one_warm_sandbox(tmp_path):
    code, data = tmp_path / "code", tmp_path / "data"
    code.mkdir()
    data.mkdir()
    # Each trial runs in a child forked by the sandbox's warm worker: its parent is the worker.
    (code / "train.py").write_text(
        textwrap.dedent("""
        import os

        def train(config, data, seed=0, budget=None):
            return {"loss": 0.0, "warm_worker": os.getppid()}
    """)
    )
    X, y = load_iris(return_X_y=True)
    with open(data / "train.pkl", "wb") as fh:
        pickle.dump({"X": X, "y": y, "info": {}}, fh)
    recipe = {
        "backend": "process",
        "workspace": Workspace(code=code, data=data),
        "limits": Limits(timeout=30, memory_mb=1024),
        "name": "warm-test",
    }
    request = {"module": "train.py", "data": "train.pkl", "config": {}, "seed": 0, "budget": None}

    with DaskTrials("local", 1, recipe) as trials:
        outcomes = [trials.evaluate(request, timeout=30) for _ in range(3)]
        assert all(o.ok for o in outcomes), [o.describe() for o in outcomes]
        assert len({o.result["warm_worker"] for o in outcomes}) == 1
        assert outcomes[0].where.startswith("tcp://127.0.0.1:")
        assert outcomes[0].result["warm_worker"] in sandbox_processes(code)
    assert no_sandbox_left(code)  # closed with the search


@pytest.mark.slow
def test_search_on_a_local_dask_cluster_survives_a_kill(runs_dir):
    args = ["configs/iris.yaml", *FAST, *DASK, "--set", "optimizer.n_trials=14"]
    before_kill = kill_mid_search(args, runs_dir, "iris", after_trials=4)
    assert len(before_kill) >= 4

    result = run_agent(*args, "--resume", runs_dir=runs_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    run = runs_dir / "iris"
    rows = list(csv.DictReader(open(run / "trials.csv")))
    assert len(rows) == 14
    assert all(row["worker"].startswith("tcp://127.0.0.1:") for row in rows)
    # Two Dask workers before the kill and two new ones after it.
    assert len({row["worker"] for row in rows}) >= 3
    assert read_json(run / "metrics.json")["test"]["accuracy"] >= 0.9
    workers = sorted({row["worker"] for row in rows})
    assert f"- Run by {len(workers)} optimizer worker(s): {', '.join(workers)}." in (run / "report.md").read_text()
    assert no_sandbox_left(run)


def test_an_unreachable_dask_scheduler_stops_before_the_run_starts(runs_dir):
    result = run_agent(
        "configs/iris.yaml", *FAST, "--set", "optimizer.dask=tcp://127.0.0.1:9", runs_dir=runs_dir, timeout=120
    )
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith("error: optimizer.dask: cannot reach the Dask scheduler at tcp://127.0.0.1:9: ")
    assert "\n" not in line and not runs_dir.exists()


def test_workers_that_cannot_see_the_run_folder_stop_the_search_in_one_line(tmp_path):
    # As on a worker machine without the shared filesystem: every trial would crash.
    missing = tmp_path / "elsewhere" / "run"
    recipe = {
        "backend": "process",
        "workspace": Workspace(code=missing / "code", data=missing / "sandbox_data"),
        "limits": Limits(timeout=30, memory_mb=1024),
        "name": "blind-test",
    }
    with pytest.raises(DaskError) as caught, DaskTrials("local", 1, recipe):
        pass
    message = str(caught.value)
    assert message.startswith("optimizer.dask: the Dask worker(s) tcp://127.0.0.1:")
    assert f"cannot see the run folder {missing}; give every worker" in message and "\n" not in message


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scheduler(port: int):
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=port, dashboard_address=None
    )


def test_a_scheduler_without_workers_stops_the_search_in_one_line(tmp_path):
    from distributed import LocalCluster

    recipe = {
        "backend": "process",
        "workspace": Workspace(code=tmp_path, data=tmp_path),
        "limits": Limits(timeout=30, memory_mb=1024),
        "name": "idle-test",
    }
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as idle:
        with pytest.raises(DaskError) as caught, DaskTrials(idle.scheduler_address, 1, recipe):
            pass
    assert str(caught.value) == (
        f"optimizer.dask: the Dask scheduler at {idle.scheduler_address} has no workers; "
        "start some (dask worker ADDRESS) and run again"
    )


@pytest.mark.slow
def test_search_on_a_running_scheduler_and_a_resume_after_it_went_away(runs_dir):
    # The user's own scheduler (here started by the test) serves the search; it goes away
    # with the run killed mid-search; --resume says so in one line, then continues once it is back.
    port = free_port()
    args = [
        "configs/iris.yaml",
        *FAST,
        "--set",
        f"optimizer.dask=tcp://127.0.0.1:{port}",
        "--set",
        "optimizer.workers=2",
        "--set",
        "optimizer.n_trials=12",
    ]
    with scheduler(port) as cluster:
        workers = set(cluster.scheduler_info["workers"])
        kill_mid_search(args, runs_dir, "iris", after_trials=3)
    gone = run_agent(*args, "--resume", runs_dir=runs_dir, timeout=120)
    assert gone.returncode != 0
    failed, hint = gone.stderr.strip().splitlines()[-2:]
    assert failed.startswith(f"run failed: optimizer.dask: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}: ")
    assert hint == "fix the cause, then continue with --resume" and "Traceback" not in gone.stderr
    with scheduler(port) as cluster:
        back = run_agent(*args, "--resume", runs_dir=runs_dir)
        workers |= set(cluster.scheduler_info["workers"])
    assert back.returncode == 0, back.stderr[-3000:]
    rows = list(csv.DictReader(open(runs_dir / "iris" / "trials.csv")))
    assert len(rows) == 12 and {row["worker"] for row in rows} <= workers
