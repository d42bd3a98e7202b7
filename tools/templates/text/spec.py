"""Documents: word and character TF-IDF with linear models."""

from __future__ import annotations

from tools.templates.base import TaskTemplate


class Text(TaskTemplate):
    priority = 10
    families = ("linear_svm", "logreg", "complement_nb", "sgd")

    def matches(self, profile: dict) -> bool:
        return profile.get("modality") == "text"

    def parameters(self, profile: dict, plan: dict, component: str) -> dict:
        if component == "train":
            return {}
        return super().parameters(profile, plan, component)


TEMPLATE = Text()
