"""The SMAC scenario as a validated spec: parsed from generated source, never executed.

A coder writes the scenario as readable Python holding one literal,

    SCENARIO = {"facade": "hpo", "n_trials": 50, "walltime": 600, ...}

and the host reads that literal with `ast.literal_eval` (DESIGN.md, principle 1), then
validates it here.
"""

from __future__ import annotations

import ast
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tools.vocabulary import FACADES


def one_fidelity(facade: str, scenario: dict, objectives: list[str]) -> tuple[str, dict, str]:
    """The facade and scenario for a run with several objectives: full fidelity only.
    SMAC 2's successive halving ranks the models of a front on different budgets and fails
    an assertion when it cannot (SMAC3 issue 1050), so multi_fidelity becomes hpo. Returns
    the facade, the scenario and what changed ('' when nothing did)."""
    if not objectives or facade != "multi_fidelity":
        return facade, scenario, ""
    scenario = {k: v for k, v in scenario.items() if k not in ("min_budget", "max_budget")}
    return "hpo", {**scenario, "facade": "hpo"}, "several objectives are searched at full fidelity (hpo facade)"


class ScenarioSpecError(ValueError):
    pass


class ScenarioSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facade: Literal[FACADES] = "hpo"
    n_trials: int = Field(50, ge=1, le=100_000)
    walltime: float = Field(600.0, gt=0, description="seconds for the whole search")
    n_workers: int = Field(1, ge=1, le=64)
    deterministic: bool = True
    objectives: list[str] = Field(default_factory=lambda: ["loss"])
    min_budget: float | None = Field(None, gt=0)
    max_budget: float | None = Field(None, gt=0)
    initial_design_size: int | None = Field(None, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _fidelity(self) -> ScenarioSpec:
        multi = self.facade == "multi_fidelity"
        if multi and (self.min_budget is None or self.max_budget is None):
            raise ValueError("a multi_fidelity facade needs min_budget and max_budget")
        if self.min_budget and self.max_budget and self.min_budget >= self.max_budget:
            raise ValueError("min_budget must be smaller than max_budget")
        if not multi and (self.min_budget or self.max_budget):
            raise ValueError(f"min_budget/max_budget only apply to the multi_fidelity facade, not {self.facade}")
        return self


def parse_scenario_source(source: str) -> ScenarioSpec:
    """Find `SCENARIO = {...}` in the source and validate it, without running the code."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ScenarioSpecError(f"scenario: syntax error at line {exc.lineno}: {exc.msg}") from None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "SCENARIO" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                raise ScenarioSpecError(
                    "scenario: SCENARIO must be a plain literal dict (no calls, names or expressions)"
                ) from None
            if not isinstance(value, dict):
                raise ScenarioSpecError("scenario: SCENARIO must be a dict")
            try:
                return ScenarioSpec.model_validate(value)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(map(str, first["loc"])) or "SCENARIO"
                raise ScenarioSpecError(f"scenario: {where}: {first['msg']}") from None
    raise ScenarioSpecError("scenario: no top-level assignment SCENARIO = {...} found")


def render_scenario_source(spec: ScenarioSpec, rationale: str = "") -> str:
    lines = ['"""SMAC scenario for this run (a literal: the host reads it, never runs it)."""', ""]
    if rationale:
        lines += [f"# {line}" for line in rationale.splitlines()] + [""]
    lines.append("SCENARIO = {")
    for key, value in spec.model_dump().items():
        lines.append(f"    {key!r}: {value!r},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def hold_to_budget(spec: ScenarioSpec, n_trials: int, walltime: float, workers: int) -> tuple[ScenarioSpec, list[str]]:
    """The scenario within the run's configured budget (a coder may ask for more), and a note
    for each value that was lowered."""
    limits = {"n_trials": n_trials, "walltime": walltime, "n_workers": workers}
    lowered = {key: limit for key, limit in limits.items() if getattr(spec, key) > limit}
    notes = [f"{key} {getattr(spec, key):g} lowered to the configured {limit:g}" for key, limit in lowered.items()]
    return spec.model_copy(update=lowered), notes
