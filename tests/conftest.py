"""Shared fixtures: small real runs of the agent, through its own command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Fast settings for end-to-end runs: the process sandbox unless a test asks for Docker.
FAST = ["--set", "sandbox.backend=process", "--set", "verify.n_configs=2", "--set", "verify.n_samples=50"]


def run_agent(*args: str, runs_dir: Path, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m graph.run ...` in a child process, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "graph.run", *args, "--runs-dir", str(runs_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


# Where a kill at a node boundary strikes: the moment each node's last event is logged
# (tests/graph/test_end_to_end.py runs each once, bench/kill_resume.py in a loop).
NODE_BOUNDARIES = [
    ("initialize", "data sealed and profiled"),
    ("plan", "planned"),
    ("code", "wrote train"),
    ("verify", "all components verified"),
    ("optimize", "search finished"),
    ("deploy", "model refit and scored on the sealed test split"),
]


def start_agent(args: list[str], runs_dir: Path, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """`python -m graph.run ARGS` in the background, as a user would start it."""
    return subprocess.Popen(
        [sys.executable, "-m", "graph.run", *args, "--runs-dir", str(runs_dir)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


def wait_for_trials(proc: subprocess.Popen, runs_dir: Path, run: str, trials: int, ended: str) -> list[str]:
    """Wait (at most 300 s) until the running `proc` has logged `trials` trials; fails with
    `ended` if it stops first. Returns the trial lines logged so far."""
    log = runs_dir / run / "trials.jsonl"
    deadline = time.time() + 300
    while not (log.exists() and len(log.read_text().splitlines()) >= trials):
        assert proc.poll() is None and time.time() < deadline, ended
        time.sleep(0.1)
    return [line for line in log.read_text().splitlines() if line.strip()]


def kill_mid_search(args: list[str], runs_dir: Path, run: str, after_trials: int = 5) -> list[str]:
    """Start `python -m graph.run ARGS`, kill -9 it once `after_trials` trials are logged;
    returns the trial lines written before the kill."""
    proc = start_agent(args, runs_dir)
    wait_for_trials(proc, runs_dir, run, after_trials, "the run ended before it could be killed")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    trials = runs_dir / run / "trials.jsonl"
    return [line for line in trials.read_text().splitlines() if line.strip()]


def kill_after_event(args: list[str], runs_dir: Path, run: str, node: str, message: str) -> None:
    """Start `python -m graph.run ARGS` and kill -9 it the moment its event log shows `node`'s
    `message`: a kill at a node boundary, where a checkpoint may or may not be committed yet."""
    proc = start_agent(args, runs_dir)
    events = runs_dir / run / "events.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if events.exists() and any(
            f'"node": "{node}"' in line and f'"message": "{message}"' in line
            for line in events.read_text().splitlines()
        ):
            break
        time.sleep(0.01)
    if proc.poll() is None:  # a run that already ended is left for the resume to judge
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def run_predict(run: Path, data: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m graph.predict RUN DATA ...` in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "graph.predict", str(run), str(data), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def assert_model_saved(run: Path) -> list[Path]:
    """The deployed model's files: model/model.pkl, or an ensemble's description and members."""
    ensemble = run / "model" / "ensemble.json"
    if not ensemble.exists():
        assert (run / "model" / "model.pkl").exists(), "no model.pkl and no ensemble.json in model/"
        return [run / "model" / "model.pkl"]
    members = read_json(ensemble)["members"]
    assert len(members) >= 2 and abs(sum(m["weight"] for m in members) - 1) < 1e-9
    paths = [run / "model" / m["artifact"] for m in members]
    assert all(p.exists() for p in paths), paths
    return paths


@pytest.fixture(scope="session")
def docker_ready() -> None:
    """A Docker engine and the sandbox image, or a skip; in CI (CI=true) a failure instead,
    so the Docker tests can never pass by being skipped there."""
    from sandbox.container import docker_unavailable_reason

    reason = docker_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"the Docker tests must run in CI, but {reason}")
    pytest.skip(reason)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


# Small real objects, shared by the unit tests of tools/ and nodes/.


@pytest.fixture
def small_space():
    """A real configuration space with a conditional hyperparameter, as generated code builds."""
    from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float, Integer

    space = ConfigurationSpace(seed=0)
    model = Categorical("model", ["ridge", "tree"], default="ridge")
    alpha = Float("ridge:alpha", (1e-4, 10.0), log=True, default=1.0)
    depth = Integer("tree:max_depth", (1, 8), default=3)
    space.add(model, alpha, depth, EqualsCondition(alpha, model, "ridge"), EqualsCondition(depth, model, "tree"))
    return space


@pytest.fixture
def scenario_spec():
    from tools.scenario import ScenarioSpec

    return ScenarioSpec(facade="hpo", n_trials=6, walltime=60, seed=0)


@pytest.fixture
def cv_problem():
    """Iris as a training split: features as a DataFrame, labels as an array."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    return bunch.data, bunch.target.to_numpy()


@pytest.fixture
def iris_config():
    from graph.config import parse_config

    return parse_config({"name": "iris", "dataset": {"name": "iris"}, "optimizer": {"n_trials": 4}})
