"""How long a trial will take, predicted from the trials before it, so the search does not
start one that cannot finish in the time it would get.

On the development group at 60 s, timed-out trials took a median of half the workers' time
(0-77% by data set), most of them CatBoost configurations with hundreds of rounds of deep
trees: each ran until it was stopped at its share of the search, taught SMAC only that it
was too slow, and left nothing to deploy. Their cost is predictable. A configuration's size
is its boosting rounds times DEPTH_GROWTH per level of tree depth; its family's seconds per
unit of size are the median over the family's trials that succeeded in this run, after the
run's fixed part per trial (its fastest successful trial: the sandbox call, loading the
data, the folds). A trial predicted to run past the time it would get is told to SMAC as a
timeout without running.

Replayed over the development group's stored runs (`python bench/trial_cost.py RUN...`;
bench/automl_benchmark.md, "Trials predicted not to finish"), the rule skips 232 of 276
CatBoost timeouts that had a prediction (3,144 of 4,246 worker-seconds) and would have skipped
at most 9 of 566 trials that succeeded, mostly poor ones.

Only families whose configurations name their rounds (`<model>:iterations`, with
`<model>:depth` if the trees' depth is searched) are predicted; every other trial runs.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

# How much one boosting round's seconds grow per level of tree depth: fitted (least squares,
# log seconds, a constant per run) on the 708 successful CatBoost trials of the development
# group's stored runs, 60 s and 300 s; bench/trial_cost.py prints the fit. Oblivious trees
# score 2^depth leaves per level, so rounds of deep trees cost more than depth alone says.
DEPTH_GROWTH = 1.47


def size(config: dict) -> float | None:
    """The work a configuration asks for, in its family's units, or None if it names no rounds."""
    family = config.get("model")
    rounds = config.get(f"{family}:iterations") if family else None
    if rounds is None:
        return None
    return float(rounds) * DEPTH_GROWTH ** float(config.get(f"{family}:depth", 0))


@dataclass
class CostBook:
    """The finished trials' seconds, enough to predict the next ones."""

    fixed: float | None = None  # the fastest successful trial: the part no model's size changes
    sized: list[tuple[str, float, float]] = field(default_factory=list)  # successes' (family, size, seconds)

    def record(self, config: dict, status: str, seconds: float) -> None:
        if status != "success":
            return  # a timeout says only that the trial needed more than it had
        self.fixed = seconds if self.fixed is None else min(self.fixed, seconds)
        units = size(config)
        if units:
            self.sized.append((config["model"], units, seconds))

    def predict(self, config: dict) -> tuple[float, int] | None:
        """Predicted seconds, and how many of the family's trials the guess rests on; None
        where the configuration names no rounds or none of its family has succeeded yet."""
        units = size(config)
        if units is None or self.fixed is None:
            return None
        rates = [
            max(0.0, seconds - self.fixed) / work for family, work, seconds in self.sized if family == config["model"]
        ]
        if not rates:
            return None
        return self.fixed + statistics.median(rates) * units, len(rates)
