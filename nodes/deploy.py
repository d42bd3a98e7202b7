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

from nodes.common import RunFailed, log, run_config, run_folder, sandbox_for
from tools.baselines import forecasting_baselines
from tools.metrics import SCORE_METRICS, loss_to_score, test_metrics
from tools.report import write_report


def _append_baselines(report: str, metric: str, cv_score: float, scores: dict, baselines: dict) -> None:
    """The forecast beside the trivial ones, on the same sealed steps and in validation."""
    names = ("mae", "rmse", "r2")

    def cv(value):
        return "-" if value is None else f"{value:.4f}"

    lines = ["", "## Baselines on the sealed test steps",
             "Fit on the same training history; the test values only score them. The CV column scores "
             "each forecast on the model's forward-chaining origins inside the training history: a model "
             "that validates better than a baseline but loses to it here was flattered by those windows.", "",
             f"| forecast | CV {metric} | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names),
             f"| **this run's model** | {cv(cv_score)} | " + " | ".join(f"{scores[n]:.4f}" for n in names) + " |"]
    for name, values in baselines.items():
        lines.append(f"| {name}: {values['description']} | {cv((values.get('cv') or {}).get(metric))} | "
                     + " | ".join(f"{values[n]:.4f}" for n in names) + " |")
    # Said in words, because a forecast that loses to a trivial one should not go unnoticed.
    sign = 1 if metric in SCORE_METRICS else -1  # higher is better for scores, lower for errors
    beaten_by = [name for name, values in baselines.items() if sign * (values[metric] - scores[metric]) > 0]
    lines += ["", f"On {metric}, this run's model is worse than: {', '.join(beaten_by)}." if beaten_by
              else f"On {metric}, this run's model beats every baseline."]
    with open(report, "a") as fh:
        fh.write("\n".join(lines) + "\n")


def deploy(state: dict) -> dict:
    config, run = run_config(state), run_folder(state)
    search, plan = state["search"], state["plan"]
    incumbent = search["incumbent"]
    with open(run.sealed / "test.pkl", "rb") as fh:
        sealed = pickle.load(fh)
    features = run.sandbox_data / "predict.pkl"
    with open(features, "wb") as fh:
        pickle.dump({"X": sealed["X"]}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    started = time.monotonic()
    try:
        with sandbox_for(state, artifacts=True, name="deploy") as sandbox:
            outcome = sandbox.call("fit_predict", module="final/train.py", data="train.pkl",
                                   predict="predict.pkl", config=incumbent, seed=config.seed,
                                   artifact="model.pkl")
    finally:
        features.unlink(missing_ok=True)
    if not outcome.ok:
        raise RunFailed(f"refitting the incumbent failed: {outcome.describe()}")
    refit_seconds = time.monotonic() - started

    with open(run.sandbox_data / "train.pkl", "rb") as fh:
        train_split = pickle.load(fh)
    train_info, train_y = train_split["info"], train_split["y"]
    y_pred = np.asarray(outcome.result["y_pred"])
    y_proba = outcome.result.get("y_proba")
    scores = test_metrics(plan["task"], sealed["y"], y_pred, y_proba,
                          classes=train_info.get("classes"))
    run.write_json("model/config.json", {"config": incumbent, "code": "code/final/train.py"})
    events = run.events()
    started_at = events[0]["time"] if events else None
    metrics = {
        "task": plan["task"],
        "metric": plan["metric"],
        "cv": {
            plan["metric"]: loss_to_score(plan["metric"], search["incumbent_loss"]),
            "loss": search["incumbent_loss"],
            "validation": plan.get("validation", f"{config.optimizer.cv_folds}-fold cross-validation"),
        },
        "test": scores,
        "test_rows": int(len(sealed["y"])),
        "trials": {"finished": search["n_trials"], **search["status_counts"]},
        "search_seconds": search["walltime"],
        "refit_seconds": round(refit_seconds, 2),
        "started": started_at,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "model": str(run.root / "model" / "model.pkl"),
        "incumbent": incumbent,
    }
    if plan.get("template") == "timeseries":
        settings = plan.get("template_parameters") or {}
        metrics["baselines"] = forecasting_baselines(train_y, sealed["y"], int(settings.get("SEASON", 1)),
                                                     config.optimizer.cv_folds, settings.get("HORIZON"))
    run.write_json("metrics.json", metrics)
    report = write_report(run, state, metrics)
    if metrics.get("baselines"):
        _append_baselines(report, plan["metric"], metrics["cv"][plan["metric"]], scores, metrics["baselines"])
    run.event("deploy", "model refit and scored on the sealed test split",
              test={plan["metric"]: scores.get(plan["metric"])})
    log.info("deploy: test %s %.4f on %d sealed rows; report at %s", plan["metric"],
             scores.get(plan["metric"]) or float("nan"), len(sealed["y"]), report)
    return {"deployment": {"metrics": metrics, "report": str(report), "model": metrics["model"]}}
