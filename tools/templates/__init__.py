"""The built-in coder: writes the three components from task templates, no LLM needed.

A task template is one folder (see `base.py`): `spec.py` says which data it serves and how
to plan for it; `configspace.py` and `train.py` are real Python modules (linted, readable)
whose top-level `NAME = literal` lines are the template's parameters. The coder sets those
from the plan and the data profile, and the result is source text that runs only inside
the sandbox.

Every folder here with a `spec.py` registers itself at import; `register(folder)` adds one
from elsewhere. Adding a kind of data is adding a folder.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from tools.scenario import ScenarioSpec, render_scenario_source
from tools.templates.base import TaskTemplate

TEMPLATES = Path(__file__).parent
_REGISTERED: dict[str, TaskTemplate] = {}


def register(folder: str | Path) -> TaskTemplate:
    """Add the template in `folder` (its spec.py's TEMPLATE, named after the folder)."""
    folder = Path(folder).absolute()
    module_name = f"tools.templates.{folder.name}.spec"
    loader = importlib.util.spec_from_file_location(module_name, folder / "spec.py")
    if loader is None or loader.loader is None:
        raise ValueError(f"{folder}: no spec.py to register")
    module = importlib.util.module_from_spec(loader)
    sys.modules[module_name] = module
    loader.loader.exec_module(module)
    template: TaskTemplate = module.TEMPLATE
    template.name, template.folder = folder.name, folder
    _REGISTERED[folder.name] = template
    return template


def unregister(name: str) -> None:
    _REGISTERED.pop(name, None)


def templates() -> list[TaskTemplate]:
    """Every registered template, the first to ask first."""
    return sorted(_REGISTERED.values(), key=lambda t: -t.priority)


def get(name: str) -> TaskTemplate:
    return _REGISTERED[name]


def template_for(profile: dict) -> TaskTemplate:
    """The template that serves data with this profile."""
    for template in templates():
        if template.matches(profile):
            return template
    raise ValueError(f"no built-in template for {profile.get('modality')} data yet")


def all_families() -> tuple[str, ...]:
    """Every model family some template offers (which serve a run depends on its data); the
    catch-all tabular families first."""
    by_priority = sorted(_REGISTERED.values(), key=lambda t: t.priority)
    return tuple(dict.fromkeys(f for t in by_priority for f in t.families))


def fill_parameters(source: str, values: dict) -> str:
    """Set each top-level `NAME = ...` line of a template to the given literal."""
    for name, value in values.items():
        pattern = re.compile(rf"^{re.escape(name)} = .*$", re.MULTILINE)
        if not pattern.search(source):
            raise KeyError(f"template has no parameter {name}")
        line = f"{name} = {value!r}"
        source = pattern.sub(lambda _, line=line: line, source, count=1)
    return source


def write_component(component: str, profile: dict, plan: dict) -> str:
    """Source text of one component for this profile and plan."""
    if component == "scenario":
        spec = ScenarioSpec.model_validate(plan["scenario"])
        return render_scenario_source(spec, rationale="Written by the built-in coder from the plan.")
    template = get(plan["template"]) if plan.get("template") else template_for(profile)
    return fill_parameters(template.source(component), template.parameters(profile, plan, component))


for _folder in sorted(TEMPLATES.iterdir()):
    if (_folder / "spec.py").is_file():
        register(_folder)
