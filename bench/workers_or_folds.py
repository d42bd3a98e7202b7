"""Two cores: parallel trials or parallel folds? `python bench/workers_or_folds.py [--rows 2000] [--only NAME...]`

Issue 15 asks `optimizer.workers: auto` to use every core either as one trial per core or
as parallel folds inside a trial, "whichever your benchmark shows is faster at equal budget".
This measures the work the search does first: the tabular template's start portfolio
(tools/templates/tabular/spec.py, 8 configurations per task), 5-fold CV with the template's
own `train()`, on each DEVELOPMENT data set's training split (at most `--rows` rows; the
test splits are never read), three ways on the same cores:

- `trials`: two worker processes, one trial each at a time, one thread each (what
  `workers: auto` does: one single-core sandbox per core);
- `folds`: one trial at a time, its folds on two processes (`cross_validate(n_jobs=2)`,
  joblib's loky workers, kept warm across trials as a warm sandbox would keep them);
- `threads`: one trial at a time, its libraries allowed two threads (what `workers: 1` with
  `sandbox.cpus: 2` does: HistGradientBoosting's OpenMP and BLAS use both cores, the rest
  runs on one).

Each arrangement is warmed up first (one small call), then timed over the whole portfolio;
the table gives wall seconds, and each arrangement's speed-up over running the same trials
one after another on one core (`serial`). The same configurations and folds give the same
losses in every arrangement, so at equal budget the faster arrangement finishes more trials.
Run it on a quiet machine: it measures the machine.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from sklearn.model_selection import cross_validate
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from portfolio import load_dev, template_namespace  # noqa: E402

from tools.templates.tabular.spec import PORTFOLIO  # noqa: E402

ARRANGEMENTS = ("serial", "trials", "folds", "threads")
SETS: list = []  # loaded before the worker processes fork, so they inherit it


@functools.cache
def _template_train(n_jobs: int):
    """The template's own train(), compiled once per process (outside the timed trials),
    its folds spread over n_jobs processes."""
    namespace = template_namespace("train", {})
    if n_jobs > 1:
        namespace["cross_validate"] = functools.partial(cross_validate, n_jobs=n_jobs)
    return namespace["train"]


def _train(set_index: int, config: dict, n_jobs: int = 1) -> float:
    return _template_train(n_jobs)(config, SETS[set_index][2], seed=0)["loss"]


def _one_thread() -> None:
    threadpool_limits(1)


def timed(arrangement: str, set_index: int, configs: list[dict], pool) -> tuple[float, list[float]]:
    started = time.perf_counter()
    if arrangement == "trials":
        losses = list(pool.map(_train, [set_index] * len(configs), configs))
    else:
        threads, n_jobs = {"serial": (1, 1), "folds": (1, 2), "threads": (2, 1)}[arrangement]
        with threadpool_limits(threads):
            losses = [_train(set_index, c, n_jobs) for c in configs]
    return time.perf_counter() - started, losses


def _row(label: str, rows: str, seconds: dict) -> str:
    cells = [label, rows, *(f"{seconds[a]:.1f}" for a in ARRANGEMENTS)]
    cells += [f"{seconds['serial'] / seconds[a]:.2f}" for a in ARRANGEMENTS[1:]]  # speed-ups
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".cache" / "bench" / "data")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these development sets")
    args = parser.parse_args()
    os.environ["PYTHONWARNINGS"] = "ignore"  # loky's workers too: convergence warnings by the hundred
    warnings.simplefilter("ignore")
    SETS.extend(s for s in load_dev(args.data, args.rows) if not args.only or s[0] in args.only)
    if not SETS:
        print(f"no development data sets under {args.data}; run bench/automl_benchmark.py first", file=sys.stderr)
        return 2
    for _, _, data in SETS:
        data.info["cv_folds"] = 5  # the run's default
    print(f"{os.cpu_count()} cores; the start portfolio, 5-fold CV, at most {args.rows} training rows\n")
    print("| data set | rows | serial s | trials s | folds s | threads s | trials x | folds x | threads x |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    totals = dict.fromkeys(ARRANGEMENTS, 0.0)
    with ProcessPoolExecutor(2, mp_context=get_context("fork"), initializer=_one_thread) as pool:
        # Both workers start now, before this process has run OpenMP code (not fork-safe).
        list(pool.map(time.sleep, [0.5, 0.5]))
        for index, (name, task, data) in enumerate(SETS):
            configs = PORTFOLIO[task]
            for arrangement in ARRANGEMENTS:  # warm: imports, loky's workers, the pool
                timed(arrangement, index, configs[:1] * 2, pool)
            seconds, losses = {}, {}
            for arrangement in ARRANGEMENTS:
                seconds[arrangement], losses[arrangement] = timed(arrangement, index, configs, pool)
                totals[arrangement] += seconds[arrangement]
            for arrangement in ARRANGEMENTS:  # same work: the same losses (up to threads' rounding)
                if not np.allclose(losses[arrangement], losses["serial"], atol=1e-6):
                    print(f"{name}: {arrangement} found other losses than serial", file=sys.stderr)
            print(_row(name, str(len(data.y)), seconds), flush=True)
    print(_row("all", "", totals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
