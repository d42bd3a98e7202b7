"""optimize: SMAC over the verified space; every trial runs in a warm sandbox.

Each optimizer worker owns one sandbox for the whole search. A trial that times out,
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

from nodes.common import log, run_config, run_folder, sandbox_for
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


def optimize(state: dict) -> dict:
    config, run = run_config(state), run_folder(state)
    final = run.folder("code", "final")
    space = ConfigurationSpace.from_serialized_dict(json.loads((final / "configspace.json").read_text()))
    spec = parse_scenario_source((final / "scenario.py").read_text())
    metric = state["plan"]["metric"]
    search = SmacSearch(space, spec, run.folder("smac"), crash_cost(metric), seed=config.seed)
    resumed_from = search.finished
    if resumed_from:
        log.info("optimize: resuming the search after %d finished trials", resumed_from)
    run.event("optimize", "search started", facade=spec.facade, n_trials=spec.n_trials,
              walltime=spec.walltime, workers=spec.n_workers, resumed_from=resumed_from)

    with ExitStack() as stack:
        sandboxes = [stack.enter_context(sandbox_for(state, name=f"trial-worker-{i}"))
                     for i in range(spec.n_workers)]

        def evaluate(worker: int, trial_config: dict, seed: int, budget: float | None):
            return sandboxes[worker].call("train", module="final/train.py", data="train.pkl",
                                          config=trial_config, seed=seed, budget=budget)

        def on_trial(record: dict) -> None:
            with open(run.path("trials.jsonl"), "a") as fh:
                fh.write(json.dumps(record) + "\n")
            score = "" if record["score"] is None else f", CV {metric} {record['score']:.4f}"
            log.info("trial %d/%d %s: loss %.4f%s, %s (%.2f s)%s", record["trial"], spec.n_trials,
                     record["status"], record["loss"], score, record["config"].get("model", ""),
                     record["seconds"], f" [{record['error']}]" if record["error"] else "")

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SMAC's surrogate warns on tiny histories
            result = search.run(evaluate, workers=spec.n_workers, on_trial=on_trial)

    write_trials_table(run.path("trials.csv"), search.trials())
    crashed = sum(v for k, v in result.status_counts.items() if k != "success")
    summary = {
        "incumbent": result.incumbent,
        "incumbent_loss": result.incumbent_loss,
        "n_trials": result.n_trials,
        "status_counts": result.status_counts,
        "walltime": round(result.walltime, 2),
        "stopped_by": result.stopped_by,
        "failed_share": round(crashed / max(1, result.n_trials), 3),
    }
    run.write_json("search.json", summary)
    run.event("optimize", "search finished", **summary)
    update: dict = {"search": summary}
    if result.incumbent is None:
        update["failure"] = (f"all {result.n_trials} trials failed ({result.status_counts}); "
                             f"see {run.root / 'trials.csv'} for the errors")
    elif summary["failed_share"] > config.optimizer.max_crash_share:
        log.warning("optimize: %.0f%% of trials failed; the incumbent is still used",
                    100 * summary["failed_share"])
    return update


def route_after_optimize(state: dict) -> Literal["deploy", "__end__"]:
    return END if state.get("failure") else "deploy"
