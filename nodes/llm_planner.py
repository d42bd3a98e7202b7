"""The LLM planner: a structured proposal from the profile and the objective, then checked.

The model sees the training split's profile (never the test split: only its row count),
the user's objective and what the run configuration allows. Its answer is a `PlanProposal`
(pydantic; the client re-asks with the validation error when the JSON does not fit). The
proposal is then held to the configuration: the task is the data's, the metric fits the
task (and is the user's when they named one), families come from the allowed ones, the
facade is the configured one unless `auto`, and the budget never exceeds the configured
one. Every correction is a note in the plan's rationale. What the LLM does not decide
(the task template, the scenario's seed and workers) comes from the built-in plan.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from graph.config import RunConfig
from nodes.common import log
from nodes.llm_common import client_for, load_prompt, profile_for_prompt
from tools.llm import BudgetExceeded, LLMConfigError, LLMError
from tools.pareto import check_objectives, parse_rule
from tools.runfolder import RunFolder
from tools.scenario import one_fidelity
from tools.templates import template_for
from tools.vocabulary import FACADES, METRICS, METRICS_BY_TASK, OBJECTIVES, TASKS


class Fidelity(BaseModel):
    min_budget: float = Field(gt=0, le=1, description="smallest share of the full training effort")
    max_budget: float = Field(gt=0, le=1, description="largest share, usually 1.0")


class PlanProposal(BaseModel):
    """What the LLM planner answers."""

    task: Literal[TASKS]
    metric: str = Field(description="the metric cross-validation optimises")
    families: list[str] = Field(min_length=1, description="model families to search, best first")
    facade: Literal[FACADES]
    n_trials: int = Field(ge=1)
    walltime: float = Field(gt=0, description="seconds for the whole search")
    fidelity: Fidelity | None = Field(None, description="only with the multi_fidelity facade")
    rationale: str = Field(description="three to five sentences for the report")
    objectives: list[str] | None = Field(
        None, description="what to trade the metric against (after it), when the objective asks; else null"
    )
    select: str | dict[str, Any] | None = Field(None, description="the rule that picks the deployed model")
    objectives_reason: str | None = Field(None, description="one sentence: why these objectives and rule")


def allowed_choices(profile: dict, config: RunConfig, builtin: dict) -> dict:
    """What the configuration lets the planner choose; shown to the model and enforced."""
    opt = config.optimizer
    task = profile["task"]
    metrics = METRICS_BY_TASK[task] if config.metric == "auto" else (config.metric,)
    # Every family of the data's template (the planner may take one the row rules dropped),
    # unless the user restricted them.
    families = list(builtin["families"]) if opt.families else list(template_for(profile).families)
    return {
        "task": task,
        "metrics": list(metrics),
        "families": families,
        "facades": list(FACADES) if opt.facade == "auto" else [opt.facade],
        "max_trials": opt.n_trials,
        "max_walltime_seconds": opt.walltime,
        "cv_folds": opt.cv_folds,
        "workers": opt.workers,
        # Objectives are the config's when it names them; otherwise the planner may propose some.
        "objectives": config.extra_objectives if config.objectives else list(OBJECTIVES),
        "objectives_fixed_by_config": config.objectives is not None,
    }


def messages(profile: dict, config: RunConfig, allowed: dict) -> list[tuple[str, str]]:
    objective = config.objective.strip() or f"the best {profile['metric']} the budget allows"
    user = load_prompt(
        "planner", objective=objective, profile=profile_for_prompt(profile), allowed=json.dumps(allowed, indent=1)
    )
    return [("system", load_prompt("system")), ("human", user)]


def _hold_scenario(proposal: PlanProposal, allowed: dict, builtin: dict, notes: list[str]) -> tuple[str, dict]:
    """The proposed facade, budget and fidelity, held to the config (a note per correction)."""
    facade = proposal.facade
    if facade not in allowed["facades"]:
        notes.append(f"facade {facade} replaced by the configured {allowed['facades'][0]}")
        facade = allowed["facades"][0]
    n_trials = min(proposal.n_trials, allowed["max_trials"])
    walltime = min(proposal.walltime, allowed["max_walltime_seconds"])
    if n_trials < proposal.n_trials or walltime < proposal.walltime:
        notes.append(
            f"budget capped at the configured {allowed['max_trials']} trials / {allowed['max_walltime_seconds']:g} s"
        )
    scenario = {**builtin["scenario"], "facade": facade, "n_trials": n_trials, "walltime": walltime}
    scenario.pop("min_budget", None)
    scenario.pop("max_budget", None)
    if facade == "multi_fidelity":
        fidelity = proposal.fidelity
        if fidelity is None or fidelity.min_budget >= fidelity.max_budget:
            notes.append("no usable fidelity range was proposed; 0.1 to 1.0 of the full effort is used")
            fidelity = Fidelity(min_budget=0.1, max_budget=1.0)
        scenario.update(min_budget=fidelity.min_budget, max_budget=fidelity.max_budget)
    return facade, scenario


OBJECTIVE_KEYS = ("objectives", "select", "objectives_reason")  # a plan's multi-objective part


def _hold_objectives(proposal: PlanProposal, allowed: dict, builtin: dict, metric: str, notes: list[str]) -> dict:
    """The plan's objectives and rule: the config's when it names them, else the proposal's
    when they are valid (a note when they are dropped), else none."""
    if allowed["objectives_fixed_by_config"]:
        if proposal.objectives and list(proposal.objectives) != allowed["objectives"]:
            notes.append("objectives are the config's")
        return {k: builtin[k] for k in OBJECTIVE_KEYS if k in builtin}
    if not proposal.objectives:
        return {}
    select = proposal.select or "best"
    try:
        extras = check_objectives([metric, *proposal.objectives], METRICS)
        parse_rule(select, extras)
    except ValueError as exc:
        notes.append(f"the proposed objectives were dropped ({exc})")
        return {}
    reason = " ".join((proposal.objectives_reason or "proposed by the planner").split())
    return {"objectives": extras, "select": select, "objectives_reason": f"LLM planner: {reason}"}


def hold_to_config(proposal: PlanProposal, allowed: dict, builtin: dict, profile: dict) -> tuple[dict, list[str]]:
    """The proposal corrected to what the configuration allows, and a note per correction."""
    notes: list[str] = []
    task = allowed["task"]
    if proposal.task != task:
        notes.append(f"the planner proposed a {proposal.task} task; kept {task} (the data's)")
    metric = proposal.metric
    if metric not in allowed["metrics"]:
        keep = profile["metric"]
        if keep not in allowed["metrics"]:
            keep = allowed["metrics"][0]
        notes.append(f"metric {metric!r} is not allowed here; kept {keep}")
        metric = keep
    families = [f for f in dict.fromkeys(proposal.families) if f in allowed["families"]]
    dropped = [f for f in proposal.families if f not in allowed["families"]]
    if dropped:
        notes.append(f"families {', '.join(dropped)} are not allowed here and were dropped")
    if not families:
        families = list(builtin["families"])
        notes.append("no allowed family was left; the built-in choice was used")
    facade, scenario = _hold_scenario(proposal, allowed, builtin, notes)
    several = _hold_objectives(proposal, allowed, builtin, metric, notes)
    facade, scenario, full = one_fidelity(facade, scenario, several.get("objectives") or [])
    if full:
        notes.append(full)
    rationale = " ".join(proposal.rationale.split())
    if notes:
        rationale += " Checked against the configuration: " + "; ".join(notes) + "."
    decided = {
        **{k: v for k, v in builtin.items() if k not in OBJECTIVE_KEYS},
        **several,
        "task": task,
        "metric": metric,
        "families": families,
        "facade": facade,
        "scenario": scenario,
        "rationale": rationale,
        "corrections": notes,
    }
    return decided, notes


def llm_plan(state: dict, config: RunConfig, builtin: dict) -> dict:
    """The LLM's plan, held to the configuration. Raises LLMError (and BudgetExceeded)."""
    profile = state["profile"]
    client = client_for(config, state["run_dir"])
    allowed = allowed_choices(profile, config, builtin)
    proposal = client.structured("plan", messages(profile, config, allowed), PlanProposal)
    decided, _ = hold_to_config(proposal, allowed, builtin, profile)
    decided["author"] = f"llm ({client.resolved.model})"
    decided["proposal"] = proposal.model_dump()
    return decided


def plan_or_fall_back(state: dict, config: RunConfig, builtin: dict) -> tuple[dict, str | None]:
    """(plan, None), or (builtin plan, None) with the reason noted when the LLM cannot plan,
    or (builtin, failure) when a reached cap says stop or the LLM settings are unusable."""
    run = RunFolder(state["run_dir"])
    try:
        decided = llm_plan(state, config, builtin)
    except LLMConfigError as exc:
        return builtin, str(exc)
    except BudgetExceeded as exc:
        if exc.on_cap == "stop":
            return builtin, str(exc)
        reason = str(exc)
    except LLMError as exc:
        reason = str(exc)
    else:
        run.event("plan", "llm plan", author=decided["author"], corrections=decided["corrections"])
        log.info(
            "plan: by the LLM%s", f" ({len(decided['corrections'])} correction(s))" if decided["corrections"] else ""
        )
        return decided, None
    log.warning("plan: the LLM could not plan (%s); the built-in planner decides", reason)
    run.event("plan", "llm fallback", error=reason)
    fallback = {**builtin, "author": "builtin (LLM fallback)", "fallback": reason}
    fallback["rationale"] += f" The LLM planner was not used: {reason}"
    return fallback, None
