"""plan: decide task, metric, model families, facade and budget from the profile.

With no LLM configured the built-in planner decides from the data profile alone, using
the rules of thumb a practitioner would: every family on small data, no kernel or
neighbour methods where their cost grows with the square of the rows.
"""

from __future__ import annotations

from graph.config import FAMILIES
from nodes.common import log, run_config, run_folder
from tools.templates import template_family

QUADRATIC_FAMILIES = ("svm", "knn")  # fit or predict cost grows with rows squared
LARGE_ROWS = 10_000
HUGE_ROWS = 100_000


def choose_families(profile: dict) -> tuple[list[str], str]:
    rows = profile["n_rows"]
    families = list(FAMILIES)
    why = f"{rows} training rows: every family is affordable"
    if rows > LARGE_ROWS:
        families = [f for f in families if f not in QUADRATIC_FAMILIES]
        why = f"{rows} training rows: SVM and k-NN dropped (their cost grows with rows squared)"
    if rows > HUGE_ROWS:
        families = [f for f in families if f != "mlp"]
        why += "; the MLP dropped too"
    return families, why


def builtin_plan(profile: dict, config) -> dict:
    opt = config.optimizer
    families, why_families = choose_families(profile)
    if opt.families:
        families, why_families = list(opt.families), "families restricted in the config"
    facade = "hpo" if opt.facade == "auto" else opt.facade
    scenario = {
        "facade": facade,
        "n_trials": opt.n_trials,
        "walltime": opt.walltime,
        "n_workers": opt.workers,
        "deterministic": True,
        "seed": config.seed,
    }
    if facade == "multi_fidelity":
        scenario.update(min_budget=0.1, max_budget=1.0)
    task, metric = profile["task"], profile["metric"]
    rationale = [
        f"Task: {task}, judged on {metric} by {opt.cv_folds}-fold cross-validation "
        "inside the training split.",
        f"Model families: {', '.join(families)} ({why_families}).",
        f"Search: SMAC {facade} facade, {opt.n_trials} trials or {opt.walltime:g} s, "
        f"{opt.workers} worker(s); the default configuration (gradient boosting) is part of the initial design.",
    ]
    if profile.get("categorical_columns"):
        rationale.append(f"{len(profile['categorical_columns'])} categorical columns: one-hot "
                         "encoding with a searched category cap; gradient boosting splits natively.")
    if profile.get("rows_with_missing"):
        rationale.append(f"{profile['rows_with_missing']} rows with missing values: imputation in the pipeline.")
    return {
        "author": "builtin",
        "task": task,
        "metric": metric,
        "modality": profile["modality"],
        "template": template_family(profile),
        "families": families,
        "facade": facade,
        "scenario": scenario,
        "rationale": " ".join(rationale),
    }


def plan(state: dict) -> dict:
    config, run = run_config(state), run_folder(state)
    decided = builtin_plan(state["profile"], config)
    if config.llm.enabled:
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
