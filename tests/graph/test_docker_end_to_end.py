"""The agent with the Docker sandbox: the iris run, and trials that misbehave inside containers."""

from __future__ import annotations

import csv
import pickle

import pandas as pd
import pytest

from graph.config import parse_config
from nodes.code import code, route_to_coders
from nodes.initialize import initialize
from nodes.optimize import optimize
from nodes.plan import plan
from nodes.verify import verify
from tests.conftest import read_json, run_agent, run_predict

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# A training function that misbehaves on some model families, as generated code might.
MISBEHAVING = """
import os

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_score


def train(config, data, seed=0, budget=None):
    family = config["model"]
    if family == "knn":
        os._exit(3)                      # dies without a word: CRASHED
    if family == "svm":
        while True:                      # never returns: TIMEOUT
            pass
    if family == "mlp":
        hoard = []
        while True:                      # eats memory: MEMORYOUT
            hoard.append(bytearray(256 * 2**20))
            hoard[-1][::4096] = b"x" * len(hoard[-1][::4096])
    if family == "linear":
        raise ValueError("linear models are not supported here")  # CRASHED with a traceback
    model = HistGradientBoostingClassifier(learning_rate=config["hgb:learning_rate"], random_state=seed)
    score = cross_val_score(model, data.X, data.y, cv=3).mean()
    return {"loss": 1.0 - score, "score": score}


def fit(config, data, seed=0):
    return HistGradientBoostingClassifier(random_state=seed).fit(data.X, data.y)


def predict(model, X):
    return model.predict(X)
"""


def _served_accuracy(runs_dir, name: str) -> float:
    """`graph.predict` on the sealed rows with the run's saved model (served in the sandbox
    it was fitted in), scored against the sealed labels."""
    sealed = pickle.loads((runs_dir / name / "sealed" / "test.pkl").read_bytes())
    rows = runs_dir / "rows.csv"
    sealed["X"].to_csv(rows, index=False)
    result = run_predict(runs_dir / name, rows, "-o", runs_dir / "predictions.csv")
    assert result.returncode == 0, result.stderr[-2000:]
    return float((pd.read_csv(runs_dir / "predictions.csv")["prediction"] == sealed["y"]).mean())


def test_iris_end_to_end_in_docker(docker_ready, runs_dir):
    result = run_agent(
        "configs/iris.yaml",
        "--set",
        "optimizer.n_trials=8",
        "--set",
        "sandbox.backend=docker",
        "--set",
        "verify.n_configs=2",
        runs_dir=runs_dir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = read_json(runs_dir / "iris" / "metrics.json")
    assert metrics["test"]["accuracy"] >= 0.9 and metrics["trials"]["finished"] == 8
    assert "sandbox: docker" in result.stderr
    # Predicting with the saved model happens in the sandbox it was fitted in: Docker here.
    assert _served_accuracy(runs_dir, "iris") == pytest.approx(metrics["test"]["accuracy"])


def test_catboost_runs_in_the_image_on_categories_and_gaps(docker_ready, runs_dir):
    # CatBoost is a family only because the image carries it: a run restricted to it, on a
    # slice of adult (categorical columns, '?' gaps), fits and serves inside Docker.
    result = run_agent(
        "configs/adult.yaml",
        *("--set", "sandbox.backend=docker", "--set", "optimizer.families=[catboost]"),
        *("--set", "optimizer.n_trials=3", "--set", "optimizer.cv_folds=3", "--set", "optimizer.walltime=120"),
        *("--set", "dataset.options.limit_train=400", "--set", "dataset.options.limit_test=400"),
        *("--set", "verify.n_configs=1", "--set", "verify.n_samples=50", "--set", "sandbox.cpus=2"),
        runs_dir=runs_dir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = read_json(runs_dir / "adult" / "metrics.json")
    trials = list(csv.DictReader(open(runs_dir / "adult" / "trials.csv")))
    assert {t["config.model"] for t in trials} == {"catboost"} and metrics["trials"]["success"] >= 1
    assert metrics["test"]["accuracy"] > 0.78, metrics["test"]  # the majority class is 0.76
    assert _served_accuracy(runs_dir, "adult") == pytest.approx(metrics["test"]["accuracy"])


@pytest.mark.parametrize("dask", [None, "local"], ids=["threads", "dask"])
def test_misbehaving_trials_get_smac_statuses_and_the_search_goes_on(docker_ready, tmp_path, dask):
    # The same statuses whether the optimizer's workers are threads or Dask worker processes:
    # the limits live in the sandbox.
    families = ["hgb", "linear", "knn", "svm", "mlp"]
    config = parse_config(
        {
            "name": "iris",
            "dataset": {"name": "iris"},
            "optimizer": {
                "n_trials": 14,
                "families": families,
                "facade": "random",
                "dask": dask,
                "workers": 2 if dask else 1,
            },
            "sandbox": {"backend": "docker", "trial_timeout": 3, "memory_mb": 512},
            "verify": {"n_configs": 1, "n_samples": 20},
        }
    ).model_dump(mode="json")
    state = {"config": config, "run_dir": str(tmp_path / "iris")}
    state.update(initialize(state))
    state.update(plan(state), attempts={}, reports={}, components={})
    for send in route_to_coders(state):
        out = code(send.arg)
        state["components"].update(out["components"])
        state["attempts"].update(out["attempts"])
    state.update(verify(state))
    final = tmp_path / "iris" / "code" / "final"
    (final / "train.py").write_text(MISBEHAVING)
    out = optimize(state)
    rows = list(csv.DictReader(open(tmp_path / "iris" / "trials.csv")))
    assert len(rows) == 14, "every trial is recorded, whatever happened to it"
    by_family: dict[str, set] = {}
    for row in rows:
        by_family.setdefault(row["config.model"], set()).add(row["status"])
    assert len(by_family) >= 4, by_family
    expected = {"knn": {"crashed"}, "svm": {"timeout"}, "mlp": {"memoryout"}, "linear": {"crashed"}, "hgb": {"success"}}
    for family, statuses in by_family.items():
        assert statuses == expected[family], (family, statuses, rows)
    assert out["search"]["incumbent"]["model"] == "hgb"
    crashed = [r for r in rows if r["config.model"] == "linear"]
    assert all("linear models are not supported" in r["error"] for r in crashed)
    assert all(r["worker"].startswith("tcp://" if dask else "thread ") for r in rows)
