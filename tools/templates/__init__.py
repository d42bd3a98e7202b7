"""The built-in coder: writes the three components from expert templates, no LLM needed.

Templates are real Python modules in folders per task family (`tabular/`, ...), so they
are linted and readable. A template's parameters are its top-level `NAME = literal`
assignments; the coder replaces their values from the plan and the data profile, and
the result is source text that runs only inside the sandbox.
"""

from __future__ import annotations

import re
from pathlib import Path

from tools.scenario import ScenarioSpec, render_scenario_source

TEMPLATES = Path(__file__).parent
COMPONENTS = ("configspace", "train", "scenario")


def template_family(profile: dict) -> str:
    """Which template folder serves this data (one per task family)."""
    family = {"tabular": "tabular"}.get(profile.get("modality", "tabular"))
    if family is None or not (TEMPLATES / family).is_dir():
        raise ValueError(f"no built-in template for {profile.get('modality')} data yet")
    return family


def fill_parameters(source: str, values: dict) -> str:
    """Set each top-level `NAME = ...` line of a template to the given literal."""
    for name, value in values.items():
        pattern = re.compile(rf"^{re.escape(name)} = .*$", re.MULTILINE)
        if not pattern.search(source):
            raise KeyError(f"template has no parameter {name}")
        source = pattern.sub(lambda _: f"{name} = {value!r}", source, count=1)
    return source


def parameters(profile: dict, plan: dict) -> dict:
    return {
        "TASK": plan["task"],
        "FAMILIES": list(plan["families"]),
        "HAS_CATEGORICAL": bool(profile.get("categorical_columns")),
        "HAS_MISSING": bool(profile.get("rows_with_missing")),
        "N_ROWS": int(profile["n_rows"]),
    }


def write_component(component: str, profile: dict, plan: dict) -> str:
    """Source text of one component for this profile and plan."""
    if component == "scenario":
        spec = ScenarioSpec.model_validate(plan["scenario"])
        return render_scenario_source(spec, rationale="Written by the built-in coder from the plan.")
    family = template_family(profile)
    source = (TEMPLATES / family / f"{component}.py").read_text()
    if component == "configspace":
        return fill_parameters(source, parameters(profile, plan))
    return source
