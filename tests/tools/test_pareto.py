"""The front of a multi-objective search and the rules that pick one model from it."""

from __future__ import annotations

import pytest

from tools.pareto import Rule, front, pick

EXTRAS = ["predict_latency"]
# A hand-built search: loss (1 - accuracy) against milliseconds per 1,000 rows.
POINTS = [
    {"trial": 1, "loss": 0.020, "predict_latency": 40.0},  # the most accurate, slow
    {"trial": 2, "loss": 0.024, "predict_latency": 8.0},  # within 0.005, 5x faster
    {"trial": 3, "loss": 0.030, "predict_latency": 2.0},  # the knee
    {"trial": 4, "loss": 0.080, "predict_latency": 1.5},  # the fastest, much worse
    {"trial": 5, "loss": 0.030, "predict_latency": 9.0},  # dominated by 2 and by 3
    {"trial": 6, "loss": 0.025, "predict_latency": 40.0},  # dominated by 1 and by 2
]


def test_the_front_is_the_non_dominated_set():
    assert [p["trial"] for p in front(POINTS, EXTRAS)] == [1, 2, 3, 4]
    # Brute force on a grid with ties: a point is on the front iff nothing dominates it.
    grid = [{"trial": i, "loss": (i * 7) % 5, "a": (i * 3) % 4, "b": i % 3} for i in range(30)]
    kept = {p["trial"] for p in front(grid, ["a", "b"])}
    for p in grid:
        beaten = any(
            all(q[k] <= p[k] for k in ("loss", "a", "b")) and any(q[k] < p[k] for k in ("loss", "a", "b")) for q in grid
        )
        assert (p["trial"] in kept) == (not beaten)


@pytest.mark.parametrize(
    ("rule", "trial"),
    [
        (Rule("best"), 1),
        (Rule("fastest_within", within=0.005), 2),
        (Rule("fastest_within", within=0.0), 1),
        (Rule("fastest_within", within=0.01), 3),
        (Rule("max", bounds={"predict_latency": 10}), 2),
        (Rule("max", bounds={"predict_latency": 1.9}), 4),
        (Rule("knee"), 3),
    ],
)
def test_each_rule_picks_its_point(rule, trial):
    chosen, why = pick(POINTS, EXTRAS, rule, "accuracy")
    assert chosen["trial"] == trial
    assert why.startswith("Chosen by") and "\n" not in why


def test_a_bound_no_model_meets_is_said_and_the_closest_is_chosen():
    chosen, why = pick(POINTS, EXTRAS, Rule("max", bounds={"predict_latency": 1.0}), "accuracy")
    assert chosen["trial"] == 4 and why.startswith("No model on the front meets")


def test_fastest_within_uses_the_first_extra_objective():
    points = [
        {"trial": 1, "loss": 0.10, "model_size": 900.0, "predict_latency": 1.0},
        {"trial": 2, "loss": 0.101, "model_size": 100.0, "predict_latency": 5.0},
    ]
    chosen, _ = pick(points, ["model_size", "predict_latency"], Rule("fastest_within", within=0.01), "accuracy")
    assert chosen["trial"] == 2
