"""Kill a run at node boundaries and mid-search, resume it, and count complete runs.

    python bench/kill_resume.py [--rounds 50] [--backend process docker] [--trials 6]

Each round starts iris with a trial bound, kills it with SIGKILL right after a node's event
is logged (the boundaries cycle through initialize, plan, code, verify, optimize, deploy) or
after a number of trials, resumes it (again and again if a resume is killed by nothing but
still fails), and checks: exit 0, the planned trials in trials.csv, no configuration twice,
a deployed model. Prints one table row per backend. A loop of many runs: it belongs here,
not in the tests (tests/graph/test_end_to_end.py runs each boundary once).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import NODE_BOUNDARIES, kill_after_event, kill_mid_search  # noqa: E402

BOUNDARIES = [*NODE_BOUNDARIES, ("trials", "3")]  # each node boundary, then mid-search


def one_round(number: int, backend: str, trials: int) -> tuple[bool, str]:
    runs = Path(tempfile.mkdtemp(prefix="kill-resume-"))
    args = [
        "configs/iris.yaml",
        "--set",
        f"optimizer.n_trials={trials}",
        "--set",
        "optimizer.workers=1",
        "--set",
        f"sandbox.backend={backend}",
        "--set",
        "verify.n_configs=2",
        "-q",
    ]
    node, message = BOUNDARIES[number % len(BOUNDARIES)]
    if node == "trials":
        kill_mid_search(args, runs, "iris", after_trials=int(message))
    else:
        kill_after_event(args, runs, "iris", node, message)
    result = subprocess.run(
        [sys.executable, "-m", "graph.run", *args, "--resume", "--runs-dir", str(runs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    run = runs / "iris"
    if result.returncode != 0:
        return False, f"{node}: resume exited {result.returncode}: {result.stderr.strip().splitlines()[-1:]} ({runs})"
    rows = list(csv.DictReader(open(run / "trials.csv")))
    ids = [r["config_id"] for r in rows]
    finished = json.loads((run / "metrics.json").read_text())["trials"]["finished"]
    model = (run / "model" / "model.pkl").exists() or (run / "model" / "ensemble.json").exists()
    ok = len(rows) == trials and len(set(ids)) == len(ids) and finished == trials and model
    if ok:  # a failed round's folder stays, to be read
        shutil.rmtree(runs, ignore_errors=True)
    return ok, f"{node}: {len(rows)} trials, {len(ids) - len(set(ids))} repeated, model {model}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--backend", nargs="+", default=["process"])
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    print("| backend | rounds | complete runs with the planned trials, none twice | seconds |")
    print("|---|---|---|---|")
    for backend in args.backend:
        started, good = time.monotonic(), 0
        for number in range(args.rounds):
            ok, detail = one_round(number, backend, args.trials)
            good += ok
            if not ok:
                print(f"  round {number}: {detail}", file=sys.stderr)
        print(f"| {backend} | {args.rounds} | {good}/{args.rounds} | {time.monotonic() - started:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
