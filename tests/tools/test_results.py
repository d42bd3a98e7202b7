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
