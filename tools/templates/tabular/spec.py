"""Tables of numbers and categories: scikit-learn pipelines over seven model families."""

from __future__ import annotations

from tools.templates.base import TaskTemplate

# The start portfolio: tried right after the space's default, cheapest first. Chosen by
# `python bench/portfolio.py` (greedy, auto-sklearn 2.0 style) from each family's default and
# four random configurations, scored by 3-fold CV on at most 1,500 training rows of the
# benchmark's DEVELOPMENT data sets only (classification: adult, attrition, breast_cancer,
# compas, segment; regression: concrete, diabetes, sacramento). Output: bench/portfolio.md.
PORTFOLIO = {
    "classification": [
        {
            "model": "svm",
            "class_weight": "none",
            "scaler": "standard",
            "svm:C": 1.0,
            "svm:kernel": "rbf",
            "svm:gamma": 0.1,
        },
        {
            "model": "hgb",
            "class_weight": "none",
            "hgb:l2_regularization": 1e-08,
            "hgb:learning_rate": 0.1,
            "hgb:max_features": 1.0,
            "hgb:max_iter": 128,
            "hgb:max_leaf_nodes": 31,
            "hgb:min_samples_leaf": 20,
        },
        {"model": "linear", "class_weight": "none", "linear:C": 1.8222464604381, "scaler": "none"},
        {
            "model": "random_forest",
            "class_weight": "none",
            "random_forest:bootstrap": True,
            "random_forest:criterion": "entropy",
            "random_forest:max_features": 0.812074848547,
            "random_forest:min_samples_leaf": 4,
            "random_forest:min_samples_split": 11,
        },
        {
            "model": "hgb",
            "class_weight": "balanced",
            "hgb:l2_regularization": 0.0003899244622,
            "hgb:learning_rate": 0.0909763654094,
            "hgb:max_features": 0.3053923319466,
            "hgb:max_iter": 389,
            "hgb:max_leaf_nodes": 6,
            "hgb:min_samples_leaf": 16,
        },
        {
            "model": "mlp",
            "mlp:alpha": 0.0102185530441,
            "mlp:depth": 1,
            "mlp:learning_rate_init": 0.0377139739923,
            "mlp:width": 305,
            "scaler": "standard",
        },
    ],
    "regression": [
        {
            "model": "hgb",
            "hgb:l2_regularization": 0.0013691236231,
            "hgb:learning_rate": 0.3401948919666,
            "hgb:max_features": 0.5613865189532,
            "hgb:max_iter": 269,
            "hgb:max_leaf_nodes": 4,
            "hgb:min_samples_leaf": 16,
        },
        {
            "model": "hgb",
            "hgb:l2_regularization": 1e-08,
            "hgb:learning_rate": 0.1,
            "hgb:max_features": 1.0,
            "hgb:max_iter": 128,
            "hgb:max_leaf_nodes": 31,
            "hgb:min_samples_leaf": 20,
        },
        {
            "model": "extra_trees",
            "extra_trees:bootstrap": False,
            "extra_trees:max_features": 0.5,
            "extra_trees:min_samples_leaf": 1,
            "extra_trees:min_samples_split": 2,
        },
        {
            "model": "random_forest",
            "random_forest:bootstrap": True,
            "random_forest:max_features": 0.5,
            "random_forest:min_samples_leaf": 1,
            "random_forest:min_samples_split": 2,
        },
    ],
}
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

    def portfolio(self, profile: dict, families: list[str]) -> list[dict]:
        task = "classification" if profile["task"] == "classification" else "regression"
        return [dict(c) for c in PORTFOLIO[task] if c["model"] in families]

    def notes(self, profile: dict, settings: dict) -> list[str]:
        notes = []
        if profile.get("categorical_columns"):
            notes.append(
                f"{len(profile['categorical_columns'])} categorical columns: one-hot "
                "encoding with a searched category cap; gradient boosting splits natively."
            )
        if profile.get("text_columns"):
            notes.append(
                f"{len(profile['text_columns'])} free-text column(s) ({', '.join(profile['text_columns'])}): "
                "TF-IDF of words and word pairs, reduced to dense features."
            )
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
