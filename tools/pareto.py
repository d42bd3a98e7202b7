"""The front of a multi-objective search and the rule that picks one model from it.

A point is a finished trial as a dict: its `loss` (the run's metric as SMAC minimises it)
and one value per extra objective (tools/vocabulary.py OBJECTIVES), all minimised. The
front is the set of points no other point dominates. The rules (`select:` in the config):

- best: the lowest loss (the single-objective choice);
- knee: the point closest to the ideal one (lowest loss and lowest cost at once), each
  objective scaled to the front's range first so that milliseconds and bytes weigh alike;
- fastest_within D: among the points within D of the best metric, the lowest first extra
  objective (the cost the user named first);
- max {OBJECTIVE: BOUND, ...}: the lowest loss among the points within every bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tools.vocabulary import OBJECTIVES, SELECT_RULES

UNITS = {"train_seconds": "s to cross-validate", "predict_latency": "ms per 1,000 rows", "model_size": "bytes"}
assert set(UNITS) == set(OBJECTIVES), "every objective needs its unit"


@dataclass(frozen=True)
class Rule:
    """A parsed `select:` value."""

    name: str = "best"
    within: float = 0.0  # fastest_within
    bounds: dict[str, float] = field(default_factory=dict)  # max

    def describe(self) -> str:
        if self.name == "fastest_within":
            return f"fastest_within {self.within:g}"
        if self.name == "max":
            return "max " + ", ".join(f"{k} <= {v:g}" for k, v in self.bounds.items())
        return self.name


def _positive(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


def parse_rule(select: Any, extras: list[str]) -> Rule:
    """The rule a `select:` value names, checked against the run's extra objectives; a
    ValueError of one line says what is wrong and what is allowed."""
    usage = "best, knee, {fastest_within: D} or {max: {OBJECTIVE: BOUND}}"
    if isinstance(select, dict) and len(select) == 1:
        ((name, value),) = select.items()
    elif isinstance(select, str):
        name, value = select, None
    else:
        raise ValueError(f"select: expected {usage}, got {select!r}")
    if name not in SELECT_RULES or (value is None) != (name in ("best", "knee")):
        raise ValueError(f"select: expected {usage}, got {select!r}")
    if name != "best" and not extras:
        raise ValueError(f"select: {name} needs a second objective, e.g. objectives: [accuracy, predict_latency]")
    if name == "fastest_within":
        if not _positive(value):
            raise ValueError(f"select.fastest_within: a metric difference of 0 or more, got {value!r}")
        return Rule(name, within=float(value))
    if name == "max":
        if not isinstance(value, dict) or not value:
            raise ValueError(f"select.max: bounds as {{OBJECTIVE: BOUND}}, e.g. {{predict_latency: 10}}, got {value!r}")
        for objective, bound in value.items():
            if objective not in extras:
                raise ValueError(f"select.max: {objective!r} is not an objective of this run ({', '.join(extras)})")
            if not _positive(bound):
                raise ValueError(f"select.max.{objective}: a bound of 0 or more, got {bound!r}")
        return Rule(name, bounds={k: float(v) for k, v in value.items()})
    return Rule(name)


def check_objectives(objectives: list[str], metrics: tuple[str, ...]) -> list[str]:
    """The extra objectives of an `objectives:` list (its first must be a metric), or a
    ValueError of one line."""
    if not objectives:
        raise ValueError(f"objectives: name the metric first, then what to trade it for: {', '.join(OBJECTIVES)}")
    if objectives[0] not in metrics:
        allowed = ", ".join(metrics)
        raise ValueError(f"objectives: the first is the run's metric (one of {allowed}), got {objectives[0]!r}")
    for name in objectives[1:]:
        if name not in OBJECTIVES:
            raise ValueError(f"objectives: {name!r} is not an objective; after the metric: {', '.join(OBJECTIVES)}")
    repeated = [name for i, name in enumerate(objectives) if name in objectives[:i]]
    if repeated:
        raise ValueError(f"objectives: {repeated[0]!r} is named twice")
    return list(objectives[1:])


def trial_points(rows: list[dict], extras: list[str]) -> list[dict]:
    """The successful trials of a trials table as points: trial number, loss, CV score, each
    extra objective, and the configuration (the `config.*` columns)."""
    points = []
    for row in rows:
        if row["status"] != "success":
            continue
        config = {k.removeprefix("config."): v for k, v in row.items() if k.startswith("config.") and v is not None}
        point = {"trial": row["trial"], "loss": float(row["loss"]), "score": row.get("score")}
        points.append({**point, **{name: float(row[name]) for name in extras}, "config": config})
    return points


TIE = 1e-9  # two CV losses this close are the same score computed in another order


def models(n: int) -> str:
    return f"{n} model" if n == 1 else f"{n} models"


def dominates(a: dict, b: dict, keys: list[str]) -> bool:
    return all(a[k] <= b[k] + TIE for k in keys) and any(a[k] < b[k] - TIE for k in keys)


def front(points: list[dict], extras: list[str]) -> list[dict]:
    """The non-dominated points, lowest loss first."""
    keys = ["loss", *extras]
    kept = [p for p in points if not any(dominates(q, p, keys) for q in points)]
    return sorted(kept, key=lambda p: tuple(p[k] for k in keys))


def pick(points: list[dict], extras: list[str], rule: Rule, metric: str) -> tuple[dict, str]:
    """The point of the front `rule` picks, and one sentence saying why."""
    from tools.metrics import loss_to_score  # scikit-learn: not for the config's import

    candidates = front(points, extras)
    if not candidates:
        raise ValueError("no finished trial to choose from")
    best = candidates[0]
    score = f"{metric} {loss_to_score(metric, best['loss']):.4f}"
    if rule.name == "best" or not extras:
        return best, f"Chosen by `best`: the highest CV {score} of the {models(len(candidates))} on the front."
    if rule.name == "fastest_within":
        cost = extras[0]
        near = [p for p in candidates if p["loss"] <= best["loss"] + rule.within + 1e-12]
        chosen = min(near, key=lambda p: (p[cost], p["loss"]))
        why = (
            f"Chosen by `fastest_within {rule.within:g}`: the lowest {cost} ({chosen[cost]:.4g} {UNITS[cost]}) "
            f"of the {models(len(near))} on the front within {rule.within:g} of the best CV {score}."
        )
        return chosen, why
    if rule.name == "max":
        return _within_bounds(candidates, rule)
    return _knee(candidates, extras)


def _within_bounds(candidates: list[dict], rule: Rule) -> tuple[dict, str]:
    inside = [p for p in candidates if all(p[k] <= bound for k, bound in rule.bounds.items())]
    if inside:
        chosen = min(inside, key=lambda p: p["loss"])
        return chosen, (
            f"Chosen by `{rule.describe()}`: the best CV of the {models(len(inside))} on the front within the bounds."
        )

    # No model meets the bounds: the one that overshoots them least (relative), said plainly.
    def overshoot(p: dict) -> float:
        return max(p[k] / bound if bound > 0 else math.inf for k, bound in rule.bounds.items())

    chosen = min(candidates, key=lambda p: (overshoot(p), p["loss"]))
    return chosen, (
        f"No model on the front meets `{rule.describe()}`; chosen: the one that exceeds the bounds least "
        f"({overshoot(chosen):.2f} times the bound)."
    )


def _knee(candidates: list[dict], extras: list[str]) -> tuple[dict, str]:
    keys = ["loss", *extras]
    low = {k: min(p[k] for p in candidates) for k in keys}
    span = {k: (max(p[k] for p in candidates) - low[k]) or 1.0 for k in keys}

    def distance(p: dict) -> float:
        return math.sqrt(sum(((p[k] - low[k]) / span[k]) ** 2 for k in keys))

    chosen = min(candidates, key=lambda p: (distance(p), p["loss"]))
    return chosen, (
        f"Chosen by `knee`: of the {models(len(candidates))} on the front, the one closest to the ideal point "
        f"(best CV and lowest {' and '.join(extras)} at once), each objective scaled to the front's range."
    )
