"""Documents: word and character TF-IDF with linear models."""

from __future__ import annotations

from tools.templates.base import TaskTemplate


class Text(TaskTemplate):
    priority = 10
    families = ("linear_svm", "logreg", "complement_nb", "sgd")

    def matches(self, profile: dict) -> bool:
        """Documents: a text data set, or a table whose one feature column is free text and
        whose target is a class (a mixed table keeps the tabular template, with TF-IDF
        features for its text columns)."""
        if profile.get("modality") == "text":
            return True
        texts = profile.get("text_columns") or []
        return profile.get("task") == "classification" and profile.get("n_columns") == 1 and len(texts) == 1

    def parameters(self, profile: dict, plan: dict, component: str) -> dict:
        if component == "train":
            return {}
        return super().parameters(profile, plan, component)


TEMPLATE = Text()
