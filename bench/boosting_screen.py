"""Which gradient-boosting library might earn a place among the tabular families?

A first screen, before any library is added to the template (issue 15, item 6): on each
DEVELOPMENT data set's training split (at most `--rows` rows; the test splits are never
read), the 5-fold CV score of each library's defaults beside scikit-learn's default
HistGradientBoosting, categories given to each the way it takes them (HGB, LightGBM and
XGBoost: pandas categories; CatBoost: strings named as cat_features). A library whose
defaults do not beat default HGB's CV is not worth the image space or a portfolio slot;
one that does goes on to the with-and-without benchmark (`bench/automl_benchmark.md`).

Runs in the bench venv, which has all three libraries (AutoGluon brings them):

    .bench-venv/bin/python bench/boosting_screen.py --data .cache/bench/data
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import KFold, StratifiedKFold

LIBRARIES = ("hgb", "lightgbm", "xgboost", "catboost")


def default_model(library: str, classify: bool, categorical: list[str]):
    """The library's defaults; only threads, seeds, silence and how categories are read are set."""
    if library == "hgb":
        kind = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        return kind(categorical_features="from_dtype", random_state=0)
    if library == "lightgbm":
        import lightgbm

        kind = lightgbm.LGBMClassifier if classify else lightgbm.LGBMRegressor
        return kind(verbose=-1, n_jobs=2, random_state=0)
    if library == "xgboost":
        import xgboost

        kind = xgboost.XGBClassifier if classify else xgboost.XGBRegressor
        return kind(enable_categorical=True, tree_method="hist", n_jobs=2, random_state=0)
    import catboost

    kind = catboost.CatBoostClassifier if classify else catboost.CatBoostRegressor
    return kind(verbose=0, thread_count=2, random_seed=0, cat_features=categorical, allow_writing_files=False)


def features_for(library: str, X: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    X = X.copy()
    for column in categorical:
        text = X[column].astype(str)
        X[column] = text if library == "catboost" else text.astype("category")
    return X


def cv_score(library: str, X: pd.DataFrame, y: np.ndarray, classify: bool, categorical: list[str]) -> float:
    """Mean 5-fold score (accuracy or r2); the folds are the same for every library. A plain
    loop, not cross_val_score: CatBoost's cat_features list does not survive clone()."""
    folds = StratifiedKFold(5, shuffle=True, random_state=0) if classify else KFold(5, shuffle=True, random_state=0)
    score = accuracy_score if classify else r2_score
    X = features_for(library, X, categorical)
    model = default_model(library, classify, categorical)
    scores = []
    for train, test in folds.split(X, y):
        fitted = (model.copy() if library == "catboost" else clone(model)).fit(X.iloc[train], y[train])
        predicted = np.ravel(fitted.predict(X.iloc[test]))
        scores.append(score(y[test], predicted.astype(y.dtype) if classify else predicted))
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(".cache/bench/data"))
    parser.add_argument("--rows", type=int, default=2000, help="training rows per data set at most")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print("| data set | metric | rows | " + " | ".join(f"{name} CV | s" for name in LIBRARIES) + " |")
    print("|---|---|---:|" + "---:|---:|" * len(LIBRARIES))
    for meta_path in sorted(args.data.glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        if meta["group"] != "dev" or meta.get("text"):
            continue
        table = pd.read_csv(meta_path.parent / "train.csv")
        if len(table) > args.rows:
            table = table.sample(args.rows, random_state=0)
        y = table.pop(meta["target"])
        classify = meta["task"] == "classification"
        y = np.unique(y.astype(str), return_inverse=True)[1] if classify else y.to_numpy(dtype=float)
        categorical = [c for c in table.columns if table[c].dtype == object or c in meta.get("categorical", [])]
        cells = []
        for library in LIBRARIES:
            started = time.perf_counter()
            score = cv_score(library, table, y, classify, categorical)
            cells.append(f"{score:.4f} | {time.perf_counter() - started:.0f}")
        metric = "accuracy" if classify else "r2"
        print(f"| {meta['name']} | {metric} | {len(y)} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
