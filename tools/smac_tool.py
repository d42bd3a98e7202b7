"""The SMAC tool: Bayesian optimization over a verified space, trials run in sandboxes.

SMAC is driven through ask/tell rather than `optimize()` so that the sandbox decides a
trial's status (TIMEOUT, MEMORYOUT, CRASHED are SMAC's own words), so that several warm
sandboxes can evaluate in parallel, and so that a killed run continues where it stopped:
every trial told to SMAC is appended at once to a journal beside SMAC's files, SMAC's own
files (the whole run history, rewritten each time) are written every so often and at the
end, and a new process with the same scenario loads them (`overwrite=False`) and tells SMAC
the journal's later trials (DESIGN.md, principle 5).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace
from ConfigSpace.util import deactivate_inactive_hyperparameters
from smac import (
    BlackBoxFacade,
    HyperparameterOptimizationFacade,
    MultiFidelityFacade,
    RandomFacade,
    Scenario,
)
from smac.acquisition.maximizer import LocalSearch
from smac.model.random_forest import RandomForest
from smac.multi_objective.parego import ParEGO
from smac.runhistory import RunHistory
from smac.runhistory.dataclasses import TrialInfo, TrialValue
from smac.runhistory.enumerations import StatusType

from sandbox.base import CallOutcome
from tools.results import train_result_problem
from tools.scenario import ScenarioSpec, one_fidelity
from tools.vocabulary import FACADES

log = logging.getLogger(__name__)

# What a crashed trial costs on each extra objective (the loss's crash cost is the metric's):
# worse than any real latency or size; SMAC scales objectives by the successful trials' range.
OBJECTIVE_CRASH_COST = 1e9

STATUS = {
    "success": StatusType.SUCCESS,
    "timeout": StatusType.TIMEOUT,
    "memoryout": StatusType.MEMORYOUT,
    "crashed": StatusType.CRASHED,
}
# SMAC's class for each facade of the vocabulary.
SMAC_FACADES = {
    "hpo": HyperparameterOptimizationFacade,
    "multi_fidelity": MultiFidelityFacade,
    "blackbox": BlackBoxFacade,
    "random": RandomFacade,
}
assert tuple(SMAC_FACADES) == FACADES, "tools/vocabulary.py FACADES and SMAC's classes disagree"


class _RepeatableLocalSearch(LocalSearch):
    """SMAC's local search starts from `list(set(points))`, an order that follows Python's
    per-process string hashing, so one seed proposed different configurations in different
    processes (a resumed or repeated run could not be compared with the first). The same
    start points in a fixed order make the search repeatable."""

    def _get_initial_points(self, *args: Any, **kwargs: Any) -> list:
        points = super()._get_initial_points(*args, **kwargs)
        return sorted(points, key=lambda c: tuple(np.nan_to_num(c.get_array(), nan=-1.0)))


class _StartStrong:
    """SMAC's initial design proposes its space-filling configurations first and the given
    ones (the default, a portfolio) last. Strong configurations first means a good model
    early, whatever the budget: the default, then the portfolio in its order, then the rest."""

    def select_configurations(self) -> list[Configuration]:
        configs = super().select_configurations()
        given = [c for c in configs if c.origin and "Default" in c.origin]
        given += [c for c in configs if c.origin == "start portfolio" and c not in given]
        return given + [c for c in configs if c not in given]


def start_configurations(space: ConfigurationSpace, start: list[dict]) -> list[Configuration]:
    """The space's default, then the start configurations it can hold, each completed with
    the space's defaults for what it leaves out (a portfolio names only what differs). One
    that names a hyperparameter the space lacks (an LLM's space may name them otherwise) or
    breaks a range or a forbidden clause is skipped."""
    defaults = {hp.name: hp.default_value for hp in space.values()}
    configs = [space.get_default_configuration()]
    for values in start:
        if not set(values) <= set(defaults):
            continue
        try:
            config = deactivate_inactive_hyperparameters({**defaults, **values}, space)
            space.check_configuration(config)
        except (ValueError, KeyError, TypeError):
            continue
        if config not in configs:
            config.origin = "start portfolio"
            configs.append(config)
    return configs


SPACE_FILLING = 12  # SMAC's own initial configurations at most (a quarter of 50 trials)


def start_strong(design):
    """The initial design with the default and the portfolio first (see _StartStrong)."""
    design.__class__ = type(f"StartStrong{type(design).__name__}", (_StartStrong, type(design)), {})
    return design


def repeatable(maximizer):
    """The acquisition maximizer with its local search made repeatable (see above)."""
    if isinstance(getattr(maximizer, "_local_search", None), LocalSearch):
        maximizer._local_search.__class__ = _RepeatableLocalSearch
    return maximizer


def surrogate(scenario: Scenario) -> RandomForest:
    """The random forest of SMAC's HPO and multi-fidelity facades (`get_model`'s settings),
    with two of its constructor's arguments changed that cost time, not model quality.
    `max_leaf_nodes`: SMAC's 2**20 never binds on a few hundred points, but it makes
    scikit-learn grow each tree best-first into a buffer sized for 2**21 nodes (~0.1 s a
    tree, a second a refit); None grows the same kind of tree depth-first. `n_jobs`: SMAC's
    -1 starts a thread pool for every prediction of ten small trees (~10 ms each, and SMAC
    predicts each evaluated configuration separately at every refit); one thread does it
    in a fraction of that and leaves the cores to the trials."""
    return RandomForest(
        scenario.configspace,
        log_y=True,
        n_trees=10,
        bootstrapping=True,
        ratio_features=1.0,
        min_samples_split=2,
        min_samples_leaf=1,
        max_depth=2**20,
        instance_features=scenario.instance_features,
        seed=scenario.seed,
        max_leaf_nodes=None,
        n_jobs=1,
    )


# evaluate(worker, config, seed, budget, seconds_left) -> CallOutcome; `worker` picks a warm
# sandbox, and a trial should be stopped after `seconds_left` (what remains of the walltime).
Evaluate = Callable[[int, dict, int, float | None, float], CallOutcome]


@dataclass
class SearchResult:
    incumbent: dict | None
    incumbent_loss: float | None
    n_trials: int  # finished trials in the run history, across resumes
    status_counts: dict[str, int]
    walltime: float  # seconds spent searching, across resumes
    stopped_by: str


def plain(config: Any) -> dict:
    """A configuration as JSON-able Python values (ConfigSpace hands out numpy scalars)."""
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in dict(config).items()}


class _StoredRunDiffers(Exception):
    """SMAC wanted to ask the user about a stored run that differs from this one."""


class SearchStateError(RuntimeError):
    """SMAC's saved state cannot be read; the message names the file and what to do."""


def _readable(path: Path) -> bool:
    try:
        json.loads(path.read_text())
    except ValueError:
        return False
    return True


def _finished(history: RunHistory) -> list[tuple[TrialInfo, TrialValue]]:
    """The finished trials of a run history, in the order SMAC stored them."""
    return [
        (TrialInfo(config=history.get_config(k.config_id), instance=k.instance, seed=k.seed, budget=k.budget), v)
        for k, v in history.items()
        if v.status != StatusType.RUNNING
    ]


def _jsonable(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def _append(path: Path, entry: dict) -> None:
    """One journal line. A kill mid-write leaves a torn last line, which is not a finished
    trial yet (it has not been reported) and is dropped on resume."""
    with open(path, "a") as fh:
        fh.write(json.dumps(entry, default=_jsonable) + "\n")


def _write_lines(path: Path, entries: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(entry, default=_jsonable) + "\n" for entry in entries))
    tmp.replace(path)  # atomic: a kill never leaves half a journal


def _read_journal(path: Path, repair: bool = False) -> list[dict]:
    """The journal's entries. Only its last line can be torn (by a kill mid-append): it is
    dropped, and with `repair` the file is rewritten without it so that appends go on from
    a whole line. Any other unreadable line is a SearchStateError naming the file."""
    text = path.read_text()
    lines = text.splitlines()
    entries = []
    for number, line in enumerate(lines, start=1):
        try:
            entries.append(json.loads(line))
        except ValueError:
            if number < len(lines):
                raise SearchStateError(
                    f"{path} line {number} is unreadable; remove {path.parent} to start this search afresh"
                ) from None
            log.warning("%s: a torn last line (a kill mid-write) is dropped", path)
    if repair and (len(entries) < len(lines) or (text and not text.endswith("\n"))):
        _write_lines(path, entries)
    return entries


def _target_placeholder(config, seed: int = 0, budget: float | None = None) -> float:
    raise RuntimeError("trials are evaluated through ask/tell in sandboxes, not by SMAC's runner")


class SmacSearch:
    def __init__(
        self,
        space: ConfigurationSpace,
        spec: ScenarioSpec,
        output_dir: Path,
        crash_cost: float,
        seed: int = 0,
        start: list[dict] | None = None,
        objectives: list[str] | None = None,
    ):
        """`start`: configurations to try right after the space's default, in this order, before
        SMAC's own initial design and its model-based search (a portfolio, cheapest first).
        `objectives`: what the loss is traded against (tools/vocabulary.py OBJECTIVES); each
        trial's result must carry them, and SMAC searches them all (ParEGO)."""
        self.objectives = list(objectives or [])
        # The planners already chose full fidelity for several objectives; a scenario written
        # by an LLM coder is held to it here.
        _, held, changed = one_fidelity(spec.facade, spec.model_dump(), self.objectives)
        if changed:
            log.warning("search: %s", changed)
            spec = ScenarioSpec(**held)
        self.space, self.spec, self.crash_cost = space, spec, crash_cost
        self.start = list(start or [])
        self.output_dir = Path(output_dir)
        # A single-objective scenario is left exactly as it was, so stored runs still continue.
        several = {"objectives": ["loss", *self.objectives]} if self.objectives else {}
        self.scenario = Scenario(
            configspace=space,
            name="search",
            output_directory=self.output_dir,
            deterministic=spec.deterministic,
            crash_cost=self._crash_costs() if self.objectives else crash_cost,
            n_trials=spec.n_trials,
            # The walltime is enforced by our loop across resumes; keeping it out of SMAC's
            # scenario lets a resumed run be given more time without a new scenario.
            min_budget=spec.min_budget,
            max_budget=spec.max_budget,
            n_workers=1,  # parallelism is ours (one warm sandbox per worker), not SMAC's runner
            seed=seed,
            use_default_config=True,
            **several,
        )
        self._progress_file = self.output_dir / "progress.json"
        self._saved_at, self._save_seconds = 0.0, 0.0
        self.smac = self._facade_continuing()
        self._catch_up()

    # ---- assembly ---------------------------------------------------------------------

    def _crash_costs(self) -> list[float]:
        return [self.crash_cost] + [OBJECTIVE_CRASH_COST] * len(self.objectives)

    def _facade(self):
        facade = SMAC_FACADES[self.spec.facade]
        kwargs: dict[str, Any] = {"overwrite": False, "logging_level": 40}
        if self.objectives:
            # ParEGO draws new weights for the objectives at every model-based proposal, so
            # the search spreads along the front instead of one fixed blend of them.
            kwargs["multi_objective_algorithm"] = ParEGO(self.scenario)
        if self.spec.facade == "hpo":
            kwargs["intensifier"] = facade.get_intensifier(self.scenario, max_config_calls=1)
            # The surrogate refit is SMAC's own per-trial cost (see FIELD-NOTES): refit after
            # a few trials, search fewer random challengers when trials are cheap.
            kwargs["config_selector"] = facade.get_config_selector(self.scenario, retrain_after=4)
            kwargs["acquisition_maximizer"] = repeatable(
                facade.get_acquisition_maximizer(self.scenario, challengers=2000)
            )
        elif self.spec.facade != "random":
            kwargs["acquisition_maximizer"] = repeatable(facade.get_acquisition_maximizer(self.scenario))
        if self.spec.facade == "multi_fidelity":
            kwargs["intensifier"] = facade.get_intensifier(self.scenario, eta=3)
        if issubclass(facade, HyperparameterOptimizationFacade):  # its random forest, multi-fidelity's too
            kwargs["model"] = surrogate(self.scenario)
        if self.spec.facade != "random":
            kwargs["initial_design"] = start_strong(facade.get_initial_design(self.scenario, **self._design_size()))
        return facade(self.scenario, _target_placeholder, **kwargs)

    def _design_size(self) -> dict:
        """The initial design's arguments: SMAC refuses a design (its own configurations, the
        default and the portfolio) larger than the trials, so the portfolio is cut to what
        fits beside the default and at least one space-filling configuration (SMAC's own are a
        quarter of the trials, at most SPACE_FILLING: a large trial bound, set so that the
        walltime binds, must not turn the search into random draws); with a single trial,
        only the default runs."""
        n_trials = self.spec.n_trials
        if n_trials == 1:
            return {"n_configs": 0, "additional_configs": []}
        own = self.spec.initial_design_size or max(1, min(SPACE_FILLING, int(0.25 * n_trials)))
        return {"n_configs": own, "additional_configs": self._start_configs()[: max(0, n_trials - 1 - own)]}

    def _start_configs(self) -> list[Configuration]:
        return start_configurations(self.space, self.start)[1:]  # the default runs first anyway

    def _facade_continuing(self):
        """The facade, continuing a stored run.

        When the stored scenario or facade differs from this one (say, more trials), SMAC
        asks on stdin what to do, which dies without a terminal (FIELD-NOTES). We answer
        instead: keep the old folder beside the new one, and start the new one with the old
        run's trials in its journal, which _catch_up tells SMAC. SMAC makes the comparison
        itself, with the facade's components included.
        """
        self._recover_state()
        try:
            with patch("builtins.input", side_effect=_StoredRunDiffers):
                return self._facade()
        except _StoredRunDiffers:
            stored = self._state_folder
            entries = self._recorded_trials(stored)
            aside = stored.with_name(f"{stored.name}-previous-{int(time.time() * 1000)}")
            shutil.move(stored, aside)
            stored.mkdir()
            _write_lines(stored / self.JOURNAL, entries)
            log.warning("the stored SMAC run used another scenario; replaying its trials into a new one")
            return self._facade()

    # SMAC's own state, each file rewritten in place when SMAC saves: a kill mid-write tears one.
    STATE_FILES = ("runhistory.json", "intensifier.json", "optimization.json")
    # Every trial told to SMAC, one JSON line each, appended at once: the record a resume
    # trusts. SMAC's files are a snapshot of it, written every so often (see _save_due).
    JOURNAL = "journal.jsonl"
    # Writing SMAC's files costs time that grows with the run history (the whole history is
    # rewritten each time); they are written again once this share of the time since the last
    # write has been spent on writing them, so at most this share of the search goes to them.
    SAVE_SHARE = 0.05

    @property
    def _state_folder(self) -> Path:
        return self.output_dir / "search" / str(self.scenario.seed)

    def _save(self) -> None:
        started = time.monotonic()
        self.smac.optimizer.save()
        self._saved_at = time.monotonic()
        self._save_seconds = self._saved_at - started

    def _save_due(self) -> bool:
        return time.monotonic() - self._saved_at >= self._save_seconds / self.SAVE_SHARE

    def _recover_state(self) -> None:
        """A SMAC file torn by a kill mid-write: SMAC's files are put aside (`*.torn`) and the
        run is rebuilt from the journal. A run from before the journal falls back to the copy
        it kept of each file (`*.saved`); a torn file with neither is one line naming it
        (SearchStateError), never a stranded run."""
        folder = self._state_folder
        torn = [name for name in self.STATE_FILES if (folder / name).exists() and not _readable(folder / name)]
        if not torn:
            return
        if (folder / self.JOURNAL).exists():
            for name in self.STATE_FILES:
                if (folder / name).exists():
                    (folder / name).replace(folder / f"{name}.torn")
            log.warning("%s unreadable (torn by a kill?): SMAC's state is rebuilt from the journal", ", ".join(torn))
            return
        for name in torn:
            saved = folder / f"{name}.saved"
            if not saved.exists():
                raise SearchStateError(
                    f"{folder / name} is unreadable (torn by a kill?) and has no saved copy; "
                    f"remove {folder} to start this search afresh"
                )
            shutil.copyfile(saved, folder / name)
            log.warning("%s was unreadable (torn by a kill?): its last complete copy is used", folder / name)

    def _catch_up(self) -> None:
        """Tell SMAC the finished trials its files lack, then write them.

        SMAC's files hold the journal's first `finished` trials (they are written after the
        journal), so the rest are told: none when the files are up to date, all when they were
        torn and put aside or the run replaces one with another scenario. A run from before
        the journal gets one written from SMAC's run history."""
        journal = self._state_folder / self.JOURNAL
        entries = _read_journal(journal, repair=True) if journal.exists() else []
        if len(entries) < self.finished:
            _write_lines(journal, [self._entry(info, value) for info, value in _finished(self.smac.runhistory)])
            return
        missing = entries[self.finished :]
        for entry in missing:
            self._tell_entry(entry)
        if missing:
            self._save()

    def _recorded_trials(self, folder: Path) -> list[dict]:
        """A stored run's finished trials, as journal entries: its journal, or for a run from
        before the journal, its run history."""
        if (folder / self.JOURNAL).exists():
            return _read_journal(folder / self.JOURNAL)
        old = RunHistory()
        try:
            old.load(folder / "runhistory.json", self.space)
        except Exception as exc:  # noqa: BLE001 - e.g. a different configuration space
            log.warning("could not replay the previous SMAC run (%s); starting afresh", exc)
            return []
        return [self._entry(info, value) for info, value in _finished(old)]

    @staticmethod
    def _entry(info: TrialInfo, value: TrialValue) -> dict:
        return {
            "config": plain(info.config),
            "origin": info.config.origin,
            "instance": info.instance,
            "seed": info.seed,
            "budget": info.budget,
            "cost": value.cost,
            "time": value.time,
            "cpu_time": value.cpu_time,
            "status": int(value.status),
            "starttime": value.starttime,
            "endtime": value.endtime,
            "additional_info": value.additional_info,
        }

    def _tell_entry(self, entry: dict) -> None:
        config = Configuration(self.space, values=entry["config"])
        config.origin = entry["origin"]
        info = TrialInfo(config=config, instance=entry["instance"], seed=entry["seed"], budget=entry["budget"])
        value = TrialValue(
            cost=entry["cost"],
            time=entry["time"],
            cpu_time=entry["cpu_time"],
            status=StatusType(entry["status"]),
            starttime=entry["starttime"],
            endtime=entry["endtime"],
            additional_info=entry["additional_info"],
        )
        self.smac.tell(info, value, save=False)

    # ---- the search loop --------------------------------------------------------------

    @property
    def finished(self) -> int:
        return self.smac.runhistory.finished

    def _used_walltime(self) -> float:
        """Seconds of search earlier processes used (0 when unknown: a torn or missing file
        costs a resumed run a little extra time, never the run)."""
        try:
            return float(json.loads(self._progress_file.read_text())["walltime"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0.0

    def _save_progress(self, walltime: float) -> None:
        tmp = self._progress_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"walltime": walltime}))
        tmp.replace(self._progress_file)  # atomic: a kill never leaves half a file

    def run(
        self,
        evaluate: Evaluate,
        workers: int = 1,
        on_trial: Callable[[dict], None] | None = None,
        should_stop: Callable[[], str | None] | None = None,
        reserve: Callable[[], float] | None = None,
    ) -> SearchResult:
        """Trials until n_trials, the walltime, or `should_stop()` names a reason to stop
        (checked after every finished trial; trials in flight still finish and are told).
        `reserve()`: seconds before the walltime at which the search ends, asked before each
        trial starts (what deploy needs may grow as better trials come in).

        The walltime is a promise to the user: each trial is handed what remains of it, so a
        trial still running when time is up is stopped and told to SMAC as a timeout.
        """
        lock = threading.Lock()
        spent_before = self._used_walltime()
        started = time.monotonic()
        stopped_by = "n_trials"

        def elapsed() -> float:
            return spent_before + time.monotonic() - started

        def seconds_left() -> float:
            return self.spec.walltime - (reserve() if reserve else 0.0) - elapsed()

        def one_trial(worker: int, info: TrialInfo) -> tuple[TrialInfo, CallOutcome]:
            return info, evaluate(worker, plain(info.config), info.seed or 0, info.budget, seconds_left())

        in_flight: dict[Future, int] = {}
        with ThreadPoolExecutor(max_workers=workers) as pool:
            idle = list(range(workers))
            while True:
                while idle and stopped_by == "n_trials" and self.finished + len(in_flight) < self.spec.n_trials:
                    if seconds_left() <= 0:
                        stopped_by = "walltime"
                        break
                    with lock:
                        info = self.smac.ask()
                    worker = idle.pop()
                    in_flight[pool.submit(one_trial, worker, info)] = worker
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    idle.append(in_flight.pop(future))
                    info, outcome = future.result()
                    record = self._tell(info, outcome, lock)
                    self._save_progress(elapsed())
                    if on_trial:
                        on_trial(record)
                    if should_stop and stopped_by == "n_trials":
                        stopped_by = should_stop() or stopped_by
        with lock:
            self._save()  # SMAC's files whole at the end: nothing left for a resume to replay
        return self.result(stopped_by, elapsed())

    def _tell(self, info: TrialInfo, outcome: CallOutcome, lock: threading.Lock) -> dict:
        problem = train_result_problem(outcome.result, self.objectives) if outcome.ok else None
        if problem:  # the host's own check: the worker's ran where generated code could patch it
            outcome = CallOutcome("crashed", error=problem, elapsed=outcome.elapsed, where=outcome.where)
        result = outcome.result or {}
        ok = outcome.ok
        costs = [float(result[name]) for name in ["loss", *self.objectives]] if ok else self._crash_costs()
        value = TrialValue(
            cost=costs if self.objectives else costs[0],
            time=outcome.elapsed,
            status=STATUS[outcome.status],
            additional_info={
                "score": result.get("score"),
                "score_std": result.get("score_std"),
                "error": outcome.error,
                "worker": outcome.where,
            },
        )
        with lock:
            self.smac.tell(info, value, save=False)
            _append(self._state_folder / self.JOURNAL, self._entry(info, value))
            if self._save_due():
                self._save()
            number = self.finished
        return {
            "trial": number,
            "status": outcome.status,
            "loss": costs[0],
            **{name: cost if ok else None for name, cost in zip(self.objectives, costs[1:], strict=True)},
            "score": result.get("score"),
            "seconds": round(outcome.elapsed, 3),
            "budget": info.budget,
            "worker": outcome.where,
            "config": plain(info.config),
            "error": outcome.error,
        }

    def result(self, stopped_by: str = "resumed", walltime: float | None = None) -> SearchResult:
        history = self.smac.runhistory
        counts: dict[str, int] = {}
        for value in history.values():
            if value.status == StatusType.RUNNING:
                continue
            name = value.status.name.lower()
            counts[name] = counts.get(name, 0) + 1
        incumbent = self._best_on_loss() if self.objectives else self.smac.intensifier.get_incumbent()
        loss = None
        if incumbent is not None:
            cost = self._losses().get(incumbent) if self.objectives else history.get_cost(incumbent)
            loss = float(cost) if cost is not None and cost < self.crash_cost else None
            if loss is None:
                incumbent = None
        return SearchResult(
            incumbent=plain(incumbent) if incumbent is not None else None,
            incumbent_loss=loss,
            n_trials=history.finished,
            status_counts=counts,
            walltime=walltime if walltime is not None else self._used_walltime(),
            stopped_by=stopped_by,
        )

    def _losses(self) -> dict[Configuration, float]:
        """Each successful configuration's loss, the first objective (several objectives)."""
        history = self.smac.runhistory
        return {
            history.get_config(key.config_id): float(value.cost[0])
            for key, value in history.items()
            if value.status == StatusType.SUCCESS
        }

    def _best_on_loss(self) -> Configuration | None:
        """With several objectives SMAC keeps a front, not an incumbent: the lowest loss stands
        in for it (deploy picks from the front by the run's rule)."""
        losses = self._losses()
        return min(losses, key=losses.get) if losses else None

    def trials(self) -> list[dict]:
        """Every finished trial from SMAC's run history (the authoritative record)."""
        history = self.smac.runhistory
        rows = []
        finished = [(k, v) for k, v in history.items() if v.status != StatusType.RUNNING]
        for number, (key, value) in enumerate(finished, start=1):
            config = history.get_config(key.config_id)
            info = value.additional_info or {}
            costs = list(value.cost) if self.objectives else [value.cost]
            ok = value.status == StatusType.SUCCESS
            rows.append(
                {
                    "trial": number,
                    "config_id": key.config_id,
                    "status": value.status.name.lower(),
                    "loss": costs[0],
                    **{name: c if ok else None for name, c in zip(self.objectives, costs[1:], strict=True)},
                    "score": info.get("score"),
                    "score_std": info.get("score_std"),
                    "seconds": value.time,
                    "budget": key.budget,
                    "worker": info.get("worker"),
                    "error": info.get("error"),
                    **{f"config.{k}": v for k, v in plain(config).items()},
                }
            )
        return rows
