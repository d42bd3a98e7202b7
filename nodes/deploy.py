"""deploy: refit the incumbent on the whole training split, score the sealed test split once.

The model is fitted and saved inside a sandbox (its pickle is generated code's output and
is loaded again only inside a sandbox). The test features go in for prediction and are
removed afterwards; the test labels never leave `sealed/`: the scores are computed here,
on the host, from the predictions.
"""

from __future__ import annotations

import pickle
import time

import numpy as np

from graph.state import Deployment
from nodes.common import log, plan_facts, run_config, run_folder, sandbox_for
from sandbox.base import CallOutcome
from tools.errors import RunFailed
from tools.metrics import loss_to_score, test_metrics
from tools.report import write_report
from tools.runfolder import (
    SANDBOX_FINAL_TRAIN,
    SANDBOX_MODEL,
    SANDBOX_PREDICT_FEATURES,
    SANDBOX_TRAIN_DATA,
    RunFolder,
)
from tools.templates import get as get_template


def refit_and_predict(state: dict, run: RunFolder, X_test) -> tuple[CallOutcome, float]:
    """The incumbent fitted on the whole training split and saved, its test predictions; in
    a sandbox that sees the test features only for this call."""
    features = run.sandbox_data / SANDBOX_PREDICT_FEATURES
    with open(features, "wb") as fh:
        pickle.dump({"X": X_test}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    started = time.monotonic()
    try:
        with sandbox_for(state, artifacts=True, name="deploy") as sandbox:
            outcome = sandbox.call("fit_predict", module=SANDBOX_FINAL_TRAIN, data=SANDBOX_TRAIN_DATA,
                                   predict=SANDBOX_PREDICT_FEATURES, config=state["search"]["incumbent"],
                                   seed=run_config(state).seed, artifact=SANDBOX_MODEL, info=plan_facts(state))
    finally:
        features.unlink(missing_ok=True)
    if not outcome.ok:
        raise RunFailed(f"refitting the incumbent failed: {outcome.describe()}")
    return outcome, time.monotonic() - started


def metrics_record(state: dict, run: RunFolder, scores: dict, test_rows: int, refit_seconds: float) -> dict:
    """What metrics.json says: the task, the CV and test scores, trials and times."""
    search, plan = state["search"], state["plan"]
    events = run.events()
    return {
        "task": plan["task"],
        "metric": plan["metric"],
        "cv": {
            plan["metric"]: loss_to_score(plan["metric"], search["incumbent_loss"]),
            "loss": search["incumbent_loss"],
            "validation": plan["validation"],
        },
        "test": scores,
        "test_rows": test_rows,
        "trials": {"finished": search["n_trials"], **search["status_counts"]},
        "search_seconds": search["walltime"],
        "refit_seconds": round(refit_seconds, 2),
        "started": events[0]["time"] if events else None,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "model": str(run.model / SANDBOX_MODEL),
        "incumbent": search["incumbent"],
    }


def deploy(state: dict) -> dict:
    run, plan = run_folder(state), state["plan"]
    with open(run.sealed_test, "rb") as fh:
        sealed = pickle.load(fh)
    outcome, refit_seconds = refit_and_predict(state, run, sealed["X"])
    classes = run.read_json(RunFolder.MODEL_INPUTS)["classes"]
    scores = test_metrics(plan["task"], sealed["y"], np.asarray(outcome.result["y_pred"]),
                          outcome.result.get("y_proba"), classes=classes)
    run.write_json(RunFolder.MODEL_CONFIG, {"config": state["search"]["incumbent"], "code": "code/final/train.py"})
    metrics = metrics_record(state, run, scores, int(len(sealed["y"])), refit_seconds)
    baselines = None
    if run.training_target.exists():  # a numeric target: a forecast's baselines are fitted on it
        baselines = get_template(plan["template"]).baselines(
            np.load(run.training_target, allow_pickle=False), sealed["y"], plan.get("template_parameters") or {},
            run_config(state).optimizer.cv_folds)
    if baselines:
        metrics["baselines"] = baselines
    run.write_json(RunFolder.METRICS, metrics)
    report = write_report(run, state["profile"], plan, state["components"], state["reports"], state["search"],
                          metrics, backend=state["backend"], recodes=state.get("recodes", 0))
    run.event("deploy", "model refit and scored on the sealed test split",
              test={plan["metric"]: scores.get(plan["metric"])})
    log.info("deploy: test %s %.4f on %d sealed rows; report at %s", plan["metric"],
             scores.get(plan["metric"]) or float("nan"), len(sealed["y"]), report)
    deployment: Deployment = {"metrics": metrics, "report": str(report), "model": metrics["model"]}
    return {"deployment": deployment}
