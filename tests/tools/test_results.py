"""The host checks what the sandbox returns: a hostile or careless result crashes its trial only."""

from __future__ import annotations

import pytest

from sandbox.base import CallOutcome
from tools.results import train_result_problem
from tools.scenario import ScenarioSpec, hold_to_budget
from tools.smac_tool import SmacSearch


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        ({"loss": 0.1, "score": 0.9}, None),
        ({"loss": 0, "score": None}, None),
        ({"loss": float("-inf")}, "unusable loss -inf"),
        ({"loss": -1e308}, "unusable loss -1e+308"),
        ({"loss": float("nan")}, "unusable loss nan"),
        ({"loss": 1e300}, "unusable loss 1e+300"),
        ({"loss": "0.1"}, "unusable loss '0.1'"),
        ({"loss": True}, "unusable loss True"),
        ({"loss": 0.1, "score": [0.9, 0.8, 0.95]}, "unusable score [0.9, 0.8, 0.95]"),
        ({"loss": 0.1, "score": "x" * 500}, "unusable score 'xxxx"),
        ({"score": 0.9}, "must return a dict with a 'loss' key"),
        ([0.1], "must return a dict with a 'loss' key"),
    ],
)
def test_a_training_result_is_checked_on_the_host(result, problem):
    found = train_result_problem(result)
    if problem is None:
        assert found is None
    else:
        assert problem in found and len(found) < 200


def test_bad_results_crash_their_trial_and_the_search_goes_on(small_space, tmp_path):
    bad = iter([{"loss": float("-inf")}, {"loss": -1e308}, {"loss": 0.2, "score": [0.8, 0.7]}])

    def evaluate(worker, config, seed, budget, seconds_left):
        result = next(bad, None) or {"loss": 0.3 if config["model"] == "ridge" else 0.4, "score": 0.7}
        return CallOutcome("success", result=result, elapsed=0.01)

    search = SmacSearch(small_space, ScenarioSpec(n_trials=8, facade="hpo"), tmp_path, crash_cost=2.0)
    result = search.run(evaluate)
    assert result.n_trials == 8 and result.status_counts == {"crashed": 3, "success": 5}
    assert result.incumbent_loss == pytest.approx(0.3)
    errors = [row["error"] for row in search.trials() if row["status"] == "crashed"]
    assert "unusable loss -inf" in errors[0] and "unusable score [0.8, 0.7]" in errors[2]


def test_a_scenario_asking_for_more_than_the_config_is_held_to_it():
    inflated = ScenarioSpec(n_trials=5000, walltime=100_000, n_workers=6)
    held, notes = hold_to_budget(inflated, n_trials=4, walltime=30, workers=1)
    assert (held.n_trials, held.walltime, held.n_workers) == (4, 30, 1)
    assert notes == [
        "n_trials 5000 lowered to the configured 4",
        "walltime 100000 lowered to the configured 30",
        "n_workers 6 lowered to the configured 1",
    ]
    modest = ScenarioSpec(n_trials=3, walltime=10, n_workers=1)
    assert hold_to_budget(modest, 4, 30, 2) == (modest, [])


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        ({"loss": 0.1, "predict_latency": 2.5, "model_size": 4096}, None),
        ({"loss": 0.1, "predict_latency": 2.5}, "did not return 'model_size', an objective of this run"),
        ({"loss": 0.1, "predict_latency": -1, "model_size": 1}, "unusable predict_latency -1"),
        ({"loss": 0.1, "predict_latency": float("nan"), "model_size": 1}, "unusable predict_latency nan"),
        ({"loss": 0.1, "predict_latency": "fast", "model_size": 1}, "unusable predict_latency 'fast'"),
    ],
)
def test_each_requested_objective_is_checked_on_the_host(result, problem):
    found = train_result_problem(result, ["predict_latency", "model_size"])
    assert found is None if problem is None else problem in found


def test_a_multi_objective_search_keeps_every_objective_across_a_resume(small_space, tmp_path):
    """Real SMAC on two objectives (ParEGO): each trial's costs are in the run history, a
    result without an objective crashes its trial, and a new search on the same folder (a
    resumed run) reads every objective of the finished trials back."""

    calls = []

    def evaluate(worker, config, seed, budget, seconds_left):
        calls.append(config)
        if len(calls) == 2:
            return CallOutcome("success", result={"loss": 0.1}, elapsed=0.01)  # no latency: crashed
        fast = config["model"] == "ridge"
        loss = 0.3 if fast else 0.2 + 0.01 * config["tree:max_depth"]
        latency = 1.0 if fast else float(config["tree:max_depth"])
        return CallOutcome("success", result={"loss": loss, "predict_latency": latency}, elapsed=0.01)

    spec = ScenarioSpec(n_trials=6, facade="hpo")
    search = SmacSearch(small_space, spec, tmp_path, crash_cost=2.0, objectives=["predict_latency"])
    search.run(evaluate)
    before = search.trials()
    assert len(before) == 6 and all("predict_latency" in row for row in before)
    assert [row["status"] for row in before].count("crashed") == 1
    for row in before:
        if row["status"] == "success":
            assert row["predict_latency"] == (1.0 if row["config.model"] == "ridge" else row["config.tree:max_depth"])
        else:
            assert row["predict_latency"] is None and "model_size" not in row
    assert search.result().incumbent_loss == min(r["loss"] for r in before if r["status"] == "success")

    resumed = SmacSearch(
        small_space, spec.model_copy(update={"n_trials": 9}), tmp_path, crash_cost=2.0, objectives=["predict_latency"]
    )
    assert resumed.trials()[:6] == before  # the scenario grew: replayed into a new run, objectives intact
    resumed.run(evaluate)
    assert len(resumed.trials()) == 9


def test_several_objectives_are_searched_at_full_fidelity(small_space, tmp_path):
    """A scenario asking for multi_fidelity (as an LLM coder may write) with several
    objectives is held to full fidelity: SMAC's successive halving stops with an assertion
    on a front whose models ran on different budgets (SMAC3 issue 1050)."""
    budgets = []

    def evaluate(worker, config, seed, budget, seconds_left):
        budgets.append(budget)
        return CallOutcome(
            "success",
            result={"loss": 0.1 * len(budgets) % 0.7, "predict_latency": len(budgets) % 3 + 1.0},
            elapsed=0.01,
        )

    spec = ScenarioSpec(n_trials=12, facade="multi_fidelity", min_budget=1, max_budget=9)
    search = SmacSearch(small_space, spec, tmp_path, crash_cost=2.0, objectives=["predict_latency"])
    assert search.spec.facade == "hpo"
    search.run(evaluate)
    assert len(search.trials()) == 12 and set(budgets) == {None}
