"""optimize: SMAC over the verified space; every trial runs in a warm sandbox.

Each optimizer worker owns one sandbox for the whole search: a thread of this process, or
with `optimizer.dask` a Dask worker (tools/dask_trials.py). A trial that times out,
runs out of memory or crashes is told to SMAC with that status and the crash cost, and
the search goes on. Killing the process loses no finished trial: each is in the search's
journal before it is reported, and a resumed run continues from it (tools/smac_tool.py).
"""

from __future__ import annotations

import csv
import json
import time
import warnings
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Literal

from ConfigSpace import ConfigurationSpace
from langgraph.graph import END
from langgraph.types import Send

from graph.config import OptimizerConfig
from graph.state import Decision, SearchSummary
from nodes import alongside
from nodes.code import coder_tasks
from nodes.common import (
    close_started_ahead,
    log,
    open_sandboxes,
    plan_facts,
    plan_objectives,
    run_config,
    run_folder,
    sandbox_recipe,
)
from sandbox.base import CallOutcome
from tools import budget
from tools.dask_trials import DaskError, DaskTrials
from tools.ensemble import OutOfFoldStore, predictions_problem
from tools.errors import RunFailed
from tools.metrics import crash_cost
from tools.pareto import front, trial_points
from tools.results import train_result_problem
from tools.runfolder import SANDBOX_FINAL_TRAIN, SANDBOX_TRAIN_DATA, RunFolder
from tools.scenario import hold_to_budget, parse_scenario_source
from tools.smac_tool import SearchStateError, SmacSearch
from tools.trial_cost import CostBook


def write_trials_table(path, rows: list[dict]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _row_config(row: dict) -> dict:
    return {k.removeprefix("config."): v for k, v in row.items() if k.startswith("config.") and v not in ("", None)}


def crash_report(crashes: list[dict], rows: list[dict], n_trials: int, attempt: int) -> dict:
    """What the train coder is told: the crashed trials' errors and configurations, one per
    distinct error (the tracebacks caught in this process, else the run history's errors)."""
    if not crashes:  # e.g. a resumed search: the run history keeps the error line only
        crashes = [{"error": r["error"], "config": _row_config(r)} for r in rows if r["status"] == "crashed"]
    distinct: dict[str, dict] = {}
    for crash in crashes:
        distinct.setdefault((crash["error"] or "").strip().splitlines()[0][:200], crash)
    return {
        "n_crashed": len([r for r in rows if r["status"] == "crashed"]),
        "n_trials": n_trials,
        "train_attempt": attempt,
        "crashes": list(distinct.values()),
    }


@dataclass
class SearchBook:
    """What a search has seen: trial and crash counts for the crash rule, the crashed
    trials' errors for the coder, and every finished trial appended to trials.jsonl."""

    run: RunFolder
    metric: str
    n_trials: int
    train_attempt: int
    trials: int = 0
    crashed: int = 0
    succeeded: int = 0  # until one trial succeeds, a trial may use the rest of the search
    crashes: list[dict] = field(default_factory=list)
    objectives: list[str] = field(default_factory=list)  # extra objectives, shown per trial

    def note_crash(self, outcome: CallOutcome, trial_config: dict) -> None:
        self.crashes.append({"error": outcome.describe()[:2000], "config": trial_config})

    def on_trial(self, record: dict) -> None:
        self.trials += 1
        self.crashed += record["status"] == "crashed"
        self.succeeded += record["status"] == "success"
        with open(self.run.path(RunFolder.TRIALS_LOG), "a") as fh:
            fh.write(json.dumps({**record, "train_attempt": self.train_attempt}) + "\n")
        score = "" if record["score"] is None else f", CV {self.metric} {record['score']:.4f}"
        score += "".join(f", {k} {record[k]:.4g}" for k in self.objectives if record.get(k) is not None)
        log.info(
            "trial %d/%d %s: loss %.4f%s, %s (%.2f s)%s",
            record["trial"],
            self.n_trials,
            record["status"],
            record["loss"],
            score,
            record["config"].get("model", ""),
            record["seconds"],
            f" [{record['error']}]" if record["error"] else "",
        )


def too_many_crashes(trials: int, crashed: int, opt: OptimizerConfig, can_recode: bool) -> bool:
    """The crash rule: stop the search and recode train once enough trials are in and too
    large a share of them crashed (only when there is a coder to send it back to)."""
    return can_recode and trials >= opt.crash_check_after and crashed / trials > opt.max_crash_share


def decide(summary: SearchSummary, max_crash_share: float) -> Decision:
    """Where the run goes after a search: deploy the incumbent, recode train (the crash
    rule stopped the search), or stop (no trial succeeded)."""
    if summary["stopped_by"] == "crashes":
        return {"step": "code", "components": ["train"], "reason": "too many trials crashed"}
    if summary["incumbent"] is None:
        return {"step": "stop", "reason": f"all {summary['n_trials']} trials failed ({summary['status_counts']})"}
    if summary["failed_share"] > max_crash_share:
        share = f"{summary['failed_share']:.0%}"
        return {"step": "deploy", "reason": f"{share} of trials failed; the incumbent is still used"}
    return {"step": "deploy"}


def keep_out_of_fold(
    outcome: CallOutcome, trial_config: dict, store: OutOfFoldStore, profile: dict, module: str = SANDBOX_FINAL_TRAIN
) -> None:
    """Move a trial's out-of-fold predictions from its result to the store (the search and
    its logs carry only the loss); ones of the wrong shape or not numbers are dropped."""
    predictions = (outcome.result or {}).pop("oof", None) if outcome.ok else None
    if predictions is None or train_result_problem(outcome.result):
        return
    array, problem = predictions_problem(predictions, profile["n_rows"], profile.get("n_classes"))
    if problem:
        log.warning("optimize: out-of-fold predictions dropped (%s)", problem)
        return
    store.add(trial_config, float(outcome.result["loss"]), array, outcome.elapsed, module)


TRIAL_SHARE = 0.5  # of the remaining search time, the most one trial may take ...
MIN_TRIAL_SECONDS = 10.0  # ... but never less than this (unless the search ends sooner)


def trial_timeout(limit: float, seconds_left: float, first: bool = False) -> float:
    """How long one trial may run: the configured trial timeout, at most half of what remains
    of the search (a family whose trials are slow cannot crowd out the rest; SMAC is told it
    timed out and learns what it costs), and never past the search's walltime (at least a
    second, so a trial started at the last moment fails as a timeout, not a bad request).
    Until a first trial has succeeded (`first`) there is nothing to crowd out, and a model
    that takes most of the search beats none: those trials may run to the search's end. (A
    60 s run on an 11,250-row table with a text column failed when its first trials, which
    needed 16-20 s, were stopped at half of the 31 s search.) Once another trial succeeds,
    such a trial is held to the share again (`ShareWatch`)."""
    share = seconds_left if first else max(MIN_TRIAL_SECONDS, TRIAL_SHARE * seconds_left)
    return max(1.0, min(limit, share, seconds_left))


@dataclass
class ShareWatch:
    """stop() for a trial that started before any trial had succeeded: true once one has and
    the trial has run past `share` seconds. With two workers both first trials start
    unbounded; without it, a slow one (extra trees, 43 s on an 11,250-row regression table)
    held its worker for the whole search after the other's first trial succeeded in 5 s."""

    book: SearchBook
    share: float
    started: float = field(default_factory=time.monotonic)
    fired: bool = False

    def __call__(self) -> bool:
        self.fired = self.book.succeeded > 0 and time.monotonic() - self.started > self.share
        return self.fired


def stored_costs(rows: list[dict], whole_budget: float | None) -> CostBook:
    """The cost book of a search's stored trials at the whole budget (a resumed search's)."""
    costs = CostBook()
    for row in rows:
        if row["budget"] in (None, whole_budget):
            costs.record(_row_config(row), row["status"], float(row["seconds"]))
    return costs


def predicted_too_slow(costs: CostBook, trial_config: dict, timeout: float) -> CallOutcome | None:
    """A timeout, told without running, for a trial predicted to need more than `timeout`
    seconds (tools/trial_cost.py); None for a trial that should run."""
    guess = costs.predict(trial_config)
    if guess is None or guess[0] <= timeout:
        return None
    seconds, based_on = guess
    why = f"not started: predicted {seconds:.0f} s from {based_on} earlier {trial_config['model']} trial(s)"
    return CallOutcome("timeout", error=f"{why}; it would get {timeout:.0f} s")


def trial_evaluator(run_trial, book: SearchBook, config, spec, state: dict, store: OutOfFoldStore, costs: CostBook):
    """evaluate(worker, config, seed, budget, seconds_left) -> CallOutcome for SmacSearch."""
    limit = config.sandbox.trial_timeout
    info = plan_facts(state)

    def evaluate(worker: int, trial_config: dict, seed: int, budget: float | None, seconds_left: float):
        timeout = trial_timeout(limit, seconds_left, first=not book.succeeded)
        whole = budget is None or budget == spec.max_budget  # a model as deployed, not a cheaper look
        skipped = predicted_too_slow(costs, trial_config, timeout) if whole else None
        if skipped:
            return skipped
        share = trial_timeout(limit, seconds_left)
        stop = ShareWatch(book, share) if share < timeout else None
        request = {
            "module": SANDBOX_FINAL_TRAIN,
            "data": SANDBOX_TRAIN_DATA,
            "config": trial_config,
            "seed": seed,
            "budget": budget,
            "info": info,
        }
        outcome = run_trial(worker, request, timeout, stop)
        if stop is not None and stop.fired:
            outcome.error = f"stopped at its share of the remaining search time ({share:.0f} s): a trial had succeeded"
        elif outcome.status == "timeout" and timeout < limit:
            where = "the search walltime" if timeout >= seconds_left else "its share of the remaining search time"
            outcome.error = f"stopped at {where} ({timeout:.0f} s of {spec.walltime:g} s); {outcome.error}"
        if outcome.status == "crashed":
            book.note_crash(outcome, trial_config)
        if whole:  # an ensemble of models as deployed
            costs.record(trial_config, outcome.status, outcome.elapsed)
            keep_out_of_fold(outcome, trial_config, store, state["profile"])
        elif outcome.result:
            outcome.result.pop("oof", None)
        return outcome

    return evaluate


def within_run_budget(state: dict, run: RunFolder, spec, walltime: float):
    """The scenario with the search's share of the run's walltime (tools/budget.py): the
    split is made when the search first starts and kept for resumes and recodes."""
    saved = run.read_json(RunFolder.BUDGET)
    before = saved["before_search"] if saved else budget.before_search(state.get("started"))
    share = budget.split(walltime, before)
    if share != saved:  # first start, or a walltime raised on --resume
        run.write_json(RunFolder.BUDGET, share)
        run.event("optimize", "walltime split", **share)
        log.info(
            "optimize: %g s of the run's %g s for the search (%.0f s before it, %.0f s kept for deploy)",
            share["search"],
            walltime,
            share["before_search"],
            share["deploy"],
        )
    return spec.model_copy(update={"walltime": min(spec.walltime, share["search"])})


def open_search(state: dict, run: RunFolder, config) -> tuple[SmacSearch, object]:
    """SMAC over the verified space and scenario, continuing a stored run history."""
    space = ConfigurationSpace.from_serialized_dict(json.loads(run.final_space.read_text()))
    opt = config.optimizer
    spec, lowered = hold_to_budget(
        parse_scenario_source(run.final_scenario.read_text()), opt.n_trials, opt.walltime, opt.workers
    )
    if lowered:
        run.event("optimize", "scenario held to the configured budget", lowered=lowered)
        log.warning("optimize: the scenario asked for more than the config allows: %s", "; ".join(lowered))
    # A budget raised on --resume above the planned one extends the search (more trials or time).
    planned = state["plan"]["scenario"]
    raised = {
        key: value
        for key, value in (("n_trials", opt.n_trials), ("walltime", opt.walltime))
        if value > planned[key] and value > getattr(spec, key)
    }
    if raised:
        spec = spec.model_copy(update=raised)
        run.event("optimize", "search extended on resume", **raised)
    recodes = state.get("recodes", 0)
    # A fresh SMAC folder per recoded training function: the broken one's costs stay out.
    smac_dir = run.smac if not recodes else run.folder("smac", f"recode-{recodes}")
    try:
        search = SmacSearch(
            space,
            spec,
            smac_dir,
            crash_cost(state["plan"]["metric"]),
            seed=config.seed,
            start=state["plan"].get("portfolio"),
            objectives=plan_objectives(state["plan"]),
        )
    except SearchStateError as exc:
        raise RunFailed(str(exc)) from None
    if search.finished:
        log.info("optimize: resuming the search after %d finished trials", search.finished)
    run.event(
        "optimize",
        "search started",
        facade=spec.facade,
        n_trials=spec.n_trials,
        walltime=spec.walltime,
        workers=spec.n_workers,
        resumed_from=search.finished,
    )
    return search, spec


def ensemble_reserve(state: dict, config, store: OutOfFoldStore, sandboxes: int):
    """reserve() for the search: the time deploy needs to refit an ensemble of the best
    trials so far (tools/budget.py), or None where deploy refits one model (a pick from a
    front)."""
    if plan_objectives(state["plan"]):
        return None
    walltime, folds = config.optimizer.walltime, config.optimizer.cv_folds
    return lambda: budget.ensemble_reserve(walltime, [e.get("seconds") for e in store.entries()], folds, sandboxes)


def optimize(state: dict) -> dict:
    config, run = run_config(state), run_folder(state)
    search, spec = open_search(state, run, config)
    train = state["components"]["train"]
    before = search.result().status_counts
    book = SearchBook(
        run,
        state["plan"]["metric"],
        spec.n_trials,
        train["attempt"],
        trials=sum(before.values()),
        crashed=before.get("crashed", 0),
        succeeded=before.get("success", 0),
        objectives=plan_objectives(state["plan"]),
    )
    # Only an LLM-written training function goes back to its coder: the template would
    # come back the same.
    can_recode = train["author"] == "llm" and state.get("recodes", 0) < config.coder.max_recodes

    def should_stop() -> str | None:
        return "crashes" if too_many_crashes(book.trials, book.crashed, config.optimizer, can_recode) else None

    with ExitStack() as stack, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SMAC's surrogate warns on tiny histories
        run_trial = _trial_runner(stack, state, spec.n_workers)
        # The budget is split once the sandboxes are up: their start is set-up, not search.
        search.spec = spec = within_run_budget(state, run, spec, config.optimizer.walltime)
        store = OutOfFoldStore(run.out_of_fold(state.get("recodes", 0)))
        portfolio, spec = portfolio_alongside(state, run, search, run_trial, store)
        book.succeeded += sum(t["loss"] is not None for t in portfolio)  # a result to deploy already
        costs = stored_costs(search.trials(), spec.max_budget)
        evaluate = trial_evaluator(run_trial, book, config, spec, state, store, costs)
        reserve = ensemble_reserve(state, config, store, spec.n_workers)
        result = search.run(evaluate, spec.n_workers, book.on_trial, should_stop, reserve)

    rows = search.trials()
    write_trials_table(run.path(RunFolder.TRIALS_TABLE), rows + alongside.as_rows(portfolio))
    summary = alongside.better_incumbent(_search_summary(result, rows, plan_objectives(state["plan"])), portfolio)
    run.write_json(RunFolder.SEARCH, summary)
    run.event("optimize", "search finished", **summary)
    decision = decide(summary, config.optimizer.max_crash_share)
    update: dict = {"search": summary, "decision": decision}
    if decision["step"] == "code":
        report = crash_report(book.crashes, rows, result.n_trials, train["attempt"])
        return {**update, **_back_to_coder(state, report, rows)}
    if decision["step"] == "stop":
        update["failure"] = f"{decision['reason']}; see {run.path(RunFolder.TRIALS_TABLE)} for the errors"
    elif decision.get("reason"):
        log.warning("optimize: %s", decision["reason"])
    return update


ALONGSIDE_SHARE = 0.4  # of the search's time, the most the built-in portfolio may take beside an LLM's


def portfolio_alongside(state: dict, run: RunFolder, search: SmacSearch, run_trial, store: OutOfFoldStore):
    """Beside an LLM's components, the built-in portfolio's trials (nodes/alongside.py) first;
    returns them and the scenario, its walltime less the time they took."""
    spec = search.spec
    if not alongside.wanted(state):
        return [], spec
    started = time.monotonic()

    def keep(outcome: CallOutcome, config: dict, module: str) -> None:
        keep_out_of_fold(outcome, config, store, state["profile"], module)

    trials = alongside.run_portfolio(state, run, run_trial, spec.n_workers, keep, ALONGSIDE_SHARE * spec.walltime)
    search.spec = spec.model_copy(update={"walltime": max(1.0, spec.walltime - (time.monotonic() - started))})
    return trials, search.spec


def _trial_runner(stack: ExitStack, state: dict, n_workers: int):
    """run_trial(worker, request, timeout, stop=None) -> CallOutcome: on Dask, or in one warm sandbox per
    worker thread. The sandboxes (or the Dask client) close with `stack`."""
    config = run_config(state)
    if config.optimizer.dask:
        try:
            trials = stack.enter_context(
                DaskTrials(config.optimizer.dask, n_workers, sandbox_recipe(state, name="trial"))
            )
        except DaskError as exc:  # e.g. the scheduler went away before a --resume
            raise RunFailed(str(exc)) from None
        close_started_ahead()  # verification's, started ahead

        def run_on_dask(worker: int, request: dict, timeout: float, stop=None) -> CallOutcome:
            return trials.evaluate(request, timeout)  # a Dask worker's trial runs to its timeout

        return run_on_dask

    sandboxes = open_sandboxes(stack, state, [f"trial-worker-{i}" for i in range(n_workers)])
    close_started_ahead()  # any started ahead beyond the search's workers

    def run_in_sandbox(worker: int, request: dict, timeout: float, stop=None) -> CallOutcome:
        outcome = sandboxes[worker].call("train", timeout=timeout, stop=stop, **request)
        outcome.where = f"thread {worker}"
        return outcome

    return run_in_sandbox


def _search_summary(result, rows: list[dict], extras: list[str]) -> dict:
    failed = sum(v for k, v in result.status_counts.items() if k != "success")
    several = {"objectives": extras, "front": front(trial_points(rows, extras), extras)} if extras else {}
    return {
        "incumbent": result.incumbent,
        "incumbent_loss": result.incumbent_loss,
        "n_trials": result.n_trials,
        "status_counts": result.status_counts,
        "walltime": round(result.walltime, 2),
        "stopped_by": result.stopped_by,
        "failed_share": round(failed / max(1, result.n_trials), 3),
        "workers": sorted({row["worker"] for row in rows if row.get("worker")}),
        **several,
    }


def _back_to_coder(state: dict, report: dict, rows: list[dict]) -> dict:
    """Too many trials crashed: keep this search's trials and crash report, and count a recode."""
    config, run = run_config(state), run_folder(state)
    number = state.get("recodes", 0) + 1
    write_trials_table(run.path(run.abandoned_trials(number)), rows)
    run.write_json(run.crash_report(number), report)
    first = report["crashes"][0]["error"].splitlines()[0] if report["crashes"] else None
    run.event(
        "optimize",
        "too many trials crashed: train goes back to its coder",
        crashed=report["n_crashed"],
        trials=report["n_trials"],
        train_attempt=report["train_attempt"],
        recode=number,
        error=first,
    )
    log.warning(
        "optimize: %d of %d trials crashed; the training function goes back to its coder (recode %d of at most %d)",
        report["n_crashed"],
        report["n_trials"],
        number,
        config.coder.max_recodes,
    )
    return {"crash_report": report, "recodes": number}


def route_after_optimize(state: dict) -> list[Send] | Literal["deploy", "__end__"]:
    """Follow optimize's decision: deploy the incumbent; or send the training function back
    to its coder with the crash reports (the other components are kept); or stop."""
    decision = state.get("decision") or {}
    if state.get("failure") or decision.get("step") == "stop":
        return END
    if decision["step"] == "code":
        return [
            Send("code", {**task.arg, "crash_report": state["crash_report"]})
            for task in coder_tasks(state, decision["components"])
        ]
    return "deploy"
