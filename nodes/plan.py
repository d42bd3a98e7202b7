"""plan: decide task, metric, model families, facade and budget from the profile.

With no LLM configured the built-in planner decides from the data profile alone, with the
rules of thumb of the task template that serves the data (tools/templates/<name>/spec.py):
every family on small tables, no kernel or neighbour methods where their cost grows with
the square of the rows; a network on images with epochs as the fidelity; TF-IDF and linear
models on text; lag features and forward-chaining validation on a time series.
"""

from __future__ import annotations

from graph.config import RunConfig
from graph.state import Plan, Profile
from nodes.common import log, run_config, run_folder
from tools.inputs import families_for
from tools.runfolder import RunFolder
from tools.scenario import one_fidelity
from tools.templates import template_for


def scenario_for(profile: Profile, config: RunConfig, facade: str) -> tuple[dict, str]:
    """The SMAC scenario the config allows, and what a fidelity budget means (if any)."""
    opt = config.optimizer
    scenario = {
        "facade": facade,
        "n_trials": opt.n_trials,
        "walltime": opt.walltime,
        "n_workers": opt.workers,
        "deterministic": True,
        "seed": config.seed,
    }
    if facade != "multi_fidelity":
        return scenario, ""
    fidelity, why = template_for(profile).fidelity(profile)
    return {**scenario, **fidelity}, why


def builtin_plan(profile: Profile, config: RunConfig) -> Plan:
    opt = config.optimizer
    template = template_for(profile)
    families, why_families = families_for(profile, opt.families)
    facade = opt.facade if opt.facade != "auto" else template.facade
    scenario, why_budget = scenario_for(profile, config, facade)
    facade, scenario, full = one_fidelity(facade, scenario, config.extra_objectives)
    why_budget = full or why_budget
    settings = template.settings(profile, scenario)
    validation = template.validation(opt.cv_folds, settings)
    rationale = [
        f"Task: {profile['task']}, judged on {profile['metric']} by {validation}.",
        f"Model families: {', '.join(families)} ({why_families}).",
        f"Search: SMAC {facade} facade, {opt.n_trials} trials or {opt.walltime:g} s, "
        f"{opt.workers} worker(s); the space's default configuration runs first, then the template's "
        "portfolio of strong configurations, then SMAC's initial design and model-based search"
        + (f"; {why_budget}." if why_budget else "."),
        *template.notes(profile, settings),
    ]
    return {
        "author": "builtin",
        "task": profile["task"],
        "metric": profile["metric"],
        "modality": profile["modality"],
        "template": template.name,
        "template_parameters": settings,
        "families": families,
        "facade": facade,
        "scenario": scenario,
        "portfolio": template.portfolio(profile, families),
        "validation": validation,
        "rationale": " ".join(rationale),
        **objectives_of_config(config),
    }


def objectives_of_config(config: RunConfig) -> dict:
    """The plan's objectives and rule when the config names several objectives (the
    single-objective plan is left as it was)."""
    if not config.extra_objectives:
        return {}
    return {
        "objectives": config.extra_objectives,
        "select": config.select,
        "objectives_reason": "set in the config",
    }


def plan(state: dict) -> dict:
    config, run = run_config(state), run_folder(state)
    decided = builtin_plan(state["profile"], config)
    if config.llm.enabled:  # the LLM planner, held to the config; builtin_plan is its fallback
        from nodes.llm_planner import plan_or_fall_back

        decided, failure = plan_or_fall_back(state, config, decided)
        if failure:
            run.event("plan", "stopped", error=failure)
            return {"failure": failure}
    run.write_json(RunFolder.PLAN, decided)
    run.event("plan", "planned", author=decided["author"], families=decided["families"], facade=decided["facade"])
    log.info("plan: %s", decided["rationale"])
    return {"plan": decided}
