"""One peer of the AutoML benchmark on one data set, run in the bench venv in a process of its own:

    .bench-venv/bin/python bench/peers.py METHOD DATA_DIR BUDGET OUT_JSON [--cores N]

METHOD is one of
- `flaml`: FLAML `AutoML.fit(time_budget=BUDGET, n_jobs=cores, metric=accuracy|r2, seed=0)`.
- `autogluon`: AutoGluon-Tabular `TabularPredictor(eval_metric=accuracy|r2).fit(presets="medium_quality",
  time_limit=BUDGET, num_cpus=cores)`; its model folder is a temporary folder, deleted afterwards.
- `hgb`: scikit-learn's HistGradientBoostingClassifier/Regressor with default settings (random_state=0); string columns
  are ordinal-encoded and marked categorical (those with more than 255 levels stay ordinal numbers).
- `linear`: LogisticRegression(max_iter=2000) / Ridge() behind simple preprocessing: numbers imputed
  (median) and standardised, strings imputed and one-hot encoded (levels seen fewer than 5 times
  pooled), free-text columns (bench_datasets.text_columns) as TF-IDF of words and word pairs.
The budget matters only to FLAML and AutoGluon; the two defaults ignore it.

Every method fits on DATA_DIR/train.csv and predicts DATA_DIR/test.csv once. OUT_JSON gets the
test metrics (accuracy, and roc_auc for two classes, for classification; r2, rmse and mae for
regression), `fit_seconds` (fit and predict) and `process_seconds` (this process, imports included).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

STARTED = time.monotonic()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_datasets import text_columns  # noqa: E402


def load(data: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    meta = json.loads((data / "meta.json").read_text())
    return pd.read_csv(data / "train.csv"), pd.read_csv(data / "test.csv"), meta


def score(task: str, y_true: pd.Series, y_pred, proba: pd.DataFrame | None) -> dict:
    """The test metrics; `proba` has one column per class (named by class) or is None."""
    from sklearn import metrics

    if task == "regression":
        y_pred = np.asarray(y_pred, dtype=float)
        return {
            "r2": metrics.r2_score(y_true, y_pred),
            "rmse": metrics.root_mean_squared_error(y_true, y_pred),
            "mae": metrics.mean_absolute_error(y_true, y_pred),
        }
    out = {"accuracy": metrics.accuracy_score(y_true.astype(str), np.asarray(y_pred).astype(str))}
    if proba is not None and proba.shape[1] == 2:
        positive = sorted(proba.columns, key=str)[1]
        out["roc_auc"] = metrics.roc_auc_score(y_true.astype(str) == str(positive), proba[positive])
    return out


def _strings(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if X[c].dtype == object or str(X[c].dtype) in ("category", "string", "bool")]


def _as_text(column: pd.Series) -> pd.Series:
    """Values as Python strings, missing values as NaN (what scikit-learn's encoders expect)."""
    return column.astype(object).map(lambda v: np.nan if pd.isna(v) else str(v))


def run_flaml(X, y, X_test, task, budget, cores):
    from flaml import AutoML

    for c in _strings(X):  # FLAML treats category columns as categorical
        levels = pd.Categorical(_as_text(pd.concat([X[c], X_test[c]]))).categories
        X[c] = pd.Categorical(_as_text(X[c]), categories=levels)
        X_test[c] = pd.Categorical(_as_text(X_test[c]), categories=levels)
    automl = AutoML()
    automl.fit(
        X,
        y,
        task=task,
        metric="accuracy" if task == "classification" else "r2",
        time_budget=budget,
        n_jobs=cores,
        seed=0,
        verbose=0,
    )
    pred = automl.predict(X_test)
    proba = None
    if task == "classification":
        proba = pd.DataFrame(automl.predict_proba(X_test), columns=automl.classes_)
    return pred, proba, {"best_estimator": automl.best_estimator}


def run_autogluon(X, y, X_test, task, budget, cores):
    from autogluon.tabular import TabularPredictor

    label = "__target__"
    with tempfile.TemporaryDirectory(prefix="bench-ag-") as path:
        predictor = TabularPredictor(
            label=label,
            eval_metric="accuracy" if task == "classification" else "r2",
            problem_type=None if task == "classification" else "regression",
            path=path,
            verbosity=0,
        )
        predictor.fit(X.assign(**{label: y}), presets="medium_quality", time_limit=budget, num_cpus=cores)
        pred = predictor.predict(X_test)
        proba = predictor.predict_proba(X_test) if task == "classification" else None
        info = {"best_model": predictor.model_best, "models": len(predictor.model_names())}
    return pred, proba, info


def _encoded(X, X_test):
    """String columns as ordinal codes (missing stays NaN), for HistGradientBoosting."""
    from sklearn.preprocessing import OrdinalEncoder

    strings = _strings(X)
    X, X_test = X.copy(), X_test.copy()
    categorical = []
    for c in strings:
        enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan)
        X[c] = enc.fit_transform(_as_text(X[c]).to_frame())[:, 0]
        X_test[c] = enc.transform(_as_text(X_test[c]).to_frame())[:, 0]
        if len(enc.categories_[0]) <= 255:
            categorical.append(c)
    mask = [c in categorical for c in X.columns]
    return X, X_test, mask


def run_hgb(X, y, X_test, task, budget, cores):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    X, X_test, mask = _encoded(X, X_test)
    model = (HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor)(
        categorical_features=mask if any(mask) else None,
        random_state=0,  # over 10,000 rows it stops early on a random validation split: seeded, repeatable
    )
    model.fit(X, y)
    proba = pd.DataFrame(model.predict_proba(X_test), columns=model.classes_) if task == "classification" else None
    return model.predict(X_test), proba, {}


def run_linear(X, y, X_test, task, budget, cores):
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    texts = text_columns(X)
    strings = [c for c in _strings(X) if c not in texts]
    numbers = [c for c in X.columns if c not in strings and c not in texts]
    parts = [
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
        (
            "cat",
            make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5),
            ),
            strings,
        ),
    ]
    parts += [(f"text_{c}", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), c) for c in texts]
    for c in strings + texts:
        X[c], X_test[c] = _as_text(X[c]), _as_text(X_test[c])
        if c in texts:
            X[c], X_test[c] = X[c].fillna(""), X_test[c].fillna("")
    model = make_pipeline(
        ColumnTransformer([p for p in parts if len(p[2]) or isinstance(p[2], str)]),
        LogisticRegression(max_iter=2000) if task == "classification" else Ridge(),
    )
    model.fit(X, y)
    classes = model.classes_ if task == "classification" else None
    proba = pd.DataFrame(model.predict_proba(X_test), columns=classes) if task == "classification" else None
    return model.predict(X_test), proba, {}


METHODS = {"flaml": run_flaml, "autogluon": run_autogluon, "hgb": run_hgb, "linear": run_linear}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=sorted(METHODS))
    parser.add_argument("data", type=Path)
    parser.add_argument("budget", type=float)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    train, test, meta = load(args.data)
    target, task = meta["target"], meta["task"]
    X, y = train.drop(columns=[target]), train[target]
    X_test, y_test = test.drop(columns=[target]), test[target]
    if task == "classification":
        y, y_test = y.astype(str), y_test.astype(str)
    warnings.filterwarnings("ignore")
    fit_started = time.monotonic()
    pred, proba, info = METHODS[args.method](X, y, X_test, task, args.budget, args.cores)
    fit_seconds = time.monotonic() - fit_started
    result = {
        "metrics": score(task, y_test, pred, proba),
        "fit_seconds": fit_seconds,
        "process_seconds": time.monotonic() - STARTED,
        "cores": args.cores,
        "info": info,
    }
    args.out.write_text(json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
