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


# Model families each template offers, the cheapest-to-try first.
TEMPLATE_FAMILIES = {
    "image": ("cnn", "classical"),
    "text": ("linear_svm", "logreg", "complement_nb", "sgd"),
    "timeseries": ("ridge", "hgb", "random_forest", "extra_trees"),
}


def template_family(profile: dict) -> str:
    """Which template folder serves this data (one per task family).

    A forecasting task is a time series whatever the table looks like: it must never be
    validated with shuffled folds.
    """
    modality = "timeseries" if profile.get("task") == "forecasting" else profile.get("modality", "tabular")
    family = {"tabular": "tabular", "image": "image", "text": "text",
              "timeseries": "timeseries"}.get(modality)
    if family is None or not (TEMPLATES / family).is_dir():
        raise ValueError(f"no built-in template for {profile.get('modality')} data yet")
    return family


def template_settings(profile: dict, scenario: dict | None = None) -> dict:
    """Training-template parameters a family needs beyond the configuration space.

    image: epochs (the multi-fidelity budget's top is the epochs of the final fit) and the
    number of images a search trial trains on. timeseries: the forecast horizon (the number
    of sealed steps, a size and not a value) and the season length.
    """
    family = template_family(profile)
    n_rows = int(profile["n_rows"])
    if family == "image":
        scenario = scenario or {}
        epochs = int(scenario.get("max_budget") or (6 if n_rows >= 20_000 else 8))
        return {"MAX_EPOCHS": epochs, "FINAL_EPOCHS": epochs, "SEARCH_ROWS": 10_000}
    if family == "timeseries":
        horizon = int(profile.get("n_test_rows") or max(1, n_rows // 10))
        return {"HORIZON": max(1, min(horizon, n_rows // 4)),
                "SEASON": int(profile.get("season_length") or 1)}
    return {}


def fill_parameters(source: str, values: dict) -> str:
    """Set each top-level `NAME = ...` line of a template to the given literal."""
    for name, value in values.items():
        pattern = re.compile(rf"^{re.escape(name)} = .*$", re.MULTILINE)
        if not pattern.search(source):
            raise KeyError(f"template has no parameter {name}")
        line = f"{name} = {value!r}"
        source = pattern.sub(lambda _, line=line: line, source, count=1)
    return source


def parameters(profile: dict, plan: dict, component: str = "configspace") -> dict:
    """The template parameters of one component, from the plan and the data profile."""
    family = plan.get("template") or template_family(profile)
    n_rows = int(profile["n_rows"])
    settings = plan.get("template_parameters") or template_settings(profile, plan.get("scenario"))
    if family == "image":
        if component == "train":
            return dict(settings)
        return {"FAMILIES": list(plan["families"]), "N_ROWS": n_rows,
                "IMAGE_SHAPE": list(profile.get("shape", [28, 28]))}
    if family == "text":
        return {} if component == "train" else {"FAMILIES": list(plan["families"]), "N_ROWS": n_rows}
    if family == "timeseries":
        season = int(settings["SEASON"])
        if component == "train":
            return {"HORIZON": int(settings["HORIZON"]), "SEASON": season}
        nonnegative = float(profile.get("target_summary", {}).get("min", -1)) >= 0
        return {"FAMILIES": list(plan["families"]), "N_ROWS": n_rows, "SEASON": season,
                "NONNEGATIVE": nonnegative}
    if component == "train":
        return {}
    return {
        "TASK": plan["task"],
        "FAMILIES": list(plan["families"]),
        "HAS_CATEGORICAL": bool(profile.get("categorical_columns")),
        "HAS_MISSING": bool(profile.get("rows_with_missing")),
        "N_ROWS": n_rows,
    }


def write_component(component: str, profile: dict, plan: dict) -> str:
    """Source text of one component for this profile and plan."""
    if component == "scenario":
        spec = ScenarioSpec.model_validate(plan["scenario"])
        return render_scenario_source(spec, rationale="Written by the built-in coder from the plan.")
    family = plan.get("template") or template_family(profile)
    source = (TEMPLATES / family / f"{component}.py").read_text()
    return fill_parameters(source, parameters(profile, plan, component))
