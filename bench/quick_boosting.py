"""Can a quick CatBoost configuration give a 60 s search a CatBoost trial on larger tables?

At 60 s the start portfolio's CatBoost entries (chosen on at most 1,500 rows by
bench/portfolio.py, where cost hardly mattered) time out on the larger development tables:
on adult, segment and trump_tweets every CatBoost trial of a 60 s pass timed out, half to two
thirds of both workers' search time (`trials.jsonl`). This study
scores candidate CatBoost configurations with few boosting rounds and a larger learning rate
(fewer rounds, each a larger step: the usual trade of rounds for rate) beside the portfolio's
CatBoost entries and default HGB, each by the tabular template's own `train()` with the
search's 5-fold CV on each DEVELOPMENT set's whole training split (the rows the search sees;
test splits are never read), one core, in the project's process sandbox.

    python bench/quick_boosting.py [--data .cache/bench/data] [--timeout 120]

It prints each candidate's CV loss and seconds per data set, and its mean normalised loss
(0 = the best candidate on that set, 1 = the worst) and mean seconds per task.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from portfolio import load_dev, score  # noqa: E402

from tools.templates.tabular.spec import PORTFOLIO  # noqa: E402

HGB_DEFAULT = dict(PORTFOLIO["regression"][0])  # the space's HGB default
QUICK = [  # (depth, rounds, learning rate): about a tenth of the portfolio's rounds
    (6, 100, 0.25),
    (6, 150, 0.2),
    (4, 150, 0.25),
    (8, 100, 0.25),
    (5, 200, 0.15),
]


def candidates(task: str) -> list[tuple[str, dict]]:
    extra = {"class_weight": "none"} if task == "classification" else {}
    named = [("hgb default", {**HGB_DEFAULT, **extra})]
    for entry in PORTFOLIO[task]:
        if entry["model"] == "catboost":
            named.append((f"portfolio d{entry['catboost:depth']} x{entry['catboost:iterations']}", entry))
    for depth, rounds, rate in QUICK:
        config = {
            "model": "catboost",
            "catboost:depth": depth,
            "catboost:iterations": rounds,
            "catboost:l2_leaf_reg": 3.0,
            "catboost:learning_rate": rate,
            **extra,
        }
        named.append((f"quick d{depth} x{rounds} lr{rate}", config))
    return named


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".cache" / "bench" / "data")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per candidate (default 120)")
    args = parser.parse_args()
    sets = load_dev(args.data, rows=10**9)
    for _, _, data in sets:
        data.info["cv_folds"] = 5  # the search's folds (optimizer.cv_folds' default)
    for task in ("classification", "regression"):
        task_sets = [s for s in sets if s[1] == task]
        named = candidates(task)
        losses, seconds = score(task_sets, [c for _, c in named], args.timeout)
        best, worst = np.nanmin(losses, axis=1, keepdims=True), np.nanmax(losses, axis=1, keepdims=True)
        normalised = (losses - best) / np.maximum(worst - best, 1e-12)
        print(f"\n{task} ({', '.join(f'{s[0]} {len(s[2].y)} rows' for s in task_sets)})")
        print("| candidate | " + " | ".join(s[0] for s in task_sets) + " | mean normalised loss | mean s |")
        print("|---|" + "---|" * len(task_sets) + "---:|---:|")
        for j, (name, _) in enumerate(named):
            cells = [
                "timeout" if np.isnan(losses[i, j]) else f"{losses[i, j]:.4f} ({seconds[i, j]:.0f} s)"
                for i in range(len(task_sets))
            ]
            mean = np.mean(np.nan_to_num(normalised[:, j], nan=10.0))
            print(f"| {name} | " + " | ".join(cells) + f" | {mean:.2f} | {seconds[:, j].mean():.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
