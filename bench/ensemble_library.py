"""Which trials the ensemble should choose from, judged on training rows only.

    python bench/ensemble_library.py RUNS... [--repeats 5]

At 300 s the search finishes 15-200 trials and the store kept the 25 best by CV loss; on
several sets those 25 were near-copies of one family's winner (SMAC refines around its
incumbent), so the deployed ensemble had one family where the 60 s run's had two to six.
This study needs run folders whose store kept more than that (`tools.ensemble.KEEP` raised
for the pass), and asks which library generalises: for repeated random halves of the
training rows, each library is chosen on one half (ranked by the loss there), the greedy
ensemble is fitted on that half, and scored on the other half, then the halves swap. No
test row is read. Libraries:
  single      the best trial alone (the reference)
  best25      the 25 best trials (the store before this study)
  best10      the 10 best
  all         every trial kept
  family5     the 5 best of each family (a family is the configuration's `model`)
  family3     the 3 best of each family
  family1     the best of each family
Each ensemble is deployed only if it beats the single best on the rows it was chosen on (the
rule of nodes/deploy.py). Prints the held-out loss per run and library, and mean ranks.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ensemble_rules import report  # noqa: E402

from tools.ensemble import blend, greedy_weights, oof_loss  # noqa: E402

LIBRARIES = {
    "single": None,
    "best25": ("best", 25),
    "best10": ("best", 10),
    "all": ("best", 10_000),
    "family5": ("family", 5),
    "family3": ("family", 3),
    "family1": ("family", 1),
}


def library(kind: str, size: int, order: list[int], families: list[str]) -> list[int]:
    """Member indices, best first on the choosing rows."""
    if kind == "best":
        return order[:size]
    taken: dict[str, int] = {}
    chosen = []
    for i in order:
        if taken.get(families[i], 0) < size:
            taken[families[i]] = taken.get(families[i], 0) + 1
            chosen.append(i)
    return chosen


def choose(families: list[str], name: str, part: list[np.ndarray], y: np.ndarray, metric: str) -> np.ndarray:
    order = sorted(range(len(part)), key=lambda i: oof_loss(metric, y, part[i]))
    single = np.zeros(len(part))
    single[order[0]] = 1.0
    if LIBRARIES[name] is None:
        return single
    chosen = library(*LIBRARIES[name], order, families)
    weights = np.zeros(len(part))
    weights[chosen] = greedy_weights([part[i] for i in chosen], y, metric)
    better = oof_loss(metric, y, blend(part, weights)) < oof_loss(metric, y, part[order[0]])
    return weights if better else single


def chooser(members: list) -> tuple:
    """choose() for these members' families, and the run's count of families."""
    families = [str(m.config.get("model", m.module)) for m in members]
    return partial(choose, families), {"families": len(set(families))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    columns = {"metric": "metric", "kept": "members", "families": "families"}
    report(args.runs, args.repeats, list(LIBRARIES), chooser, columns)


if __name__ == "__main__":
    main()
