"""Tables of numbers and categories: scikit-learn pipelines over seven model families, and CatBoost."""

from __future__ import annotations

from tools.templates.base import TaskTemplate

# The start portfolio: tried right after the space's default, cheapest first. Chosen by
# `python bench/portfolio.py` (greedy, auto-sklearn 2.0 style) from each family's default and
# four random configurations, scored by 3-fold CV on at most 1,500 training rows of the
# benchmark's DEVELOPMENT data sets only (classification: adult, attrition, breast_cancer,
# compas, segment; regression: concrete, diabetes, sacramento). Output: bench/portfolio.md.
# QUICK_CATBOOST joined it later: the chosen CatBoost entries cost 43-57 s of one core on
# adult's 11,250 rows, so a 60 s search (two workers, trials capped at half the time left) saw
# them all time out on adult, segment and trump_tweets, and CatBoost had no trial there. Of
# five quick candidates (fewer rounds at a larger rate), 150 rounds at 0.2 scored best, at a
# quarter of the cost (`python bench/quick_boosting.py`: the same development sets, their
# whole training splits, the search's 5-fold CV; output in bench/portfolio.md).
QUICK_CATBOOST = {
    "model": "catboost",
    "catboost:depth": 6,
    "catboost:iterations": 150,
    "catboost:l2_leaf_reg": 3.0,
    "catboost:learning_rate": 0.2,
}
PORTFOLIO = {
    "classification": [
        {"model": "linear", "class_weight": "none", "linear:C": 1.0, "scaler": "standard"},
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
        {**QUICK_CATBOOST, "class_weight": "none"},
        {
            "model": "catboost",
            "catboost:depth": 3,
            "catboost:iterations": 1287,
            "catboost:l2_leaf_reg": 10.4267343684094,
            "catboost:learning_rate": 0.0190194440034,
            "class_weight": "none",
        },
        {
            "model": "catboost",
            "catboost:depth": 5,
            "catboost:iterations": 639,
            "catboost:l2_leaf_reg": 1.9187001646594,
            "catboost:learning_rate": 0.0259615186918,
            "class_weight": "none",
        },
        {
            "model": "catboost",
            "catboost:depth": 6,
            "catboost:iterations": 500,
            "catboost:l2_leaf_reg": 3.0,
            "catboost:learning_rate": 0.05,
            "class_weight": "none",
        },
    ],
    "regression": [
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
            "extra_trees:max_features": 0.6268302840689,
            "extra_trees:min_samples_leaf": 2,
            "extra_trees:min_samples_split": 4,
        },
        QUICK_CATBOOST,
        {
            "model": "catboost",
            "catboost:depth": 6,
            "catboost:iterations": 600,
            "catboost:l2_leaf_reg": 25.6746430613433,
            "catboost:learning_rate": 0.0378124361211,
        },
        {
            "model": "catboost",
            "catboost:depth": 5,
            "catboost:iterations": 1172,
            "catboost:l2_leaf_reg": 1.0425806147237,
            "catboost:learning_rate": 0.0225302277294,
        },
    ],
}
QUADRATIC_FAMILIES = ("svm", "knn")  # fit or predict cost grows with rows squared
LARGE_ROWS = 10_000
HUGE_ROWS = 100_000


class Tabular(TaskTemplate):
    priority = 0  # the catch-all for tables: every more specific template is asked first
    families = ("hgb", "catboost", "random_forest", "extra_trees", "linear", "svm", "knn", "mlp")

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
        if profile.get("date_columns"):
            notes.append(
                f"{len(profile['date_columns'])} date column(s) ({', '.join(profile['date_columns'])}): "
                "year, month, day, weekday, day of year, hour and days since 1970 as numbers."
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
