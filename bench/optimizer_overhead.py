"""The optimizer's own seconds per trial: `python bench/optimizer_overhead.py [--trials 200] [--repeats 3]`.

Trials that cost nothing (a deterministic synthetic loss of the configuration, computed in
microseconds in this process, no sandbox), so every second measured is the optimizer's:

- `ours`: tools/smac_tool.SmacSearch as the optimize node sets it up (the plan's HPO facade,
  the tabular portfolio after the default, each trial appended to the search's journal and
  SMAC's own files written when due, progress.json, trials.jsonl through the node's
  SearchBook), one worker.
- `smac`: plain SMAC with its defaults for the same facade (HyperparameterOptimizationFacade
  with its own surrogate, intensifier, initial design, config selector and acquisition
  maximizer), ask/tell, `tell` saving the run history after every trial as it does by default.

Both search the tabular template's real space (conditional, seven families; classification
with categorical columns and missing values, the largest form) for the same n_trials.
Per trial, the wall seconds from the end of one trial to the end of the next (ask +
evaluate + tell + save + bookkeeping; the evaluation itself is a few microseconds), split
into ask, tell and save by timers around them; `other` is the rest (for `ours`: the journal
line, progress.json, trials.jsonl, the worker thread), `cpu` is this process's CPU seconds.
Repeat r uses seed r, and each repeat runs the variants in turns so that load from elsewhere
on the machine falls on both alike; a table cell is the median over repeats of the block's
mean (the best-loss column: the median over repeats of the best loss up to the block's end).
The machine's load average and the share of its CPU time other processes used during the
measurement are printed with the table.

Target (issue 15): ours <= 0.2 s per trial at 200 trials, overall and in the last block.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The surrogate is scikit-learn's random forest: one thread, as in the agent on a busy machine.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from ConfigSpace import ConfigurationSpace  # noqa: E402
from ConfigSpace.hyperparameters import NumericalHyperparameter  # noqa: E402
from smac import HyperparameterOptimizationFacade, Scenario  # noqa: E402
from smac.runhistory.dataclasses import TrialValue  # noqa: E402

from nodes.optimize import SearchBook  # noqa: E402
from sandbox.base import CallOutcome  # noqa: E402
from tools.metrics import crash_cost  # noqa: E402
from tools.runfolder import RunFolder  # noqa: E402
from tools.scenario import ScenarioSpec  # noqa: E402
from tools.smac_tool import SmacSearch, plain  # noqa: E402
from tools.templates import fill_parameters, get  # noqa: E402

VARIANTS = ("ours", "smac")
PARTS = ("ask", "tell", "save")
# A family's loss floor: the synthetic landscape has a best family and a best region in each.
FAMILY_LOSS = {"hgb": 0.10, "random_forest": 0.12, "extra_trees": 0.13, "svm": 0.14, "mlp": 0.15, "linear": 0.17}


def tabular_space(task: str, categorical: bool, missing: bool) -> ConfigurationSpace:
    """The built-in coder's tabular space for this data, as the optimize node reads it (the
    serialised form verify writes). Template code is trusted: that is why it may run here."""
    template = get("tabular")
    values = {
        "TASK": task,
        "FAMILIES": list(template.families),
        "HAS_CATEGORICAL": categorical,
        "HAS_MISSING": missing,
        "N_ROWS": 1000,
    }
    namespace: dict = {}
    exec(compile(fill_parameters(template.source("configspace"), values), "tabular/configspace.py", "exec"), namespace)
    serialised = json.loads(json.dumps(namespace["get_configspace"]().to_serialized_dict()))
    return ConfigurationSpace.from_serialized_dict(serialised)


def synthetic_loss(space: ConfigurationSpace):
    """loss(config dict) -> float: deterministic and structured (a floor per family, a bowl
    around a fixed point of each active numeric hyperparameter's unit scale, a small cost per
    categorical choice off its default), so the surrogate has something to learn."""
    numeric = {hp.name: hp for hp in space.values() if isinstance(hp, NumericalHyperparameter)}
    centre = {name: zlib.crc32(name.encode()) % 1000 / 1000 for name in numeric}
    defaults = {hp.name: hp.default_value for hp in space.values()}

    def loss(config: dict) -> float:
        total = FAMILY_LOSS.get(config["model"], 0.2)
        for name, value in config.items():
            if name in numeric:
                total += 0.05 * (float(numeric[name].to_vector(value)) - centre[name]) ** 2
            elif name != "model" and value != defaults[name]:
                total += 0.005
        return total

    return loss


class Clock:
    """Per-trial seconds of the optimizer, split into the parts timed around its calls."""

    def __init__(self) -> None:
        self.trials: list[dict] = []
        self.current = dict.fromkeys(PARTS, 0.0)
        self.start()

    def timed(self, part: str, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.current[part] += time.perf_counter() - started

        return wrapper

    def start(self) -> None:
        self.mark, self.cpu = time.perf_counter(), time.process_time()

    def trial_done(self, loss: float) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.trials.append({"total": now - self.mark, "cpu": cpu - self.cpu, "loss": loss, **self.current})
        self.current, self.mark, self.cpu = dict.fromkeys(PARTS, 0.0), now, cpu


def smac_tool_at(commit: str):
    """SmacSearch as tools/smac_tool.py was at an earlier commit (the rest of the tree as now),
    for a before/after comparison in one process, under the same load."""
    source = subprocess.run(
        ["git", "show", f"{commit}:tools/smac_tool.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType(f"smac_tool_at_{commit}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{commit}:tools/smac_tool.py", "exec"), module.__dict__)
    return module.SmacSearch


def run_ours(
    space: ConfigurationSpace, trials: int, seed: int, folder: Path, search_class=SmacSearch
) -> tuple[list[dict], float]:
    """SmacSearch as nodes/optimize.open_search and optimize() use it, on the tabular plan."""
    run = RunFolder(folder)
    spec = ScenarioSpec(facade="hpo", n_trials=trials, walltime=1e9, n_workers=1, deterministic=True, seed=seed)
    loss_of = synthetic_loss(space)
    started = time.perf_counter()
    tabular = get("tabular")
    portfolio = tabular.portfolio({"task": "classification"}, list(tabular.families))
    search = search_class(space, spec, run.smac, crash_cost("accuracy"), seed=seed, start=portfolio)
    setup = time.perf_counter() - started
    book = SearchBook(run, "accuracy", trials, train_attempt=1)
    clock = Clock()
    search.smac.ask = clock.timed("ask", search.smac.ask)
    search.smac.tell = clock.timed("tell", search.smac.tell)
    search._save = clock.timed("save", search._save)

    def evaluate(worker, config, seed, budget, seconds_left) -> CallOutcome:
        loss = loss_of(config)
        return CallOutcome("success", result={"loss": loss, "score": 1.0 - loss}, elapsed=0.0)

    def on_trial(record: dict) -> None:
        book.on_trial(record)
        clock.trial_done(record["loss"])

    clock.start()
    result = search.run(evaluate, workers=1, on_trial=on_trial)
    assert result.n_trials == trials, result
    return clock.trials, setup


def run_smac(space: ConfigurationSpace, trials: int, seed: int, folder: Path) -> tuple[list[dict], float]:
    """Plain SMAC: the facade's defaults, ask/tell, `tell` saving as it does by default."""
    loss_of = synthetic_loss(space)

    def unused(config, seed: int = 0) -> float:  # ask/tell evaluates; the facade wants one
        raise NotImplementedError

    started = time.perf_counter()
    scenario = Scenario(space, deterministic=True, n_trials=trials, seed=seed, output_directory=folder, name="plain")
    smac = HyperparameterOptimizationFacade(scenario, unused, overwrite=True, logging_level=40)
    setup = time.perf_counter() - started
    clock = Clock()
    smac.optimizer.save = clock.timed("save", smac.optimizer.save)
    clock.start()
    for _ in range(trials):
        part = time.perf_counter()
        info = smac.ask()
        clock.current["ask"] += time.perf_counter() - part
        loss = loss_of(plain(info.config))
        part = time.perf_counter()
        smac.tell(info, TrialValue(cost=loss, time=0.0))
        clock.current["tell"] += time.perf_counter() - part - clock.current["save"]
        clock.trial_done(loss)
    return clock.trials, setup


class MachineLoad:
    """How busy the machine was meanwhile: load average, and the share of all cores' time
    that processes other than this one used (from /proc/stat and this process's CPU time)."""

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK")
        self.start = self._sample()
        self.loads = [os.getloadavg()[0]]

    @staticmethod
    def _cpu() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields[:8]) - idle, sum(fields[:8])

    def _sample(self) -> tuple[int, int, float]:
        busy, total = self._cpu()
        times = os.times()
        return busy, total, times.user + times.system

    def note(self) -> None:
        self.loads.append(os.getloadavg()[0])

    def summary(self) -> str:
        busy, total, ours = (b - a for a, b in zip(self.start, self._sample(), strict=True))
        others = max(0.0, busy - ours * self.tick) / total if total else 0.0
        mine = ours * self.tick / total if total else 0.0
        return (
            f"{os.cpu_count()} cores; 1-min load average {min(self.loads):.2f}-{max(self.loads):.2f} "
            f"(sampled between runs); of all cores' time meanwhile, this benchmark used {mine:.0%} "
            f"and other processes {others:.0%}"
        )


def blocks(trials: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, trials)) for start in range(0, trials, size)]


def summarise(runs: dict[str, list[list[dict]]], trials: int, size: int) -> list[dict]:
    """One row per variant and block (and overall): median over repeats of the mean seconds."""
    rows = []
    for name, repeats in runs.items():
        for trial in (t for r in repeats for t in r):
            trial["other"] = trial["total"] - sum(trial[p] for p in PARTS)
        spans = [*blocks(trials, size), (0, trials)]
        for first, last in spans:
            row = {"variant": name, "trials": f"{first + 1}-{last}" if (first, last) != (0, trials) else "all"}
            for part in ("total", *PARTS, "other", "cpu"):
                row[part] = statistics.median(statistics.fmean(t[part] for t in r[first:last]) for r in repeats)
            row["worst"] = statistics.median(max(t["total"] for t in r[first:last]) for r in repeats)
            row["best loss"] = statistics.median(min(t["loss"] for t in r[:last]) for r in repeats)
            rows.append(row)
    return rows


def print_table(rows: list[dict], setups: dict[str, list[float]], repeats: int, load: str, commit: str) -> None:
    print()
    print(f"Optimizer seconds per trial, median of {repeats} repeats (commit {commit}; {load}).")
    print()
    print("| optimizer | trials | s/trial | ask | tell | save | other | cpu | slowest trial s | best loss so far |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        trials = f"**{row['trials']}**" if row["trials"] == "all" else row["trials"]
        print(
            f"| {row['variant']} | {trials} | {row['total']:.3f} | {row['ask']:.3f} | {row['tell']:.3f} "
            f"| {row['save']:.3f} | {row['other']:.3f} | {row['cpu']:.3f} | {row['worst']:.2f} "
            f"| {row['best loss']:.4f} |"
        )
    print()
    for name, values in setups.items():
        print(f"{name}: facade set-up {statistics.median(values):.2f} s (median), not counted per trial")


def commit_hash() -> str:
    """The commit measured, marked when the optimizer's code differs from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "tools", "nodes"], cwd=ROOT, capture_output=True)
    return (head.stdout.strip() or "unknown") + (" with uncommitted changes" if dirty.stdout.strip() else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--block", type=int, default=50, help="trials per row of the table")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--before", metavar="COMMIT", help="also ours with tools/smac_tool.py as at COMMIT")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the first repeat of each variant into FILE.VARIANT")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")  # as the optimize node: SMAC's surrogate warns on tiny histories

    space = tabular_space("classification", categorical=True, missing=True)
    print(
        f"space: {len(space)} hyperparameters, {len(space.conditions)} conditions, {len(space.forbidden_clauses)} "
        f"forbidden clauses; {args.trials} trials x {args.repeats} repeats"
    )
    runners = {"ours": run_ours}
    if args.before:
        runners[f"ours at {args.before}"] = functools.partial(run_ours, search_class=smac_tool_at(args.before))
    runners["smac"] = run_smac
    runners = {name: run for name, run in runners.items() if name.split()[0] in args.variants}
    runs: dict[str, list[list[dict]]] = {name: [] for name in runners}
    setups: dict[str, list[float]] = {name: [] for name in runners}
    load = MachineLoad()
    for repeat in range(args.repeats):
        for name, runner in runners.items():
            with tempfile.TemporaryDirectory(prefix=f"optimizer-overhead-{name}-") as tmp:
                if args.profile and repeat == 0:
                    import cProfile

                    profiler = cProfile.Profile()
                    trials, setup = profiler.runcall(runner, space, args.trials, repeat, Path(tmp))
                    profiler.dump_stats(f"{args.profile}.{name.replace(' ', '-')}")
                else:
                    trials, setup = runner(space, args.trials, repeat, Path(tmp))
            runs[name].append(trials)
            setups[name].append(setup)
            load.note()
            seconds = sum(t["total"] for t in trials)
            print(f"repeat {repeat + 1} {name}: {seconds:.1f} s, {seconds / args.trials:.3f} s/trial", flush=True)
    print_table(summarise(runs, args.trials, args.block), setups, args.repeats, load.summary(), commit_hash())


if __name__ == "__main__":
    main()
