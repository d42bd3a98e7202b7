"""A trial's seconds predicted from the trials before it (tools/trial_cost.py), and the
search's rule that a trial predicted to overrun its time is told as a timeout unstarted."""

from __future__ import annotations

import pytest

from nodes.optimize import predicted_too_slow, stored_costs
from tools.trial_cost import DEPTH_GROWTH, CostBook, size


def catboost(iterations: int, depth: int = 6) -> dict:
    return {"model": "catboost", "catboost:iterations": iterations, "catboost:depth": depth, "catboost:l2_leaf_reg": 3}


def test_size_is_rounds_times_the_growth_per_level_of_depth():
    assert size(catboost(100, depth=0)) == 100
    assert size(catboost(100, depth=4)) == pytest.approx(100 * DEPTH_GROWTH**4)
    assert size({"model": "hgb", "hgb:max_iter": 100}) is None, "no rounds named <model>:iterations"
    assert size({"n_estimators": 100}) is None


def test_a_family_is_predicted_from_its_successes_after_the_fixed_part():
    costs = CostBook()
    costs.record({"model": "linear"}, "success", 0.5)  # the fastest trial: what every trial costs
    assert costs.predict(catboost(150)) is None, "no CatBoost trial has finished yet"
    costs.record(catboost(150), "success", 2.0)
    seconds, based_on = costs.predict(catboost(1500))
    assert based_on == 1 and seconds == pytest.approx(0.5 + 1.5 * 10)
    deeper, _ = costs.predict(catboost(150, depth=8))
    assert deeper == pytest.approx(0.5 + 1.5 * DEPTH_GROWTH**2)
    costs.record(catboost(300), "timeout", 10.0)  # only says it needed more than 10 s
    assert costs.predict(catboost(1500))[1] == 1
    costs.record(catboost(150), "success", 3.5)  # the median of the family's rates: 1.5 and 3 s per 150
    assert costs.predict(catboost(1500))[0] == pytest.approx(0.5 + 2.25 * 10)
    assert costs.predict({"model": "random_forest"}) is None


def test_a_resumed_search_rebuilds_the_book_from_its_whole_budget_trials():
    def row(status, seconds, budget=None, **config):
        return {"status": status, "seconds": seconds, "budget": budget, **{f"config.{k}": v for k, v in config.items()}}

    rows = [
        row("success", 0.5, model="linear"),
        row("success", 2.0, **catboost(150)),
        row("success", 0.1, budget=0.25, **catboost(150)),  # a cheaper look at a quarter of the rows
    ]
    costs = stored_costs(rows, whole_budget=1.0)
    assert costs.fixed == 0.5 and costs.predict(catboost(1500)) == (pytest.approx(15.5), 1)


def test_a_trial_predicted_past_its_time_is_a_timeout_that_never_ran():
    costs = CostBook()
    costs.record({"model": "linear"}, "success", 0.5)
    costs.record(catboost(150), "success", 2.0)
    skipped = predicted_too_slow(costs, catboost(1500), timeout=10.0)
    assert skipped.status == "timeout" and skipped.elapsed == 0
    assert skipped.error == "not started: predicted 16 s from 1 earlier catboost trial(s); it would get 10 s"
    assert predicted_too_slow(costs, catboost(1500), timeout=20.0) is None
    assert predicted_too_slow(costs, {"model": "svm", "svm:C": 1.0}, timeout=1.0) is None
