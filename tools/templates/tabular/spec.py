"""Tables of numbers and categories: scikit-learn pipelines over seven model families."""

from __future__ import annotations

from tools.templates.base import TaskTemplate

QUADRATIC_FAMILIES = ("svm", "knn")  # fit or predict cost grows with rows squared
LARGE_ROWS = 10_000
HUGE_ROWS = 100_000


class Tabular(TaskTemplate):
    priority = 0  # the catch-all for tables: every more specific template is asked first
    families = ("hgb", "random_forest", "extra_trees", "linear", "svm", "knn", "mlp")

    def matches(self, profile: dict) -> bool:
        return profile.get("modality", "tabular") == "tabular"

    def choose_families(self, profile: dict) -> tuple[list[str], str]:
        rows = profile["n_rows"]
        families = list(self.families)
        why = f"{rows} training rows: every family is affordable"
        if rows > LARGE_ROWS:
            families = [f for f in families if f not in QUADRATIC_FAMILIES]
            why = f"{rows} training rows: SVM and k-NN dropped (their cost grows with rows squared)"
        if rows > HUGE_ROWS:
            families = [f for f in families if f != "mlp"]
            why += "; the MLP dropped too"
        return families, why

    def notes(self, profile: dict, settings: dict) -> list[str]:
        notes = []
        if profile.get("categorical_columns"):
            notes.append(f"{len(profile['categorical_columns'])} categorical columns: one-hot "
                         "encoding with a searched category cap; gradient boosting splits natively.")
        if profile.get("text_columns"):
            notes.append(f"{len(profile['text_columns'])} free-text column(s) ({', '.join(profile['text_columns'])}): "
                         "TF-IDF of words and word pairs, reduced to dense features.")
        if profile.get("rows_with_missing"):
            notes.append(f"{profile['rows_with_missing']} rows with missing values: imputation in the pipeline.")
        return notes

    def parameters(self, profile: dict, plan: dict, component: str) -> dict:
        if component == "train":
            return {}
        return {
            "TASK": plan["task"],
            "FAMILIES": list(plan["families"]),
            "HAS_CATEGORICAL": bool(profile.get("categorical_columns")),
            "HAS_MISSING": bool(profile.get("rows_with_missing")),
            "N_ROWS": int(profile["n_rows"]),
        }


TEMPLATE = Tabular()
