"""deploy: refit the incumbent (or an ensemble of the best trials) on the whole training
split, score the sealed test split once.

Models are fitted and saved inside a sandbox (their pickles are generated code's output and
are loaded again only inside a sandbox). The test features go in for prediction and are
removed afterwards; the test labels never leave `sealed/`: the scores are computed here, on
the host, from the predictions. An ensemble (tools/ensemble.py) is chosen on the search's
out-of-fold predictions, never on the test split, and deployed only when its CV beats the
single best trial's.
"""

from __future__ import annotations

import pickle
import time

import numpy as np

from graph.state import Deployment
from nodes.common import log, plan_facts, run_config, run_folder, sandbox_for
from nodes.one_step import one_step_ahead
from tools.ensemble import OutOfFoldStore, blend, combine, greedy_weights, member_artifact, oof_loss
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


def choose_ensemble(state: dict, run: RunFolder) -> dict | None:
    """The ensemble of the best trials, if its out-of-fold loss beats the single best's:
    {"members": [{"config", "weight", "loss"}], "cv_loss", "single_cv_loss"}; else None."""
    members = OutOfFoldStore(run.out_of_fold(state.get("recodes", 0))).members()
    if len(members) < 2 or not run.training_target.exists():
        return None
    y, metric = np.load(run.training_target, allow_pickle=False), state["plan"]["metric"]
    predictions = [m.predictions for m in members]
    weights = greedy_weights(predictions, y, metric)
    ensemble_loss, single_loss = oof_loss(metric, y, blend(predictions, weights)), oof_loss(metric, y, predictions[0])
    chosen = [
        {"config": m.config, "weight": float(w), "loss": m.loss} for m, w in zip(members, weights, strict=True) if w > 0
    ]
    if len(chosen) < 2 or ensemble_loss >= single_loss:
        return None
    return {"members": chosen, "cv_loss": ensemble_loss, "single_cv_loss": single_loss}


def refit_and_predict(state: dict, run: RunFolder, X_test, configs: list[dict]) -> tuple[list[dict], float]:
    """Each configuration fitted on the whole training split and saved (model.pkl, or
    model-<n>.pkl for an ensemble's members), with its test predictions; in one sandbox that
    sees the test features only for these calls."""
    features = run.sandbox_data / SANDBOX_PREDICT_FEATURES
    with open(features, "wb") as fh:
        pickle.dump({"X": X_test}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    started, results = time.monotonic(), []
    try:
        with sandbox_for(state, artifacts=True, name="deploy") as sandbox:
            for number, config in enumerate(configs, start=1):
                outcome = sandbox.call(
                    "fit_predict",
                    module=SANDBOX_FINAL_TRAIN,
                    data=SANDBOX_TRAIN_DATA,
                    predict=SANDBOX_PREDICT_FEATURES,
                    config=config,
                    seed=run_config(state).seed,
                    artifact=member_artifact(number, len(configs)),
                    info=plan_facts(state),
                )
                if not outcome.ok:
                    raise RunFailed(
                        f"refitting {'the incumbent' if len(configs) == 1 else f'member {number}'} "
                        f"failed: {outcome.describe()}"
                    )
                results.append(outcome.result)
    finally:
        features.unlink(missing_ok=True)
    return results, time.monotonic() - started


def metrics_record(
    state: dict, run: RunFolder, scores: dict, test_rows: int, refit_seconds: float, ensemble: dict | None
) -> dict:
    """What metrics.json says: the task, the CV and test scores, trials and times."""
    search, plan = state["search"], state["plan"]
    events, metric = run.events(), plan["metric"]
    cv_loss = ensemble["cv_loss"] if ensemble else search["incumbent_loss"]
    record = {
        "task": plan["task"],
        "metric": metric,
        "cv": {
            metric: loss_to_score(metric, cv_loss),
            "loss": cv_loss,
            "validation": plan["validation"] + (" (out-of-fold predictions of the ensemble)" if ensemble else ""),
        },
        "test": scores,
        "test_rows": test_rows,
        "trials": {"finished": search["n_trials"], **search["status_counts"]},
        "search_seconds": search["walltime"],
        "refit_seconds": round(refit_seconds, 2),
        "started": events[0]["time"] if events else None,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "model": str(run.root / RunFolder.ENSEMBLE if ensemble else run.model / SANDBOX_MODEL),
        "incumbent": search["incumbent"],
    }
    if ensemble:
        record["ensemble"] = {
            **ensemble,
            "cv": loss_to_score(metric, ensemble["cv_loss"]),
            "single_cv": loss_to_score(metric, ensemble["single_cv_loss"]),
        }
    return record


def save_model_description(run: RunFolder, incumbent: dict, ensemble: dict | None) -> None:
    """model/config.json (the best single configuration) and, for an ensemble, its members."""
    run.write_json(RunFolder.MODEL_CONFIG, {"config": incumbent, "code": "code/final/train.py"})
    if ensemble:
        members = ensemble["members"]
        described = [{**m, "artifact": member_artifact(i, len(members))} for i, m in enumerate(members, start=1)]
        run.write_json(RunFolder.ENSEMBLE, {"members": described})


def baselines(state: dict, run: RunFolder, y_test) -> dict | None:
    """The template's trivial models on the sealed steps (a forecast's), fitted on the training target."""
    if not run.training_target.exists():
        return None
    plan = state["plan"]
    return get_template(plan["template"]).baselines(
        np.load(run.training_target, allow_pickle=False),
        y_test,
        plan.get("template_parameters") or {},
        run_config(state).optimizer.cv_folds,
    )


def save_metrics(state: dict, run: RunFolder, metrics: dict, sealed: dict, members: list[dict]) -> None:
    """metrics.json with the baselines; then, for a forecast, its one-step-ahead scores,
    computed only once the full-horizon scores are final and saved (nodes/one_step.py)."""
    trivial = baselines(state, run, sealed["y"])
    if trivial:
        metrics["baselines"] = trivial
    run.write_json(RunFolder.METRICS, metrics)
    if state["plan"]["task"] == "forecasting":
        metrics["one_step_ahead"] = one_step_ahead(state, sealed, members)
        run.write_json(RunFolder.METRICS, metrics)


def deploy(state: dict) -> dict:
    run, plan = run_folder(state), state["plan"]
    with open(run.sealed_test, "rb") as fh:
        sealed = pickle.load(fh)
    ensemble = choose_ensemble(state, run)
    members = ensemble["members"] if ensemble else [{"config": state["search"]["incumbent"], "weight": 1.0}]
    results, refit_seconds = refit_and_predict(state, run, sealed["X"], [m["config"] for m in members])
    classes = run.read_json(RunFolder.MODEL_INPUTS)["classes"]
    if ensemble:
        y_pred, y_proba = combine(results, [m["weight"] for m in members], classes)
    else:  # the model's own labels (an SVM's may differ from its calibrated probabilities' argmax)
        y_pred, y_proba = np.asarray(results[0]["y_pred"]), results[0].get("y_proba")
    scores = test_metrics(plan["task"], sealed["y"], y_pred, y_proba, classes=classes)
    save_model_description(run, state["search"]["incumbent"], ensemble)
    metrics = metrics_record(state, run, scores, int(len(sealed["y"])), refit_seconds, ensemble)
    save_metrics(state, run, metrics, sealed, members)
    report = write_report(
        run,
        state["profile"],
        plan,
        state["components"],
        state["reports"],
        state["search"],
        metrics,
        backend=state["backend"],
        recodes=state.get("recodes", 0),
    )
    run.event(
        "deploy",
        "model refit and scored on the sealed test split",
        test={plan["metric"]: scores.get(plan["metric"])},
        ensemble=len(members) if ensemble else None,
    )
    log.info(
        "deploy: %s; test %s %.4f on %d sealed rows; report at %s",
        f"an ensemble of {len(members)} trials" if ensemble else "the incumbent",
        plan["metric"],
        scores.get(plan["metric"]) or float("nan"),
        len(sealed["y"]),
        report,
    )
    deployment: Deployment = {"metrics": metrics, "report": str(report), "model": metrics["model"]}
    return {"deployment": deployment}
