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


def held_out(run: Path, repeats: int, names, chooser) -> dict | None:
    """Each name's mean held-out loss on one run folder (None if it has no ensemble to choose):
    for `repeats` random halves of the training rows, the weights `chooser(members)` returns
    for a name, chosen on one half, score the other, then the halves swap. `chooser` gives
    (choose(name, part, y, metric) -> weights, extra columns for the run's row)."""
    folder = RunFolder(run)
    members = OutOfFoldStore(folder.out_of_fold()).members()
    if len(members) < 2 or not folder.training_target.exists():
        return None
    metric = folder.read_json("plan.json")["metric"]
    y = np.load(folder.training_target, allow_pickle=False)
    predictions = [m.predictions for m in members]
    choose_weights, extra = chooser(members)
    losses = {name: [] for name in names}
    for seed in range(repeats):
        halves = np.array_split(np.random.default_rng(seed).permutation(len(y)), 2)
        scored = {name: np.zeros_like(predictions[0], dtype=float) for name in names}
        for chosen_on, scored_on in (halves, halves[::-1]):
            part = [p[chosen_on] for p in predictions]
            for name in names:
                weights = choose_weights(name, part, y[chosen_on], metric)
                scored[name][scored_on] = blend([p[scored_on] for p in predictions], weights)
        for name in names:
            losses[name].append(oof_loss(metric, y, scored[name]))
    found = {name: float(np.mean(v)) for name, v in losses.items()}
    return found | {"metric": metric, "members": len(members)} | extra


def report(runs: list[Path], repeats: int, names, chooser, columns: dict[str, str]) -> None:
    """A Markdown table of held_out() per run (`columns`: heading -> row key, before the
    names' losses), printed as each run finishes, then each name's mean rank over runs."""
    print(f"| run | {' | '.join(columns)} | {' | '.join(names)} |")
    print("|---|" + "---|" + "---:|" * (len(columns) - 1 + len(names)))
    ranks = {name: [] for name in names}
    for run in runs:
        row = held_out(run, repeats, names, chooser)
        if not row:
            continue
        cells = [str(row[key]) for key in columns.values()] + [f"{row[n]:.4f}" for n in names]
        print(f"| {run.name} | {' | '.join(cells)} |", flush=True)
        order = sorted(names, key=lambda n: row[n])
        for name in names:  # ties share the mean of their places
            ranks[name].append(1 + float(np.mean([i for i, n in enumerate(order) if row[n] == row[name]])))
    print(
        "\nHeld-out loss (lower is better) per run; mean rank over runs (1 = best): "
        + ", ".join(f"{n} {np.mean(ranks[n]):.2f}" for n in names)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    report(args.runs, args.repeats, RULES, lambda members: (choose, {}), {"metric": "metric", "members": "members"})


if __name__ == "__main__":
    main()
