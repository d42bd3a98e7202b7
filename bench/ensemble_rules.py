"""Which deploy rule for ensembles generalises, judged on training rows only.

    python bench/ensemble_rules.py RUNS... [--repeats 20]

For each finished run folder (its `oof/` store of the best trials' out-of-fold predictions
and `sealed/` training target), repeated random halves of the training rows: each rule
chooses on one half and is scored on the other, then the halves swap. No test row is read.
Rules:
  single        the best trial alone
  strict        today's: greedy ensemble on the metric, kept only if it beats the single
                best on the rows it was chosen on
  ties          the same, kept unless it is worse (a tie goes to the ensemble)
  always        the greedy ensemble, whatever its in-sample figure
  crossfit      the greedy ensemble only if it beats the single best held out inside the
                rows it chooses on (`tools.ensemble.cross_fitted` on that half)
  top5          strict, with the greedy selection among the 5 best trials only
  mean5         the plain average of the 5 best trials (no weights to fit)
Prints the mean held-out metric per run and rule, and each rule's mean rank over runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.ensemble import OutOfFoldStore, blend, cross_fitted, greedy_weights, oof_loss  # noqa: E402
from tools.runfolder import RunFolder  # noqa: E402

RULES = ("single", "strict", "ties", "always", "crossfit", "top5", "mean5")


def choose(rule: str, part: list[np.ndarray], y: np.ndarray, metric: str) -> np.ndarray:
    """The weights a rule gives the members, chosen on these rows."""
    order = sorted(range(len(part)), key=lambda i: oof_loss(metric, y, part[i]))  # best first, on these rows
    single = np.zeros(len(part))
    single[order[0]] = 1.0
    if rule == "single":
        return single
    weights = np.zeros(len(part))
    if rule == "mean5":
        weights[order[:5]] = 1 / len(order[:5])
        return weights
    # The full library keeps the store's order: greedy_weights breaks full ties by it.
    library = order[:5] if rule == "top5" else list(range(len(part)))
    weights[library] = greedy_weights([part[i] for i in library], y, metric)
    ensemble_loss, single_loss = oof_loss(metric, y, blend(part, weights)), oof_loss(metric, y, blend(part, single))
    in_sample_better = ensemble_loss < single_loss
    if rule == "crossfit":
        held_ensemble, held_single = cross_fitted(part, y, metric)
        keep = in_sample_better and held_ensemble < held_single
    else:
        ties = ensemble_loss <= single_loss
        keep = {"strict": in_sample_better, "top5": in_sample_better, "ties": ties, "always": True}[rule]
    return weights if keep else single


def held_out(run: Path, repeats: int) -> dict[str, float] | None:
    folder = RunFolder(run)
    members = OutOfFoldStore(folder.out_of_fold()).members()
    if len(members) < 2 or not folder.training_target.exists():
        return None
    metric = folder.read_json("plan.json")["metric"]
    y = np.load(folder.training_target, allow_pickle=False)
    predictions = [m.predictions for m in members]
    losses = {rule: [] for rule in RULES}
    for seed in range(repeats):
        halves = np.array_split(np.random.default_rng(seed).permutation(len(y)), 2)
        scored = {rule: np.zeros_like(predictions[0], dtype=float) for rule in RULES}
        for chosen_on, scored_on in (halves, halves[::-1]):
            part = [p[chosen_on] for p in predictions]
            for rule in RULES:
                weights = choose(rule, part, y[chosen_on], metric)
                scored[rule][scored_on] = blend([p[scored_on] for p in predictions], weights)
        for rule in RULES:
            losses[rule].append(oof_loss(metric, y, scored[rule]))
    return {rule: float(np.mean(v)) for rule, v in losses.items()} | {"metric": metric, "members": len(members)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rows = {}
    for run in args.runs:
        found = held_out(run, args.repeats)
        if found:
            rows[run.name] = found
    print(f"| run | metric | members | {' | '.join(RULES)} |")
    print("|---|---|---:|" + "---:|" * len(RULES))
    ranks = {rule: [] for rule in RULES}
    for name, row in rows.items():
        print(f"| {name} | {row['metric']} | {row['members']} | " + " | ".join(f"{row[r]:.4f}" for r in RULES) + " |")
        order = sorted(RULES, key=lambda r: row[r])
        for rule in RULES:  # ties share the mean of their places
            tied = [i for i, r in enumerate(order) if row[r] == row[rule]]
            ranks[rule].append(1 + float(np.mean(tied)))
    print(
        "\nHeld-out loss (lower is better) per run; mean rank over runs (1 = best): "
        + ", ".join(f"{r} {np.mean(ranks[r]):.2f}" for r in RULES)
    )


if __name__ == "__main__":
    main()
