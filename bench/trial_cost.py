"""Would the search's cost rule (tools/trial_cost.py) have skipped the trials that timed out,
and only those? Replayed over stored run folders, no trial run again.

    python bench/trial_cost.py RUNS... [--group dev] [--growth 1.47]

RUNS are folders searched for run folders (a `trials.csv` beside a `budget.json`); only data
sets of `--group` count (the development group by default: the rule's constant is fitted
there). Prints:
  - the depth growth fitted on the group's successful CatBoost trials (least squares on log
    seconds per round after the run's fixed part, a constant per run): DEPTH_GROWTH's source;
  - the replay: each trial's start is rebuilt from its worker's earlier trials, its time from
    the search's rule (half of what remains, at least 10 s, never past the end; the deploy
    reserve is ignored, so the times are a little generous), and its prediction from the
    trials that had finished by then. Counted: timeouts skipped (and their worker-seconds),
    successes skipped (each listed with its rank among the run's successes).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_datasets import SOURCES  # noqa: E402

from tools import trial_cost  # noqa: E402
from tools.trial_cost import CostBook  # noqa: E402

CALL_OVERHEAD = 0.15  # seconds between one trial's end and the next one's start on a worker


def read_runs(roots: list[str], names: set[str]) -> list[tuple[Path, list[dict], dict]]:
    runs = []
    for root in roots:
        for table in sorted(Path(root).rglob("trials.csv")):
            if table.parent.name in names and (table.parent / "budget.json").is_file():
                with open(table) as fh:
                    rows = [_typed(row) for row in csv.DictReader(fh)]
                runs.append((table.parent, rows, json.loads((table.parent / "budget.json").read_text())))
    return runs


def _typed(row: dict) -> dict:
    config = {k.removeprefix("config."): _number(v) for k, v in row.items() if k.startswith("config.") and v != ""}
    seconds, loss = float(row["seconds"]), float(row["loss"])
    return {"status": row["status"], "seconds": seconds, "loss": loss, "worker": row["worker"], "config": config}


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def fit_growth(runs) -> tuple[float, int]:
    """Per-level growth of seconds per round, from every run's successful CatBoost trials."""
    depths, logs = [], []
    for _, rows, _ in runs:
        fixed = min((r["seconds"] for r in rows if r["status"] == "success"), default=0.0)
        points = [
            (r["config"]["catboost:depth"], math.log((r["seconds"] - fixed) / r["config"]["catboost:iterations"]))
            for r in rows
            if r["status"] == "success" and r["config"].get("model") == "catboost" and r["seconds"] - fixed > 0.05
        ]
        if len(points) >= 2:
            d, y = np.array(points).T
            depths += list(d - d.mean())
            logs += list(y - y.mean())
    d, y = np.array(depths), np.array(logs)
    return math.exp((d * y).sum() / (d * d).sum()), len(d)


def replay(rows: list[dict], search_seconds: float) -> list[tuple[dict, float, float]]:
    """(trial, predicted seconds, the time it would have had) for each predicted trial."""
    clock: dict[str, float] = {}
    starts = []
    for row in rows:  # a worker's trials ran one after another, in the table's order
        starts.append(clock.get(row["worker"], 0.0))
        clock[row["worker"]] = starts[-1] + row["seconds"] + CALL_OVERHEAD
    ends = [start + row["seconds"] for start, row in zip(starts, rows, strict=True)]
    out = []
    for start, row in zip(starts, rows, strict=True):
        book = CostBook()
        for done, end in zip(rows, ends, strict=True):
            if end <= start:
                book.record(done["config"], done["status"], done["seconds"])
        guess = book.predict(row["config"]) if row["status"] in ("success", "timeout") else None
        if guess is not None:
            left = search_seconds - start
            out.append((row, guess[0], max(1.0, min(max(10.0, 0.5 * left), left))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--group", default="dev")
    parser.add_argument("--growth", type=float, default=trial_cost.DEPTH_GROWTH)
    args = parser.parse_args()
    runs = read_runs(args.runs, {s.name for s in SOURCES if s.group == args.group})
    growth, points = fit_growth(runs)
    print(f"{len(runs)} {args.group} runs; depth growth fitted on {points} successful CatBoost trials: {growth:.3f}")
    trial_cost.DEPTH_GROWTH = args.growth
    counts = {"timeout": [0, 0, 0.0, 0.0], "success": [0, 0, 0.0, 0.0]}  # predicted, skipped, seconds, skipped s
    skipped_successes = []
    for folder, rows, budget in runs:
        losses = sorted(r["loss"] for r in rows if r["status"] == "success")
        for row, predicted, timeout in replay(rows, budget["search"]):
            count = counts[row["status"]]
            skip = predicted > timeout
            count[0] += 1
            count[1] += skip
            count[2] += row["seconds"]
            count[3] += row["seconds"] * skip
            if skip and row["status"] == "success":
                rank = losses.index(row["loss"]) + 1
                skipped_successes.append(
                    f"  {folder.name:14s} {row['seconds']:6.1f} s, predicted {predicted:6.1f}, "
                    f"time {timeout:6.1f}: rank {rank} of {len(losses)}  ({folder.parents[3].name})"
                )
    print(f"growth {args.growth:.2f}  | predicted | skipped | their worker-s | skipped worker-s")
    for status, (n, skipped, seconds, saved) in counts.items():
        print(f"  {status:8s}      | {n:9d} | {skipped:7d} | {seconds:14.0f} | {saved:16.0f}")
    print("successes the rule would have skipped:", len(skipped_successes))
    print("\n".join(skipped_successes))


if __name__ == "__main__":
    main()
