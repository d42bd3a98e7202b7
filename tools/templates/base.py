"""What a task template is: one folder that serves one kind of data.

    tools/templates/<name>/
      spec.py          TEMPLATE = <a TaskTemplate>: how it recognises its data, its model
                       families, default facade and fidelity, template parameters, baselines
      configspace.py   the configuration-space template (runs only in the sandbox)
      train.py         the training-function template (runs only in the sandbox)

A template's parameters are the top-level `NAME = literal` lines of its two sources; the
built-in coder sets them from the plan and the data profile (`parameters`). "Family" means a
model family (hgb, svm, cnn, ...), never a template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class TaskTemplate:
    """Defaults for a template; a spec.py overrides what its data needs."""

    name: str = ""  # the folder's name, set when the folder is registered
    folder: Path | None = None
    priority: int = 0  # templates that match are tried from the highest priority down
    families: tuple[str, ...] = ()  # model families, the cheapest to try first
    facade: str = "hpo"  # the SMAC facade with optimizer.facade: auto

    def matches(self, profile: dict) -> bool:
        """Does this template serve data with this profile?"""
        raise NotImplementedError

    def describe(self, X: Any, y: Any) -> dict:
        """Facts of the training split this template needs in the profile (e.g. a season)."""
        return {}

    def choose_families(self, profile: dict) -> tuple[list[str], str]:
        """The families worth searching on this data, and why."""
        return list(self.families), f"the {self.name} template's families"

    def fidelity(self, profile: dict) -> tuple[dict, str]:
        """The multi-fidelity budget range (scenario fields) and what a budget means."""
        return (
            {"min_budget": 0.1, "max_budget": 1.0},
            "budget = the share of the model's fidelity (trees, rounds, documents)",
        )

    def portfolio(self, profile: dict, families: list[str]) -> list[dict]:
        """Strong configurations to try right after the space's default, in order (each names
        only what differs from the default; those of families not searched are left out)."""
        return []

    def settings(self, profile: dict, scenario: dict | None = None) -> dict:
        """Training-template parameters beyond the space, fixed at planning (plan.template_parameters)."""
        return {}

    def validation(self, cv_folds: int, settings: dict) -> str:
        """How a configuration is judged, in words, for the plan and the report."""
        return f"{cv_folds}-fold cross-validation inside the training split"

    def notes(self, profile: dict, settings: dict) -> list[str]:
        """Extra sentences for the plan's rationale."""
        return []

    def parameters(self, profile: dict, plan: dict, component: str) -> dict:
        """Values for the `NAME = ...` lines of `component`'s template."""
        if component == "train":
            return dict(plan.get("template_parameters") or {})
        return {"FAMILIES": list(plan["families"]), "N_ROWS": int(profile["n_rows"])}

    def baselines(self, y_train: Any, y_test: Any, settings: dict, cv_folds: int) -> dict | None:
        """Trivial models scored beside the deployed one on the sealed split, if any."""
        return None

    def source(self, component: str) -> str:
        assert self.folder is not None, f"template {self.name!r} is not registered"
        return (self.folder / f"{component}.py").read_text()
