"""Trial-bounded runs of small configs, saved for a before/after comparison of two commits.

    python bench/same_trials.py OUT.json [--configs iris wine ...] [--trials 30]
    python bench/same_trials.py --compare BEFORE.json AFTER.json

Each config runs through the command line with the search bounded by trials, not time
(`--set optimizer.n_trials=N --set optimizer.walltime=100000`); OUT.json holds, per config,
every trial's configuration, status and loss and the sealed-split test scores. Run it from a
checkout of each commit (the commit's own code is imported from the working folder), then
compare: a refactoring that changes nothing gives identical trials and scores.

Commits before d92acfb proposed different trials in different processes (SMAC's local search
followed Python's hash salt); compare those with PYTHONHASHSEED=0 set for both runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def run(configs: list[str], trials: int, backend: str, workers: int) -> dict:
    summary = {}
    for name in configs:
        runs = Path(tempfile.mkdtemp(prefix="same-trials-"))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "graph.run",
                f"configs/{name}.yaml",
                "--runs-dir",
                str(runs),
                "-q",
                "--set",
                f"optimizer.n_trials={trials}",
                "--set",
                "optimizer.walltime=100000",
                "--set",
                f"sandbox.backend={backend}",
                "--set",
                f"optimizer.workers={workers}",
            ],
            check=True,
        )
        folder = next(runs.iterdir())
        rows = list(csv.DictReader(open(folder / "trials.csv")))
        metrics = json.loads((folder / "metrics.json").read_text())
        summary[name] = {
            "trials": [
                {k: v for k, v in r.items() if k.startswith("config.") or k in ("status", "loss")} for r in rows
            ],
            "test": metrics["test"],
            "incumbent": metrics["incumbent"],
        }
        print(name, len(rows), metrics["test"], flush=True)
    return summary


def compare(before: dict, after: dict) -> bool:
    same = True
    for name in before:

        def plain(trials):
            return [{k: v for k, v in t.items() if v not in ("", None)} for t in trials]

        a, b = plain(before[name]["trials"]), plain(after.get(name, {}).get("trials", []))
        differ = [i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y]
        equal = not differ and len(a) == len(b) and before[name]["test"] == after[name]["test"]
        same &= equal
        print(
            f"{name}: {len(a)} vs {len(b)} trials, {len(differ)} differ; test scores "
            f"{'identical' if before[name]['test'] == after[name]['test'] else 'differ'}: {after[name]['test']}"
        )
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?")
    parser.add_argument("--configs", nargs="+", default=["iris", "wine", "breast_cancer", "diabetes"])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--backend", default="process")
    parser.add_argument("--workers", type=int, default=1, help="parallel trials finish in any order: keep 1")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(Path(p).read_text()) for p in args.compare)
        return 0 if compare(before, after) else 1
    summary = run(args.configs, args.trials, args.backend, args.workers)
    Path(args.out).write_text(json.dumps(summary, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
