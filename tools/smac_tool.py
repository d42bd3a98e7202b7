"""The SMAC tool: Bayesian optimization over a verified space, trials run in sandboxes.

SMAC is driven through ask/tell rather than `optimize()` so that the sandbox decides a
trial's status (TIMEOUT, MEMORYOUT, CRASHED are SMAC's own words), so that several warm
sandboxes can evaluate in parallel, and so that a killed run continues where it stopped:
SMAC saves its run history after every `tell`, and with `overwrite=False` a new process
with the same scenario picks it up (DESIGN.md, principle 5).
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
from smac.multi_objective.parego import ParEGO
from smac.runhistory import RunHistory
from smac.runhistory.dataclasses import TrialInfo, TrialValue
from smac.runhistory.enumerations import StatusType

from sandbox.base import CallOutcome
from tools.results import train_result_problem
from tools.scenario import ScenarioSpec
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
        self.space, self.spec, self.crash_cost = space, spec, crash_cost
        self.start = list(start or [])
        self.objectives = list(objectives or [])
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
        self.smac, previous = self._facade_continuing()
        if previous is not None:
            self._replay(previous)
        self._progress_file = self.output_dir / "progress.json"

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
        """The facade, continuing a stored run; returns (facade, folder of a replaced run).

        When the stored scenario or facade differs from this one (say, more trials), SMAC
        asks on stdin what to do, which dies without a terminal (FIELD-NOTES). We answer
        instead: keep the old folder beside the new one and replay its trials into the new
        run. SMAC makes the comparison itself, with the facade's components included.
        """
        self._restore_saved_state()
        try:
            with patch("builtins.input", side_effect=_StoredRunDiffers):
                return self._facade(), None
        except _StoredRunDiffers:
            stored = self.output_dir / "search" / str(self.scenario.seed)
            aside = stored.with_name(f"{stored.name}-previous-{int(time.time() * 1000)}")
            shutil.move(stored, aside)
            log.warning("the stored SMAC run used another scenario; replaying its trials into a new one")
            return self._facade(), aside

    # SMAC rewrites these in place after every trial: a kill mid-write tears one. A copy of
    # each, taken after every complete save, is what a resume falls back to.
    STATE_FILES = ("runhistory.json", "intensifier.json", "optimization.json")

    @property
    def _state_folder(self) -> Path:
        return self.output_dir / "search" / str(self.scenario.seed)

    def _save(self) -> None:
        self.smac.optimizer.save()
        for name in self.STATE_FILES:
            source = self._state_folder / name
            if source.exists():
                tmp = self._state_folder / f".{name}.tmp"
                shutil.copyfile(source, tmp)
                tmp.replace(self._state_folder / f"{name}.saved")

    def _restore_saved_state(self) -> None:
        """Put back the last complete copy of a torn state file; a torn file with no copy is
        one line naming it (SearchStateError), never a stranded run."""
        for name in self.STATE_FILES:
            path = self._state_folder / name
            if not path.exists():
                continue
            try:
                json.loads(path.read_text())
            except ValueError:
                saved = self._state_folder / f"{name}.saved"
                if not saved.exists():
                    raise SearchStateError(
                        f"{path} is unreadable (torn by a kill?) and has no saved copy; "
                        f"remove {self._state_folder} to start this search afresh"
                    ) from None
                shutil.copyfile(saved, path)
                log.warning("%s was unreadable (torn by a kill?): its last complete copy is used", path)

    def _replay(self, previous: Path) -> None:
        old = RunHistory()
        try:
            old.load(previous / "runhistory.json", self.space)
        except Exception as exc:  # noqa: BLE001 - e.g. a different configuration space
            log.warning("could not replay the previous SMAC run (%s); starting afresh", exc)
            return
        for key, value in old.items():
            info = TrialInfo(
                config=old.get_config(key.config_id), instance=key.instance, seed=key.seed, budget=key.budget
            )
            self.smac.tell(info, value, save=False)
        self.smac.optimizer.save()

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
    ) -> SearchResult:
        """Trials until n_trials, the walltime, or `should_stop()` names a reason to stop
        (checked after every finished trial; trials in flight still finish and are told).

        The walltime is a promise to the user: each trial is handed what remains of it, so a
        trial still running when time is up is stopped and told to SMAC as a timeout.
        """
        lock = threading.Lock()
        spent_before = self._used_walltime()
        started = time.monotonic()
        stopped_by = "n_trials"

        def elapsed() -> float:
            return spent_before + time.monotonic() - started

        def one_trial(worker: int, info: TrialInfo) -> tuple[TrialInfo, CallOutcome]:
            seconds_left = self.spec.walltime - elapsed()
            return info, evaluate(worker, plain(info.config), info.seed or 0, info.budget, seconds_left)

        in_flight: dict[Future, int] = {}
        with ThreadPoolExecutor(max_workers=workers) as pool:
            idle = list(range(workers))
            while True:
                while idle and stopped_by == "n_trials" and self.finished + len(in_flight) < self.spec.n_trials:
                    if elapsed() >= self.spec.walltime:
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
