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
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import numpy as np

from graph.state import Deployment
from nodes.common import log, open_sandboxes, plan_facts, plan_objectives, plan_rule, run_config, run_folder
from nodes.one_step import one_step_ahead
from tools import budget
from tools.ensemble import OutOfFoldStore, blend, combine, cross_fitted, greedy_weights, member_artifact, oof_loss
from tools.errors import RunFailed
from tools.metrics import loss_to_score, test_metrics
from tools.pareto import pick
from tools.report import write_report
from tools.results import objectives_problem
from tools.runfolder import (
    SANDBOX_FINAL_TRAIN,
    SANDBOX_MODEL,
    SANDBOX_PREDICT_FEATURES,
    SANDBOX_TRAIN_DATA,
    RunFolder,
)
from tools.templates import get as get_template


def choose_ensemble(state: dict, run: RunFolder, seconds: float | None = None, sandboxes: int = 1) -> dict | None:
    """The ensemble of the best trials, if its out-of-fold loss beats the single best's:
    {"members": [{"config", "weight", "loss"}], "cv_loss", "single_cv_loss"}; else None.
    With `seconds`, the time its refits may take on `sandboxes` in parallel: an ensemble
    whose refits would not fit keeps its heaviest-weighted members that do, reweighted."""
    members = OutOfFoldStore(run.out_of_fold(state.get("recodes", 0))).members()
    if len(members) < 2 or not run.training_target.exists():
        return None
    y, metric = np.load(run.training_target, allow_pickle=False), state["plan"]["metric"]
    weights = greedy_weights([m.predictions for m in members], y, metric)
    trimmed = None
    if seconds is not None:
        folds = run_config(state).optimizer.cv_folds
        affordable = affordable_members(members, weights, folds, seconds, sandboxes)
        if len(affordable) < np.count_nonzero(weights):
            trimmed = {"from": int(np.count_nonzero(weights)), "to": len(affordable), "seconds": round(seconds, 1)}
            log.info("deploy: the ensemble keeps %d of %d members to refit in %.0f s", *trimmed.values())
            members = affordable
            weights = greedy_weights([m.predictions for m in members], y, metric)
    predictions = [m.predictions for m in members]
    ensemble_loss, single_loss = oof_loss(metric, y, blend(predictions, weights)), oof_loss(metric, y, predictions[0])
    chosen = [
        {"config": m.config, "weight": float(w), "loss": m.loss, "module": m.module}
        for m, w in zip(members, weights, strict=True)
        if w > 0
    ]
    if len(chosen) < 2 or ensemble_loss >= single_loss:
        return None
    held_out = dict(zip(("cv_loss", "single_cv_loss"), cross_fitted(predictions, y, metric), strict=True))
    return {
        "members": chosen,
        "cv_loss": ensemble_loss,
        "single_cv_loss": single_loss,
        "cross_fitted": held_out,
        "trimmed": trimmed,
    }


def affordable_members(members: list, weights, folds: int, seconds: float, sandboxes: int) -> list:
    """The chosen members, heaviest weight first, as many as can be refit in `seconds` (the
    best single trial is always kept first: it is the fallback); best-first order kept."""
    order = [0] + [i for i in np.argsort(-weights, kind="stable") if weights[i] > 0 and i != 0]
    kept: list[int] = []
    for i in order:
        costs = [budget.refit_seconds(members[j].seconds, folds) or 0.0 for j in [*kept, i]]
        if kept and budget.makespan(costs, sandboxes) > seconds:
            break
        kept.append(i)
    return [members[i] for i in sorted(kept)]


def refit_budget(state: dict, run: RunFolder) -> float | None:
    """Seconds deploy's refits may take: the run's walltime less what came before and what
    the rest of deploy needs (None for a run without a walltime split: no bound)."""
    split = run.read_json(RunFolder.BUDGET)
    if not split:
        return None
    seconds = budget.deploy_seconds(split["walltime"], split["before_search"], state["search"]["walltime"])
    return max(0.0, seconds - budget.DEPLOY_FIXED)


def refit_and_predict(
    state: dict, run: RunFolder, X_test, members: list[dict], sandboxes: int = 1, measure: bool = False
) -> tuple[list[dict], float]:
    """Each member's configuration fitted by its training function (`module`, the run's own
    unless given) on the whole training split and saved (model.pkl, or model-<n>.pkl for an
    ensemble's members), with its test predictions; in up to `sandboxes` sandboxes at once
    (as many as the search's workers), which see the test features only for these calls.
    `measure`: each result also holds the model's latency on the test rows and its size,
    measured in the sandbox."""
    features = run.sandbox_data / SANDBOX_PREDICT_FEATURES
    with open(features, "wb") as fh:
        pickle.dump({"X": X_test}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    started, count = time.monotonic(), min(max(1, sandboxes), len(members))
    try:
        with ExitStack() as stack, ThreadPoolExecutor(count) as pool:
            free: queue.Queue = queue.Queue()
            for sandbox in open_sandboxes(stack, state, [f"deploy-{i}" for i in range(count)], artifacts=True):
                free.put(sandbox)

            def refit(number: int, member: dict) -> dict:
                sandbox = free.get()
                try:
                    return _refit_one(state, sandbox, number, member, len(members), measure)
                finally:
                    free.put(sandbox)

            results = list(pool.map(refit, range(1, len(members) + 1), members))
    finally:
        features.unlink(missing_ok=True)
    return results, time.monotonic() - started


def _refit_one(state: dict, sandbox, number: int, member: dict, members: int, measure: bool = False) -> dict:
    outcome = sandbox.call(
        "fit_predict",
        module=member.get("module", SANDBOX_FINAL_TRAIN),
        data=SANDBOX_TRAIN_DATA,
        predict=SANDBOX_PREDICT_FEATURES,
        config=member["config"],
        seed=run_config(state).seed,
        artifact=member_artifact(number, members),
        info=plan_facts(state),
        **({"measure": True} if measure else {}),
    )
    if not outcome.ok:
        what = "the incumbent" if members == 1 else f"member {number}"
        raise RunFailed(f"refitting {what} failed: {outcome.describe()}")
    return outcome.result


def metrics_record(
    state: dict,
    run: RunFolder,
    scores: dict,
    test_rows: int,
    refit_seconds: float,
    ensemble: dict | None,
    deploy_seconds: float,
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
        "time": time_record(run, search["walltime"], deploy_seconds),
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
            "cross_fitted": {
                "cv": loss_to_score(metric, ensemble["cross_fitted"]["cv_loss"]),
                "single_cv": loss_to_score(metric, ensemble["cross_fitted"]["single_cv_loss"]),
            },
        }
    return record


def time_record(run: RunFolder, search_seconds: float, deploy_seconds: float) -> dict | None:
    """The run's time against its walltime: before the search, the search, deploy (the time
    this run worked; time lost to a kill is not in it)."""
    split = run.read_json(RunFolder.BUDGET)
    if not split:
        return None
    parts = {"before_search": split["before_search"], "search": search_seconds, "deploy": round(deploy_seconds, 2)}
    return {"walltime": split["walltime"], "seconds": round(sum(parts.values()), 2), **parts}


def save_model_description(run: RunFolder, incumbent: dict, module: str, ensemble: dict | None) -> None:
    """model/config.json (the best single configuration, and the training function that fits
    it) and, for an ensemble, its members."""
    run.write_json(
        RunFolder.MODEL_CONFIG, {"config": incumbent, "code": f"{RunFolder.CODE}/{module}", "module": module}
    )
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


def choose_from_front(state: dict) -> dict | None:
    """With several objectives, the point of the search's front that the run's rule picks:
    {"rule", "why", "point"}; None for a single-objective run."""
    plan = state["plan"]
    extras = plan_objectives(plan)
    if not extras:
        return None
    trial = state.get("deploy_trial")
    if trial is not None:  # `python -m graph.deploy RUN --trial N`: the user's own pick
        point = next((p for p in state["search"]["front"] if p["trial"] == trial), None)
        if point is None:
            raise RunFailed(f"trial {trial} is not on the run's front")
        why = f"Chosen by hand: trial {trial} of the front (python -m graph.deploy --trial {trial})."
        return {"rule": "hand", "why": why, "point": point}
    rule = plan_rule(plan)
    point, why = pick(state["search"]["front"], extras, rule, plan["metric"])
    return {"rule": rule.describe(), "why": why, "point": point}


def as_incumbent(state: dict, choice: dict | None) -> dict:
    """The state with the chosen point of the front in the incumbent's place: it is refit,
    scored and described as the incumbent is, alone (an ensemble's latency and size would
    not be the point's the user chose)."""
    if choice is None:
        return state
    point = choice["point"]
    search = {**state["search"], "incumbent": point["config"], "incumbent_loss": point["loss"]}
    search["incumbent_module"] = SANDBOX_FINAL_TRAIN  # the front is the search's own trials
    return {**state, "search": search}


def front_record(state: dict, choice: dict, refit: dict, scores: dict) -> dict:
    """metrics.json's account of a multi-objective run: the front, the rule, the chosen point
    with its CV and test figures and its latency and size measured on the test rows."""
    metric, extras = state["plan"]["metric"], state["search"]["objectives"]
    problem = objectives_problem(refit, ["predict_latency", "model_size"], "the refit's measurement")
    if problem:
        raise RunFailed(problem)
    point = choice["point"]
    return {
        "objectives": [metric, *extras],
        "select": choice["rule"],
        "objectives_reason": state["plan"].get("objectives_reason"),
        "front": state["search"]["front"],
        "chosen": {
            "trial": point["trial"],
            "why": choice["why"],
            "cv": {metric: loss_to_score(metric, point["loss"]), **{name: point[name] for name in extras}},
            "test": {metric: scores.get(metric)},
            "test_measured": {"predict_latency": refit["predict_latency"], "model_size": refit["model_size"]},
        },
    }


def side_records(state: dict, run: RunFolder, y_test, choice: dict | None, refit: dict, scores: dict) -> dict:
    """What metrics.json adds for some runs: a forecast's baselines, a front's choice."""
    trivial = baselines(state, run, y_test)
    return {
        **({"baselines": trivial} if trivial else {}),
        **(front_record(state, choice, refit, scores) if choice else {}),
    }


def save_metrics(state: dict, run: RunFolder, metrics: dict, sealed: dict, members: list[dict]) -> None:
    """metrics.json; then, for a forecast, its one-step-ahead scores, computed only once the
    full-horizon scores are final and saved (nodes/one_step.py)."""
    run.write_json(RunFolder.METRICS, metrics)
    if state["plan"]["task"] == "forecasting":
        metrics["one_step_ahead"] = one_step_ahead(state, sealed, members)
        run.write_json(RunFolder.METRICS, metrics)


def what_to_refit(state: dict, run: RunFolder, choice: dict | None, sandboxes: int) -> tuple[dict | None, str, list]:
    """(the ensemble or None, the incumbent's training module, the members to refit): an
    ensemble when it beats the single best on CV (never for a pick from a front)."""
    ensemble = None if choice else choose_ensemble(state, run, refit_budget(state, run), sandboxes)
    module = state["search"].get("incumbent_module", SANDBOX_FINAL_TRAIN)
    single = [{"config": state["search"]["incumbent"], "weight": 1.0, "module": module}]
    return ensemble, module, ensemble["members"] if ensemble else single


def deploy(state: dict) -> dict:
    choice = choose_from_front(state)
    state = as_incumbent(state, choice)
    started, run, plan = time.monotonic(), run_folder(state), state["plan"]
    with open(run.sealed_test, "rb") as fh:
        sealed = pickle.load(fh)
    sandboxes = run_config(state).optimizer.workers
    ensemble, module, members = what_to_refit(state, run, choice, sandboxes)
    results, refit_seconds = refit_and_predict(state, run, sealed["X"], members, sandboxes, measure=bool(choice))
    classes = run.read_json(RunFolder.MODEL_INPUTS)["classes"]
    if ensemble:
        y_pred, y_proba = combine(results, [m["weight"] for m in members], classes)
    else:  # the model's own labels (an SVM's may differ from its calibrated probabilities' argmax)
        y_pred, y_proba = np.asarray(results[0]["y_pred"]), results[0].get("y_proba")
    scores = test_metrics(plan["task"], sealed["y"], y_pred, y_proba, classes=classes)
    save_model_description(run, state["search"]["incumbent"], module, ensemble)
    metrics = metrics_record(
        state, run, scores, int(len(sealed["y"])), refit_seconds, ensemble, time.monotonic() - started
    )
    metrics.update(side_records(state, run, sealed["y"], choice, results[0], scores))
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
