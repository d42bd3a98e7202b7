"""Each node on its own, on real data, with the process sandbox."""

from __future__ import annotations

import csv
import pickle

import numpy as np
import pytest
from langgraph.types import Send

from graph.config import ConfigError, parse_config
from nodes.code import code, route_to_coders
from nodes.initialize import initialize
from nodes.optimize import optimize
from nodes.plan import builtin_plan, plan
from nodes.verify import VerificationReport, route_after_verify, static_check, verify
from sandbox import open_sandbox
from tools.templates import get as get_template

BROKEN_SPACE = """
from ConfigSpace import ConfigurationSpace, Categorical, Float, ParentCondition

def get_configspace():
    cs = ConfigurationSpace()
    model = Categorical("model", ["a", "b"])
    c = Float("C", (0.1, 10.0))
    cs.add(model, c, ParentCondition(c, model, "a"))
    return cs
"""


def _config(**overrides) -> dict:
    data = {
        "name": "iris",
        "dataset": {"name": "iris"},
        "sandbox": {"backend": "process"},
        "optimizer": {"n_trials": 4},
        "verify": {"n_configs": 2, "n_samples": 30},
        "coder": {"max_code_attempts": 2},
    }
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value}
    return parse_config(data).model_dump(mode="json")


@pytest.fixture
def initialized(tmp_path) -> dict:
    state = {"config": _config(), "run_dir": str(tmp_path / "iris")}
    return {**state, **initialize(state)}


def test_initialize_seals_a_stratified_test_split(initialized, tmp_path):
    run = tmp_path / "iris"
    train = pickle.loads((run / "sandbox_data" / "train.pkl").read_bytes())
    test = pickle.loads((run / "sealed" / "test.pkl").read_bytes())
    assert len(train["y"]) == 120 and len(test["y"]) == 30
    assert set(train["X"].index).isdisjoint(test["X"].index)
    assert np.unique(test["y"], return_counts=True)[1].tolist() == [10, 10, 10]  # stratified
    assert "y" not in pickle.loads((run / "sandbox_data" / "verify_features.pkl").read_bytes())
    # verification asks whether the code runs, on two folds; the search uses the configured five
    verify_info = pickle.loads((run / "sandbox_data" / "verify.pkl").read_bytes())["info"]
    assert verify_info["cv_folds"] == 2 and train["info"]["cv_folds"] == 5
    profile = initialized["profile"]
    assert profile["task"] == "classification" and profile["metric"] == "accuracy"
    assert profile["n_rows"] == 120 and profile["n_classes"] == 3
    assert profile["numeric_columns"] and not profile["categorical_columns"]
    assert initialized["backend"] == "process"
    assert (run / "config.yaml").exists() and (run / "profile.json").exists()


def test_plan_drops_quadratic_families_on_large_data():
    tabular = get_template("tabular")
    small, _ = tabular.choose_families({"n_rows": 500})
    large, why = tabular.choose_families({"n_rows": 50_000})
    assert {"svm", "knn"} <= set(small)
    assert not {"svm", "knn"} & set(large) and "hgb" in large
    assert "rows squared" in why


def test_plan_follows_the_config(initialized):
    decided = plan(initialized)["plan"]
    assert decided["facade"] == "hpo" and decided["scenario"]["n_trials"] == 4
    assert decided["author"] == "builtin" and decided["rationale"]
    config = parse_config({**initialized["config"], "optimizer": {"families": ["linear", "knn"], "facade": "random"}})
    restricted = builtin_plan(initialized["profile"], config)
    assert restricted["families"] == ["linear", "knn"] and restricted["facade"] == "random"
    image_only = parse_config({**initialized["config"], "optimizer": {"families": ["cnn"]}})
    with pytest.raises(ConfigError, match="optimizer.families: none of cnn .* choose from hgb"):
        builtin_plan(initialized["profile"], image_only)


def test_code_fans_out_and_keeps_every_attempt(initialized, tmp_path):
    state = {**initialized, **plan(initialized), "attempts": {}, "reports": {}}
    sends = route_to_coders(state)
    assert [s.arg["component"] for s in sends] == ["configspace", "train", "scenario"]
    assert all(isinstance(s, Send) and s.node == "code" for s in sends)
    first = code(sends[1].arg)
    assert first["attempts"] == {"train": 1}
    again = code({**sends[1].arg, "attempts": {"train": 1}})
    assert again["components"]["train"]["path"] == "attempts/train-2.py"
    assert (tmp_path / "iris" / "code" / "attempts" / "train-1.py").exists()
    assert (tmp_path / "iris" / "code" / "attempts" / "train-2.py").exists()


def _coded(state: dict) -> dict:
    state = {**state, **plan(state), "attempts": {}, "reports": {}, "components": {}}
    for send in route_to_coders(state):
        out = code(send.arg)
        state["components"].update(out["components"])
        state["attempts"].update(out["attempts"])
    return state


def test_verify_passes_the_builtin_components(initialized, tmp_path):
    state = _coded(initialized)
    out = verify(state)
    assert all(r["status"] == "passed" for r in out["reports"].values()), out["reports"]
    assert route_after_verify({**state, **out}) == "optimize"
    final = tmp_path / "iris" / "code" / "final"
    assert {p.name for p in final.iterdir()} == {"configspace.py", "train.py", "scenario.py", "configspace.json"}
    checks = [c["name"] for c in out["reports"]["train"]["checks"]]
    assert "train on default configuration" in checks and "fit and predict" in checks
    # the built-in templates are verified on their default only: the search has the time
    assert not [c for c in checks if c.startswith("train on random")]


def test_verify_sends_a_broken_space_back_to_its_coder(initialized, tmp_path):
    state = _coded(initialized)
    (tmp_path / "iris" / "code" / "attempts" / "configspace-1.py").write_text(BROKEN_SPACE)
    out = verify(state)
    space, train = out["reports"]["configspace"], out["reports"]["train"]
    assert space["status"] == "failed" and "ParentCondition" in space["error"]
    assert train["status"] == "skipped"
    route = route_after_verify({**state, **out})
    assert [s.arg["component"] for s in route] == ["configspace"]
    assert "ParentCondition" in route[0].arg["reports"]["configspace"]["error"]
    assert not out.get("failure")
    # Attempts used up: the run stops with the reason instead of looping.
    spent = {**state, "attempts": {**state["attempts"], "configspace": 2}}
    out = verify(spent)
    assert "configspace component failed verification 2 times" in out["failure"]
    assert route_after_verify({**spent, **out}) == "__end__"


def test_verify_catches_a_train_that_breaks_its_contract(initialized, tmp_path):
    state = _coded(initialized)
    (tmp_path / "iris" / "code" / "attempts" / "train-1.py").write_text(
        "def train(config, data, seed=0, budget=None):\n    return 0.5\n"
        "def fit(config, data, seed=0):\n    return None\n"
        "def predict(model, X):\n    return [0] * len(X)\n"
    )
    out = verify(state)
    assert out["reports"]["train"]["status"] == "failed"
    assert "must return a dict with a 'loss' key" in out["reports"]["train"]["error"]


def test_static_check_reads_signatures_without_running_code():
    report = VerificationReport("train", 1)
    static_check("train", "import os\nos.system('false')\ndef train(cfg, data):\n    pass\n", report)
    errors = report.error()
    assert "must start with parameters config, data" in errors
    assert "lacks parameter(s) seed, budget" in errors
    assert "no top-level function fit()" in errors
    report = VerificationReport("configspace", 1)
    static_check("configspace", "def get_configspace(:\n", report)
    assert "syntax error at line 1" in report.error()


def test_optimize_stops_a_trial_at_the_search_walltime(tmp_path):
    """The walltime bounds the search even when one trial would run far longer."""
    import time

    config = _config(optimizer={"n_trials": 4, "walltime": 3, "workers": 1}, sandbox={"trial_timeout": 120})
    state = {"config": config, "run_dir": str(tmp_path / "iris")}
    state = _coded({**state, **initialize(state)})
    state.update(verify(state))
    (tmp_path / "iris" / "code" / "final" / "train.py").write_text(
        "import time\n\ndef train(config, data, seed=0, budget=None):\n    time.sleep(600)\n"
    )
    started = time.monotonic()
    search = optimize(state)["search"]
    assert time.monotonic() - started < 30, "the trial was given the 120 s trial timeout"
    assert search["stopped_by"] == "walltime" and search["status_counts"] == {"timeout": 1}
    rows = list(csv.DictReader(open(tmp_path / "iris" / "trials.csv")))
    assert "stopped at the search walltime (3 s of 3 s)" in rows[0]["error"]


def test_the_search_runs_in_the_sandboxes_verification_started(tmp_path, monkeypatch):
    """One start per search worker in all: verification runs in one of them and hands it on."""
    import sandbox.warm

    started = []

    def counted(**recipe):
        started.append(recipe["name"])
        return open_sandbox(**recipe)

    monkeypatch.setattr(sandbox.warm, "open_sandbox", counted)
    config = _config(optimizer={"n_trials": 6, "walltime": 30, "workers": 2})
    state = {"config": config, "run_dir": str(tmp_path / "iris")}
    state = _coded({**state, **initialize(state)})
    state.update(verify(state))
    search = optimize(state)["search"]
    assert search["status_counts"].get("success", 0) >= 4 and search["workers"] == ["thread 0", "thread 1"]
    assert sorted(started) == ["iris-worker-0", "iris-worker-1"]


def test_verify_rejects_a_train_without_a_requested_objective(tmp_path):
    config = parse_config(
        {**_config(), "objectives": ["accuracy", "predict_latency", "model_size"], "select": "knee"}
    ).model_dump(mode="json")
    state = {"config": config, "run_dir": str(tmp_path / "iris")}
    state = _coded({**state, **initialize(state)})
    out = verify(state)  # the built-in template measures both inside the sandbox
    assert out["reports"]["train"]["status"] == "passed", out["reports"]["train"]
    (tmp_path / "iris" / "code" / "attempts" / "train-1.py").write_text(
        "def train(config, data, seed=0, budget=None):\n    return {'loss': 0.1, 'predict_latency': 1.0}\n"
        "def fit(config, data, seed=0):\n    return None\n"
        "def predict(model, X):\n    return [0] * len(X)\n"
    )
    out = verify(state)
    assert out["reports"]["train"]["status"] == "failed"
    assert "train() did not return 'model_size', an objective of this run" in out["reports"]["train"]["error"]
