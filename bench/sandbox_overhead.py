"""What a sandbox costs per trial: `python bench/sandbox_overhead.py [--backends process docker]`.

1. Per-call time of each backend against calling the same training function in-process, on a
   trivial function and on an iris trial (5-fold CV of a fixed pipeline), calls taken in
   turns; overhead = a backend's call minus the in-process call of the same turn, median
   and p95 in ms.
2. A whole 50-trial iris SMAC run (HyperparameterOptimizationFacade, ask/tell, same seed, so
   every backend evaluates the same configurations): wall time as a ratio to in-process.

With --dask, each backend also runs behind a one-worker Dask LocalCluster, as with
`optimizer.dask: local` (`process+dask`, `docker+dask`): the extra is Dask's round trip.

Targets (issue 3): median overhead < 30 ms; the 50-trial run within 1.3x of in-process.
The iris trial is the built-in coder's tabular template when it exists, else a small
stand-in. Template code is trusted, which is the only reason the in-process baseline may
import it; generated code never runs on the host.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import logging
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# One core per trial, in the sandbox (Limits.cpus=1) and in-process alike, set before numpy
# and scikit-learn load their thread pools: on a shared 2-core machine, BLAS/OpenMP threads
# that outnumber free cores spin and run several times slower, and the table would measure
# the neighbours rather than the sandbox.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

from sklearn.datasets import load_iris  # noqa: E402

from sandbox import Limits, Sandbox, Workspace, choose_backend, open_sandbox  # noqa: E402
from sandbox.worker import TrainingData  # noqa: E402
from tools.dask_trials import DaskTrials  # noqa: E402

TEMPLATES = ROOT / "tools" / "templates" / "tabular"
TRIVIAL = "def train(config, data, seed=0, budget=None):\n    return {'loss': 0.0}\n"
STAND_IN_TRAIN = """
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def train(config, data, seed=0, budget=None):
    if config["model"] == "knn":
        model = KNeighborsClassifier(n_neighbors=config["knn:n_neighbors"])
    else:
        model = LogisticRegression(C=config["linear:C"], max_iter=1000)
    score = cross_val_score(make_pipeline(StandardScaler(), model), data.X, data.y, cv=5).mean()
    return {"loss": 1.0 - float(score)}
"""
STAND_IN_SPACE = """
from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float, Integer


def get_configspace():
    cs = ConfigurationSpace(seed=0)
    model = Categorical("model", ["linear", "knn"])
    c, k = Float("linear:C", (1e-4, 1e4), log=True), Integer("knn:n_neighbors", (1, 30))
    cs.add(model, c, k, EqualsCondition(c, model, "linear"), EqualsCondition(k, model, "knn"))
    return cs
"""
# The per-call iris trial: a fixed, quick configuration both trainers understand.
IRIS_CONFIG = {"model": "linear", "scaler": "standard", "class_weight": "none", "linear:C": 1.0}


def make_workspace(root: Path) -> Workspace:
    code, data = root / "code", root / "data"
    code.mkdir()
    data.mkdir()
    (code / "trivial.py").write_text(TRIVIAL)
    if (TEMPLATES / "train.py").exists():
        shutil.copy(TEMPLATES / "train.py", code / "train.py")
        shutil.copy(TEMPLATES / "configspace.py", code / "configspace.py")
    else:
        (code / "train.py").write_text(STAND_IN_TRAIN)
        (code / "configspace.py").write_text(STAND_IN_SPACE)
    X, y = load_iris(return_X_y=True, as_frame=True)
    info = {
        "task": "classification",
        "metric": "accuracy",
        "n_rows": len(X),
        "n_classes": 3,
        "cv_folds": 5,
        "numeric_columns": list(X.columns),
        "categorical_columns": [],
    }
    with open(data / "train.pkl", "wb") as fh:
        pickle.dump({"X": X, "y": y.to_numpy(), "info": info}, fh)
    return Workspace(code=code, data=data)


def in_process_trainer(workspace: Workspace, module: str) -> Callable[[dict], float]:
    spec = importlib.util.spec_from_file_location(f"bench_{module[:-3]}", workspace.code / module)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    with open(workspace.data / "train.pkl", "rb") as fh:
        raw = pickle.load(fh)
    data = TrainingData(raw["X"], raw["y"], raw["info"])
    return lambda config: float(loaded.train(config, data, seed=0)["loss"])


def sandbox_trainer(sandbox: Sandbox, module: str) -> Callable[[dict], float]:
    def run(config: dict) -> float:
        outcome = sandbox.call("train", module=module, data="train.pkl", config=config)
        if not outcome.ok:
            raise RuntimeError(outcome.describe())
        return outcome.result["loss"]

    return run


def dask_trainer(trials: DaskTrials, module: str) -> Callable[[dict], float]:
    def run(config: dict) -> float:
        request = {"module": module, "data": "train.pkl", "config": config, "seed": 0, "budget": None}
        outcome = trials.evaluate(request, timeout=120)
        if not outcome.ok:
            raise RuntimeError(outcome.describe())
        return outcome.result["loss"]

    return run


def time_calls(
    runs: dict[str, Callable[[dict], float]], config: dict, n: int, pause: float = 0.0
) -> dict[str, list[float]]:
    """ms per call of each runner, taken in turns so that load from elsewhere on the
    machine falls on every backend alike; `pause` seconds before each call stand for the
    optimizer's own work between trials (the worker forks the next child meanwhile)."""
    for run in runs.values():
        run(config)  # warm-up: first import of the module, caches
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(n):
        for name, run in runs.items():
            time.sleep(pause)
            started = time.perf_counter()
            run(config)
            times[name].append((time.perf_counter() - started) * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def smac_runs(runs: dict[str, Callable[[dict], float]], space_json: dict, trials: int, out: Path) -> dict[str, float]:
    """Seconds each runner spends in a `trials`-trial HPO-facade run (ask, evaluate, tell).

    The runs advance in lockstep, one trial each in turn, so that load from elsewhere on
    the machine falls on every backend alike; with the same seed and deterministic losses
    they all see the same configurations."""
    from ConfigSpace import ConfigurationSpace
    from smac import HyperparameterOptimizationFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    def unused(config, seed: int = 0) -> float:  # ask/tell evaluates; the facade wants one
        raise NotImplementedError

    optimizers = {}
    for name in runs:
        space = ConfigurationSpace.from_serialized_dict(copy.deepcopy(space_json))  # it pops
        scenario = Scenario(
            space, deterministic=True, n_trials=trials, seed=0, output_directory=out / name, name="bench"
        )
        optimizers[name] = HyperparameterOptimizationFacade(scenario, unused, overwrite=True, logging_level=40)
    spent = dict.fromkeys(runs, 0.0)
    for _ in range(trials):
        for name, run in runs.items():
            started = time.perf_counter()
            info = optimizers[name].ask()
            config = {k: v.item() if hasattr(v, "item") else v for k, v in dict(info.config).items()}
            trial_start = time.perf_counter()
            loss = run(config)
            trial_time = time.perf_counter() - trial_start
            optimizers[name].tell(info, TrialValue(cost=loss, time=trial_time))
            spent[name] += time.perf_counter() - started
    return spent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["process", "docker"])
    parser.add_argument("--calls", type=int, default=100, help="timed calls, trivial function")
    parser.add_argument("--iris-calls", type=int, default=30)
    parser.add_argument("--trials", type=int, default=50, help="trials of the SMAC run (0: skip)")
    parser.add_argument("--dask", action="store_true", help="also each backend behind a one-worker Dask LocalCluster")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")  # convergence chatter of the in-process trials

    backends = []
    for name in args.backends:
        backend, why = choose_backend(name)
        if backend != name:
            print(f"skipping {name}: {why}")
            continue
        backends.append(name)
    limits = Limits(timeout=120, memory_mb=2048, cpus=1)
    rows, runs = [], {}
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp, ExitStack() as stack:
        workspace = make_workspace(Path(tmp))
        trainers: dict[str, Callable[[str], Callable[[dict], float]]] = {
            "in-process": lambda module: in_process_trainer(workspace, module)
        }
        sandboxes = {}
        for name in backends:
            started = time.perf_counter()
            sandboxes[name] = stack.enter_context(open_sandbox(name, workspace, limits, name=f"bench-{name}"))
            print(f"{name}: warm sandbox ready in {time.perf_counter() - started:.2f} s")
            trainers[name] = lambda module, sb=sandboxes[name]: sandbox_trainer(sb, module)
        for name in backends if args.dask else []:
            recipe = {"backend": name, "workspace": workspace, "limits": limits, "name": f"bench-dask-{name}"}
            trials = stack.enter_context(DaskTrials("local", 1, recipe))
            trainers[f"{name}+dask"] = lambda module, t=trials: dask_trainer(t, module)
        space = (
            sandboxes[backends[0]].call("configspace", module="configspace.py", n_samples=1).result["configspace"]
            if backends
            else None
        )
        cases = (
            ("trivial, back-to-back", "trivial.py", {}, args.calls, 0.0),
            ("trivial, 50 ms apart", "trivial.py", {}, args.calls, 0.05),
            ("iris trial, back-to-back", "train.py", IRIS_CONFIG, args.iris_calls, 0.0),
            ("iris trial, 50 ms apart", "train.py", IRIS_CONFIG, args.iris_calls, 0.05),
        )
        for label, module, config, n, pause in cases:
            times = time_calls({name: make(module) for name, make in trainers.items()}, config, n, pause)
            for name, values in times.items():
                # Overhead per call: this backend's call minus the in-process call of
                # the same turn.
                extra = [a - b for a, b in zip(values, times["in-process"], strict=True)]
                rows.append((label, name, statistics.median(values), p95(values), statistics.median(extra), p95(extra)))
        if args.trials and space is not None:
            runs = smac_runs(
                {name: make("train.py") for name, make in trainers.items()}, space, args.trials, Path(tmp) / "smac"
            )
    print_table(rows, runs, args.trials)


def print_table(rows: list[tuple], runs: dict[str, float], trials: int) -> None:
    print()
    print(
        f"{'function':<25} {'backend':<13} {'median ms':>10} {'p95 ms':>8} "
        f"{'overhead median ms':>19} {'overhead p95 ms':>16}"
    )
    for label, name, med, high, over_med, over_high in rows:
        overhead = ("-", "-") if name == "in-process" else (f"{over_med:.1f}", f"{over_high:.1f}")
        print(f"{label:<25} {name:<13} {med:>10.1f} {high:>8.1f} {overhead[0]:>19} {overhead[1]:>16}")
    if runs:
        base = runs["in-process"]
        print()
        print(f"{trials}-trial iris SMAC run   wall s   ratio to in-process")
        for name, seconds in runs.items():
            print(f"{name:<24} {seconds:>7.1f}   {seconds / base:>6.2f}x")


if __name__ == "__main__":
    main()
