"""Multi-objective runs through the command line, on real data with small budgets: the
search's front, the rule's pick, deploy's measured costs, and a resume after kill -9."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys

import pytest

from graph.config import parse_config
from tests.conftest import FAST, ROOT, kill_mid_search, read_json, run_agent
from tools.pareto import front, pick, trial_points

pytestmark = pytest.mark.slow

EXTRAS = ["predict_latency", "model_size"]
MULTI = ["--set", "objectives=[accuracy, predict_latency, model_size]", "--set", "optimizer.workers=1"]


def run_module(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def trials_table(run) -> list[dict]:
    """trials.csv with its numbers as numbers (empty cells as None)."""
    rows = []
    for row in csv.DictReader(open(run / "trials.csv")):
        typed = {k: (None if v == "" else v) for k, v in row.items()}
        typed["trial"] = int(row["trial"])
        for name in ["loss", *EXTRAS]:
            typed[name] = None if row[name] == "" else float(row[name])
        rows.append(typed)
    return rows


def test_a_multi_objective_run_deploys_the_point_its_rule_picks(runs_dir):
    rule = "{fastest_within: 0.01}"
    args = ["configs/iris.yaml", "--set", "optimizer.n_trials=10", *MULTI, "--set", f"select={rule}", *FAST]
    result = run_agent(*args, runs_dir=runs_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    run = runs_dir / "iris"

    rows = trials_table(run)
    assert len(rows) == 10
    for row in rows:
        if row["status"] == "success":  # measured in the sandbox, per trial
            assert row["predict_latency"] > 0 and row["model_size"] > 0, row
    # search.json's front is exactly the non-dominated set of the trials table.
    search = read_json(run / "search.json")
    expected = front(trial_points(rows, EXTRAS), EXTRAS)
    assert [p["trial"] for p in search["front"]] == [p["trial"] for p in expected]
    assert search["objectives"] == EXTRAS

    metrics = read_json(run / "metrics.json")
    assert metrics["objectives"] == ["accuracy", *EXTRAS] and metrics["select"] == "fastest_within 0.01"
    config = parse_config(
        {"dataset": {"name": "iris"}, "objectives": metrics["objectives"], "select": {"fastest_within": 0.01}}
    )
    chosen, why = pick(search["front"], EXTRAS, config.rule(), "accuracy")
    assert metrics["chosen"]["trial"] == chosen["trial"] and metrics["chosen"]["why"] == why
    # Deployed alone: the chosen configuration, scored once, its costs measured on the test rows.
    assert not (run / "model" / "ensemble.json").exists() and (run / "model" / "model.pkl").exists()
    assert read_json(run / "model" / "config.json")["config"] == chosen["config"]
    assert metrics["chosen"]["test"]["accuracy"] == metrics["test"]["accuracy"] >= 0.85
    measured = metrics["chosen"]["test_measured"]
    assert measured["predict_latency"] > 0 and measured["model_size"] > 0
    best = min(p["loss"] for p in search["front"])
    assert chosen["loss"] <= best + 0.01 + 1e-9

    report = (run / "report.md").read_text()
    assert "## Front" in report and why in report and (run / "report_front.png").exists()
    assert "  front      " in result.stdout and f"  chosen     trial {chosen['trial']} by" in result.stdout

    # Another point of the front, deployed later without searching again.
    other = next((p for p in search["front"] if p["trial"] != chosen["trial"]), chosen)
    redeployed = run_module("graph.deploy", str(run), "--trial", str(other["trial"]), "--backend", "process")
    assert redeployed.returncode == 0, redeployed.stderr[-3000:]
    metrics = read_json(run / "metrics.json")
    assert metrics["chosen"]["trial"] == other["trial"] and metrics["select"] == "hand"
    assert read_json(run / "model" / "config.json")["config"] == other["config"]
    off_front = max(row["trial"] for row in rows) + 1
    refused = run_module("graph.deploy", str(run), "--trial", str(off_front))
    assert refused.returncode == 2 and f"--trial {off_front}: not on the run's front" in refused.stderr


def test_a_killed_multi_objective_run_resumes_with_every_objective(runs_dir):
    """kill -9 mid-search; --resume keeps every objective of the trials finished before."""
    args = ["configs/iris.yaml", "--set", "optimizer.n_trials=10", *MULTI, "--set", "select=knee", *FAST]
    before = [json.loads(line) for line in kill_mid_search(args, runs_dir, "iris", after_trials=4)]
    assert 4 <= len(before) < 10
    assert all(r["predict_latency"] is not None for r in before if r["status"] == "success")

    result = run_agent(*args, "--resume", runs_dir=runs_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    run = runs_dir / "iris"
    rows = trials_table(run)
    assert len(rows) == 10
    # One worker: the run history keeps the trials in the order they finished.
    for old, new in zip(before, rows, strict=False):
        assert (old["loss"], old["predict_latency"], old["model_size"]) == (
            new["loss"],
            new["predict_latency"],
            new["model_size"],
        )
    metrics = read_json(run / "metrics.json")
    assert metrics["select"] == "knee" and metrics["trials"]["finished"] == 10
    assert [p["trial"] for p in metrics["front"]] == [p["trial"] for p in front(trial_points(rows, EXTRAS), EXTRAS)]


def assert_every_objective_measured(run) -> dict:
    """Each successful trial carries every objective, search.json's front is the trials'
    non-dominated set, and deploy measured the chosen model on the test rows."""
    rows = trials_table(run)
    successes = [row for row in rows if row["status"] == "success"]
    assert successes, rows
    for row in successes:
        assert row["predict_latency"] > 0 and row["model_size"] > 0, row
    search = read_json(run / "search.json")
    assert [p["trial"] for p in search["front"]] == [p["trial"] for p in front(trial_points(rows, EXTRAS), EXTRAS)]
    metrics = read_json(run / "metrics.json")
    measured = metrics["chosen"]["test_measured"]
    assert measured["predict_latency"] > 0 and measured["model_size"] > 0
    return {"rows": rows, "metrics": metrics}


def test_a_multi_objective_search_on_dask_keeps_every_objective(runs_dir):
    dask = ["--set", "optimizer.dask=local", "--set", "optimizer.workers=2"]
    args = ["configs/iris.yaml", "--set", "optimizer.n_trials=8", *MULTI[:2], *dask, "--set", "select=knee", *FAST]
    result = run_agent(*args, runs_dir=runs_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = assert_every_objective_measured(runs_dir / "iris")
    assert len(seen["rows"]) == 8 and all(row["worker"].startswith("tcp://") for row in seen["rows"])
    assert seen["metrics"]["select"] == "knee" and seen["metrics"]["test"]["accuracy"] >= 0.85


TINY = [*FAST, "--set", "optimizer.walltime=45", "--set", "verify.subsample=120", "--set", "optimizer.n_trials=4"]
EVERY_TEMPLATE = {  # each template's training function measures the extra objectives
    "text": ("mini_newsgroups", "gensim", ["--set", "optimizer.cv_folds=3"]),
    "timeseries": ("sunspots", "statsmodels", []),
    "image": (
        "mnist",
        "torch",
        ["--set", "dataset.options.limit_train=400", "--set", "dataset.options.limit_test=200"]
        + ["--set", "optimizer.families=[classical]", "--set", "sandbox.cpus=1"],
    ),
}


@pytest.mark.parametrize("template", list(EVERY_TEMPLATE))
def test_every_template_measures_the_extra_objectives(runs_dir, template):
    config, needs, overrides = EVERY_TEMPLATE[template]
    if importlib.util.find_spec(needs) is None:
        pytest.skip(f"{needs} is not installed")
    objectives = "objectives=[mae, predict_latency, model_size]" if template == "timeseries" else MULTI[1]
    args = [f"configs/{config}.yaml", "--set", objectives, *TINY, *overrides]
    result = run_agent(*args, runs_dir=runs_dir, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = assert_every_objective_measured(runs_dir / config)
    plan = read_json(runs_dir / config / "plan.json")
    assert plan["template"] == template
    assert plan["facade"] != "multi_fidelity", "a front's models are compared at full fidelity"
    metrics = seen["metrics"]
    assert metrics["chosen"]["test"][metrics["metric"]] == metrics["test"][metrics["metric"]]
