"""Profile the training split: the facts a planner needs, and nothing from the test split."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

MAX_CLASSES = 50  # an integer target with more distinct values than this is a regression
# A string column is free text (TF-IDF features) rather than a category (one-hot) when its
# values are this long on average, have this many words and are mostly distinct.
TEXT_MIN_CHARS = 30
TEXT_MIN_WORDS = 4
TEXT_MIN_DISTINCT = 0.5
# A string column is a date (its year, month, weekday ... become numbers) when one format with
# a year in it reads this share of its values.
DATE_MIN_PARSED = 0.95
DATE_SAMPLE = 500


def infer_task(y: np.ndarray, hint: str | None = None) -> str:
    """classification or regression, from the target's type and distinct values."""
    if hint:
        return hint
    series = pd.Series(y)
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return "classification"
    values = series.dropna()
    if pd.api.types.is_float_dtype(values) and not np.all(np.mod(values, 1) == 0):
        return "regression"
    n_unique = values.nunique()
    if n_unique <= min(MAX_CLASSES, max(2, int(0.05 * len(values)) + 2)):
        return "classification"
    return "regression"


def column_types(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(numeric columns, categorical columns) of a tabular feature frame."""
    numeric, categorical = [], []
    for column in X.columns:
        dtype = X[column].dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            categorical.append(str(column))
        else:
            numeric.append(str(column))
    return numeric, categorical


def text_columns(X: pd.DataFrame, candidates: list[str]) -> list[str]:
    """The columns among `candidates` that hold free text rather than categories: long strings
    of several words, most of them distinct."""
    found = []
    for column in candidates:
        values = X[column].dropna().astype(str)
        if len(values) < 20:
            continue
        sample = values.head(2000)
        words = sample.str.split().str.len().mean()
        distinct = values.nunique() / len(values)
        if sample.str.len().mean() >= TEXT_MIN_CHARS and words >= TEXT_MIN_WORDS and distinct >= TEXT_MIN_DISTINCT:
            found.append(str(column))
    return found


def date_format(values: pd.Series) -> str | None:
    """The strftime format most of the first values follow ("%Y-%m-%d", "%m/%d/%Y %H:%M", ...),
    if it has a year: "Jan" or "12" alone are categories, not dates."""
    from pandas.tseries.api import guess_datetime_format

    with warnings.catch_warnings():  # "dd.mm.yyyy read day first": the format says so already
        warnings.simplefilter("ignore")
        guesses = Counter(guess_datetime_format(v) for v in values.head(20))
    best, _ = guesses.most_common(1)[0] if guesses else (None, 0)
    return best if best and ("%Y" in best or "%y" in best) else None


def date_columns(X: pd.DataFrame, candidates: list[str]) -> dict[str, str]:
    """{column: format} for the columns among `candidates` that hold dates or times written as
    text ("2017-03-14", "03/14/2017 06:00"): one format with a year that nearly all values follow."""
    found = {}
    for column in candidates:
        values = X[column].dropna().astype(str).head(DATE_SAMPLE)
        if len(values) < 20:
            continue
        fmt = date_format(values)
        if fmt is None:
            continue
        parsed = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
        if parsed.notna().mean() >= DATE_MIN_PARSED:
            found[str(column)] = fmt
    return found


def profile(X: Any, y: np.ndarray, task: str, modality: str) -> dict:
    """A JSON-able description of the training split."""
    facts: dict[str, Any] = {
        "modality": modality,
        "task": task,
        "n_rows": int(len(y)),
    }
    if isinstance(X, pd.DataFrame):
        numeric, categorical = column_types(X)
        dates = date_columns(X, categorical) if modality == "tabular" else {}
        texts = text_columns(X, [c for c in categorical if c not in dates]) if modality == "tabular" else []
        categorical = [c for c in categorical if c not in texts and c not in dates]
        missing = X.isna().mean()
        facts.update(
            n_columns=int(X.shape[1]),
            numeric_columns=numeric,
            categorical_columns=categorical,
            text_columns=texts,
            date_columns=list(dates),
            date_formats=dates,
            missing_share={str(c): round(float(v), 4) for c, v in missing.items() if v > 0},
            rows_with_missing=int(X.isna().any(axis=1).sum()),
            cardinality={c: int(X[c].nunique()) for c in categorical},
        )
    else:
        array = np.asarray(X)
        facts.update(shape=list(array.shape[1:]), dtype=str(array.dtype))
    if task == "classification":
        labels, counts = np.unique(pd.Series(y).astype(str), return_counts=True)
        facts.update(
            n_classes=int(len(labels)),
            class_counts={str(k): int(v) for k, v in zip(labels, counts, strict=True)},
            minority_share=round(float(counts.min() / counts.sum()), 4),
        )
    else:
        values = pd.Series(y, dtype=float)
        facts.update(target_summary={k: round(float(v), 4) for k, v in values.describe().items()})
    return facts
