"""A toy task template for the tests: tables of exactly two numeric columns."""

from __future__ import annotations

from tools.templates.base import TaskTemplate


class TwoColumns(TaskTemplate):
    priority = 5
    families = ("nearest_centroid",)

    def matches(self, profile: dict) -> bool:
        return profile.get("modality") == "tabular" and profile.get("n_columns") == 2

    def notes(self, profile: dict, settings: dict) -> list[str]:
        return ["Two columns: the toy template's nearest centroid."]


TEMPLATE = TwoColumns()
