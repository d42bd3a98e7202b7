"""optimize: SMAC over the verified space; every trial runs in a warm sandbox.

Each optimizer worker owns one sandbox for the whole search: a thread of this process, or
with `optimizer.dask` a Dask worker (tools/dask_trials.py). A trial that times out,
runs out of memory or crashes is told to SMAC with that status and the crash cost, and
the search goes on. Killing the process loses no finished trial: SMAC's run history is
saved after every trial and a resumed run continues from it.
"""

from __future__ import annotations

import csv
import json
import warnings
from contextlib import ExitStack
from typing import Literal

from ConfigSpace import ConfigurationSpace
from langgraph.graph import END
from langgraph.types import Send

from nodes.code import coder_tasks
from nodes.common import RunFailed, log, run_config, run_folder, sandbox_for, sandbox_recipe
from sandbox.base import CallOutcome
from tools.dask_trials import DaskError, DaskTrials
from tools.metrics import crash_cost
from tools.scenario import parse_scenario_source
from tools.smac_tool import SmacSearch


def write_trials_table(path, rows: list[dict]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _row_config(row: dict) -> dict:
    return {k.removeprefix("config."): v for k, v in row.items()
            if k.startswith("config.") and v not in ("", None)}


def crash_report(crashes: list[dict], rows: list[dict], n_trials: int, attempt: int) -> dict:
    """What the train coder is told: the crashed trials' errors and configurations, one per
    distinct error (the tracebacks caught in this process, else the run history's errors)."""
    if not crashes:  # e.g. a resumed search: the run history keeps the error line only
        crashes = [{"error": r["error"], "config": _row_config(r)}
                   for r in rows if r["status"] == "crashed"]
    distinct: dict[str, dict] = {}
    for crash in crashes:
        distinct.setdefault((crash["error"] or "").strip().splitlines()[0][:200], crash)
    return {"n_crashed": len([r for r in rows if r["status"] == "crashed"]), "n_trials": n_trials,
            "train_attempt": attempt, "crashes": list(distinct.values())}


def optimize(state: dict) -> dict:
    config, run = run_config(state), run_folder(state)
    final = run.folder("code", "final")
    space = ConfigurationSpace.from_serialized_dict(json.loads((final / "configspace.json").read_text()))
    spec = parse_scenario_source((final / "scenario.py").read_text())
    metric = state["plan"]["metric"]
    recodes, train = state.get("recodes", 0), state["components"]["train"]
    # A fresh SMAC folder per recoded training function: the broken one's costs stay out.
    smac_dir = run.folder("smac") if not recodes else run.folder("smac", f"recode-{recodes}")
    search = SmacSearch(space, spec, smac_dir, crash_cost(metric), seed=config.seed)
    resumed_from = search.finished
    if resumed_from:
        log.info("optimize: resuming the search after %d finished trials", resumed_from)
    run.event("optimize", "search started", facade=spec.facade, n_trials=spec.n_trials,
              walltime=spec.walltime, workers=spec.n_workers, resumed_from=resumed_from)

    with ExitStack() as stack:
        run_trial = _trial_runner(stack, state, spec.n_workers)
        crashes: list[dict] = []
        before = search.result().status_counts
        seen = {"trials": sum(before.values()), "crashed": before.get("crashed", 0)}
        # Only an LLM-written training function goes back to its coder: the template would
        # come back the same.
        can_recode = train["author"] == "llm" and recodes < config.coder.max_recodes

        def evaluate(worker: int, trial_config: dict, seed: int, budget: float | None,
                     seconds_left: float):
            # A trial never outlives the search's walltime (at least a second, so a trial
            # started at the last moment fails as a timeout rather than as a bad request).
            timeout = max(1.0, min(config.sandbox.trial_timeout, seconds_left))
            outcome = run_trial(worker, {"module": "final/train.py", "data": "train.pkl",
                                         "config": trial_config, "seed": seed, "budget": budget}, timeout)
            if outcome.status == "timeout" and timeout < config.sandbox.trial_timeout:
                outcome.error = f"stopped at the search walltime ({spec.walltime:g} s); {outcome.error}"
            if outcome.status == "crashed":
                crashes.append({"error": outcome.describe()[:2000], "config": trial_config})
            return outcome

        def should_stop() -> str | None:
            opt = config.optimizer
            if can_recode and seen["trials"] >= opt.crash_check_after \
                    and seen["crashed"] / seen["trials"] > opt.max_crash_share:
                return "crashes"
            return None

        def on_trial(record: dict) -> None:
            seen["trials"] += 1
            seen["crashed"] += record["status"] == "crashed"
            with open(run.path("trials.jsonl"), "a") as fh:
                fh.write(json.dumps({**record, "train_attempt": train["attempt"]}) + "\n")
            score = "" if record["score"] is None else f", CV {metric} {record['score']:.4f}"
            log.info("trial %d/%d %s: loss %.4f%s, %s (%.2f s)%s", record["trial"], spec.n_trials,
                     record["status"], record["loss"], score, record["config"].get("model", ""),
                     record["seconds"], f" [{record['error']}]" if record["error"] else "")

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SMAC's surrogate warns on tiny histories
            result = search.run(evaluate, workers=spec.n_workers, on_trial=on_trial,
                                should_stop=should_stop)

    rows = search.trials()
    write_trials_table(run.path("trials.csv"), rows)
    summary = _search_summary(result, rows)
    run.write_json("search.json", summary)
    run.event("optimize", "search finished", **summary)
    update: dict = {"search": summary}
    if result.stopped_by == "crashes":
        report = crash_report(crashes, rows, result.n_trials, train["attempt"])
        return {**update, **_back_to_coder(state, report, rows)}
    if result.incumbent is None:
        update["failure"] = (f"all {result.n_trials} trials failed ({result.status_counts}); "
                             f"see {run.root / 'trials.csv'} for the errors")
    elif summary["failed_share"] > config.optimizer.max_crash_share:
        log.warning("optimize: %.0f%% of trials failed; the incumbent is still used",
                    100 * summary["failed_share"])
    return update


def _trial_runner(stack: ExitStack, state: dict, n_workers: int):
    """run_trial(worker, request, timeout) -> CallOutcome: on Dask, or in one warm sandbox per
    worker thread. The sandboxes (or the Dask client) close with `stack`."""
    config = run_config(state)
    if config.optimizer.dask:
        try:
            trials = stack.enter_context(DaskTrials(config.optimizer.dask, n_workers,
                                                    sandbox_recipe(state, name="trial")))
        except DaskError as exc:  # e.g. the scheduler went away before a --resume
            raise RunFailed(str(exc)) from None

        def run_on_dask(worker: int, request: dict, timeout: float) -> CallOutcome:
            return trials.evaluate(request, timeout)
        return run_on_dask

    sandboxes = [stack.enter_context(sandbox_for(state, name=f"trial-worker-{i}")) for i in range(n_workers)]

    def run_in_sandbox(worker: int, request: dict, timeout: float) -> CallOutcome:
        outcome = sandboxes[worker].call("train", timeout=timeout, **request)
        outcome.where = f"thread {worker}"
        return outcome
    return run_in_sandbox


def _search_summary(result, rows: list[dict]) -> dict:
    failed = sum(v for k, v in result.status_counts.items() if k != "success")
    return {
        "incumbent": result.incumbent,
        "incumbent_loss": result.incumbent_loss,
        "n_trials": result.n_trials,
        "status_counts": result.status_counts,
        "walltime": round(result.walltime, 2),
        "stopped_by": result.stopped_by,
        "failed_share": round(failed / max(1, result.n_trials), 3),
        "workers": sorted({row["worker"] for row in rows if row.get("worker")}),
    }


def _back_to_coder(state: dict, report: dict, rows: list[dict]) -> dict:
    """Too many trials crashed: keep this search's trials and crash report, and count a recode."""
    config, run = run_config(state), run_folder(state)
    number = state.get("recodes", 0) + 1
    write_trials_table(run.path(f"trials-abandoned-{number}.csv"), rows)
    run.write_json(f"reports/crashes-{number}.json", report)
    first = report["crashes"][0]["error"].splitlines()[0] if report["crashes"] else None
    run.event("optimize", "too many trials crashed: train goes back to its coder",
              crashed=report["n_crashed"], trials=report["n_trials"],
              train_attempt=report["train_attempt"], recode=number, error=first)
    log.warning("optimize: %d of %d trials crashed; the training function goes back to its "
                "coder (recode %d of at most %d)", report["n_crashed"], report["n_trials"], number,
                config.coder.max_recodes)
    return {"crash_report": report, "recodes": number}


def route_after_optimize(state: dict) -> list[Send] | Literal["deploy", "__end__"]:
    """Deploy the incumbent; or, when too many trials crashed, send the training function
    back to its coder with the crash reports (the other components are kept)."""
    if state.get("failure"):
        return END
    if state["search"].get("stopped_by") == "crashes":
        return [Send("code", {**task.arg, "crash_report": state["crash_report"]})
                for task in coder_tasks(state, ["train"])]
    return "deploy"
