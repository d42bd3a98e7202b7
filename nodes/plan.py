"""plan: decide task, metric, model families, facade and budget from the profile.

With no LLM configured the built-in planner decides from the data profile alone, using
the rules of thumb a practitioner would: every family on small data, no kernel or
neighbour methods where their cost grows with the square of the rows; a network on
images with epochs as the fidelity; TF-IDF and linear models on text; lag features and
forward-chaining validation on a time series.
"""

from __future__ import annotations

import pickle

import numpy as np

from graph.config import FAMILIES, ConfigError
from nodes.common import log, run_config, run_folder
from tools.templates import TEMPLATE_FAMILIES, template_family, template_settings

QUADRATIC_FAMILIES = ("svm", "knn")  # fit or predict cost grows with rows squared
LARGE_ROWS = 10_000
HUGE_ROWS = 100_000
LARGE_IMAGES = 20_000  # above this, fewer epochs per trial and in the final fit
MAX_SEASON = 40


def choose_families(profile: dict) -> tuple[list[str], str]:
    rows = profile["n_rows"]
    template = template_family(profile)
    if template != "tabular":
        return list(TEMPLATE_FAMILIES[template]), f"the {template} template's families"
    families = list(FAMILIES)
    why = f"{rows} training rows: every family is affordable"
    if rows > LARGE_ROWS:
        families = [f for f in families if f not in QUADRATIC_FAMILIES]
        why = f"{rows} training rows: SVM and k-NN dropped (their cost grows with rows squared)"
    if rows > HUGE_ROWS:
        families = [f for f in families if f != "mlp"]
        why += "; the MLP dropped too"
    return families, why


def restrict_families(profile: dict, requested: list[str] | None) -> tuple[list[str], str]:
    """The families to search: the data's own, narrowed to those the config asks for.
    Asking only for families this data has none of is an error, not silently ignored."""
    families, why = choose_families(profile)
    if not requested:
        return families, why
    chosen = [f for f in requested if f in families]
    if not chosen:
        raise ConfigError(f"optimizer.families: none of {', '.join(requested)} is offered for "
                          f"this {template_family(profile)} data; choose from {', '.join(families)}")
    return chosen, "families restricted in the config"


def dominant_period(y: np.ndarray, max_period: int = MAX_SEASON) -> int:
    """The season length of a series: the lag of the highest autocorrelation peak (1: none)."""
    y = np.asarray(y, dtype=float)
    if len(y) < 24:
        return 1
    y = y - y.mean()
    denominator = float(np.dot(y, y)) or 1.0
    top = min(max_period, len(y) // 3)
    acf = np.array([np.dot(y[:-k], y[k:]) / denominator for k in range(1, top + 1)])
    peaks = [k for k in range(2, top) if acf[k - 1] > acf[k - 2] and acf[k - 1] >= acf[k] and acf[k - 1] > 0.1]
    return max(peaks, key=lambda k: acf[k - 1]) if peaks else 1


def _scenario(profile: dict, config, facade: str) -> tuple[dict, str]:
    opt = config.optimizer
    scenario = {
        "facade": facade,
        "n_trials": opt.n_trials,
        "walltime": opt.walltime,
        "n_workers": opt.workers,
        "deterministic": True,
        "seed": config.seed,
    }
    why = ""
    if facade == "multi_fidelity":
        if profile["modality"] == "image":
            epochs = 6 if profile["n_rows"] >= LARGE_IMAGES else 8
            scenario.update(min_budget=1.0, max_budget=float(epochs))
            why = (f"budget = epochs from 1 to {epochs} (Hyperband, eta 3); the final model "
                   f"trains {epochs} epochs on all images")
        else:
            scenario.update(min_budget=0.1, max_budget=1.0)
            why = "budget = the share of the model's fidelity (trees, rounds, documents)"
    return scenario, why


def builtin_plan(profile: dict, config) -> dict:
    opt = config.optimizer
    template = template_family(profile)
    families, why_families = restrict_families(profile, opt.families)
    if opt.facade != "auto":
        facade = opt.facade
    else:
        facade = "multi_fidelity" if template == "image" else "hpo"
    scenario, why_budget = _scenario(profile, config, facade)
    settings = template_settings(profile, scenario)
    task, metric = profile["task"], profile["metric"]
    validation = {
        "image": "a stratified holdout split inside the training split (a network trained "
                 "k times would cost k times the search)",
        "timeseries": f"{opt.cv_folds} forward-chaining origins inside the training history, "
                      f"{settings.get('HORIZON')}-step recursive forecasts (never shuffled folds)",
    }.get(template, f"{opt.cv_folds}-fold cross-validation inside the training split")
    rationale = [
        f"Task: {task}, judged on {metric} by {validation}.",
        f"Model families: {', '.join(families)} ({why_families}).",
        f"Search: SMAC {facade} facade, {opt.n_trials} trials or {opt.walltime:g} s, "
        f"{opt.workers} worker(s); the default configuration is part of the initial design"
        + (f"; {why_budget}." if why_budget else "."),
    ]
    if template == "timeseries":
        rationale.append(f"Season length {settings['SEASON']} (the highest autocorrelation peak of "
                         "the training series). The built-in forecaster averages the searched model's "
                         "forecast with AR, threshold-AR (SETAR) and seasonal-naive forecasts (forecast "
                         "combination), and naive, seasonal-naive and AR baselines are scored beside it.")
    if template == "tabular" and profile.get("categorical_columns"):
        rationale.append(f"{len(profile['categorical_columns'])} categorical columns: one-hot "
                         "encoding with a searched category cap; gradient boosting splits natively.")
    if template == "tabular" and profile.get("rows_with_missing"):
        rationale.append(f"{profile['rows_with_missing']} rows with missing values: imputation in the pipeline.")
    return {
        "author": "builtin",
        "task": task,
        "metric": metric,
        "modality": profile["modality"],
        "template": template,
        "template_parameters": settings,
        "families": families,
        "facade": facade,
        "scenario": scenario,
        "validation": validation,
        "rationale": " ".join(rationale),
    }


def profile_with_season(state: dict, config) -> dict:
    """A series' season length: the data set's own, recorded by initialize (sunspots: the
    11-year cycle), else the autocorrelation peak of the training split the host wrote
    (never the test split)."""
    profile = dict(state["profile"])
    if template_family(profile) != "timeseries" or "season_length" in profile:
        return profile
    with open(run_folder(state).sandbox_data / "train.pkl", "rb") as fh:
        profile["season_length"] = int(dominant_period(pickle.load(fh)["y"]))
    return profile


def plan(state: dict) -> dict:
    config, run = run_config(state), run_folder(state)
    decided = builtin_plan(profile_with_season(state, config), config)
    if config.llm.enabled:  # the LLM planner, held to the config; builtin_plan is its fallback
        from nodes.llm_planner import plan_or_fall_back

        decided, failure = plan_or_fall_back(state, config, decided)
        if failure:
            run.event("plan", "stopped", error=failure)
            return {"failure": failure}
    run.write_json("plan.json", decided)
    run.event("plan", "planned", author=decided["author"], families=decided["families"],
              facade=decided["facade"])
    log.info("plan: %s", decided["rationale"])
    return {"plan": decided}
