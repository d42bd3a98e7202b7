"""initialize: load the data, seal the test split, profile the training split.

The framework owns the split (DESIGN.md, principle 2). The test split goes to
`sealed/` on the host and is read again only by `deploy`; the sandbox sees
`sandbox_data/`, which holds the training split and a small sample of it for verification.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.model_selection import train_test_split

from graph.config import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    ConfigError,
    RunConfig,
    load_config,
    parse_config,
)
from nodes.common import log
from sandbox import choose_backend
from tools import datasets
from tools.metrics import default_metric
from tools.profiling import column_types, infer_task, profile
from tools.runfolder import RunFolder


@dataclass
class PreparedData:
    X_train: Any
    y_train: np.ndarray
    X_test: Any
    y_test: np.ndarray
    task: str
    metric: str
    modality: str
    split: str  # how the test split came about, for the report
    extra: dict  # the loader's facts, e.g. a series' season length


def resolve_config(state: dict) -> RunConfig:
    if state.get("config"):
        return parse_config(state["config"], state.get("overrides"))
    if state.get("config_path"):
        return load_config(state["config_path"], state.get("overrides"))
    raise ConfigError("give the graph a 'config_path' (a YAML file) or a 'config' mapping")


def clean_features(X: Any) -> Any:
    """Categorical columns as plain objects with NaN for missing: what scikit-learn expects."""
    if not isinstance(X, pd.DataFrame):
        return X
    X = X.copy()
    X.columns = [str(c) for c in X.columns]
    _, categorical = column_types(X)
    for column in categorical:
        values = X[column].astype(object)
        X[column] = values.where(values.notna(), np.nan)
    return X


def _check_task_and_metric(task: str, metric: str, y: np.ndarray) -> None:
    if task == "classification":
        if metric not in CLASSIFICATION_METRICS:
            raise ConfigError(f"metric: '{metric}' does not fit a classification task; "
                              f"use one of {', '.join(CLASSIFICATION_METRICS)}")
        n_classes = len(np.unique(y))
        if n_classes < 2:
            raise ConfigError("dataset.target: the target has a single class; nothing to learn")
        if metric == "roc_auc" and n_classes > 2:
            log.info("roc_auc on %d classes: one-vs-rest, macro-averaged", n_classes)
    else:
        if metric not in REGRESSION_METRICS:
            raise ConfigError(f"metric: '{metric}' does not fit a {task} task; "
                              f"use one of {', '.join(REGRESSION_METRICS)}")
        if not pd.api.types.is_numeric_dtype(pd.Series(y)):
            raise ConfigError(f"dataset.task: a {task} target must be numeric; "
                              "use task: classification for labels")


def prepare_data(config: RunConfig) -> PreparedData:
    """Load, infer the task, check the metric, cut the sealed split. Raises user errors."""
    spec = config.dataset
    data = datasets.load(name=spec.name, path=spec.path, target=spec.target,
                         test_path=spec.test_path, **spec.options)
    task = spec.task if spec.task != "auto" else infer_task(data.y, data.task_hint)
    metric = config.metric if config.metric != "auto" else default_metric(task)
    _check_task_and_metric(task, metric, data.y)
    X, y = clean_features(data.X), np.asarray(data.y)
    if data.has_test_split:
        split = "the data set's own test split" if spec.name else f"your test file {spec.test_path}"
        return PreparedData(X, y, clean_features(data.X_test), np.asarray(data.y_test),
                            task, metric, data.modality, split, data.extra)
    stratify = None
    if task == "classification" and np.unique(y, return_counts=True)[1].min() >= 2:
        stratify = y
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=spec.test_size, random_state=config.seed, stratify=stratify)
    how = "cut at random and stratified" if stratify is not None else "cut at random"
    split = f"{spec.test_size:.0%} of rows, {how} (seed {config.seed})"
    return PreparedData(X_train, y_train, X_test, y_test, task, metric, data.modality, split, data.extra)


def new_run_dir(runs_dir: str | Path, name: str) -> Path:
    """runs/<name>, or runs/<name>-2, -3 ... when that exists: never overwrite a run."""
    root = Path(runs_dir)
    candidate, n = root / name, 1
    while candidate.exists():
        n += 1
        candidate = root / f"{name}-{n}"
    return candidate


def _subsample(X: Any, y: np.ndarray, n: int, task: str, seed: int) -> tuple[Any, np.ndarray]:
    if len(y) <= n:
        return X, y
    stratify = y if task == "classification" and np.unique(y, return_counts=True)[1].min() >= 2 else None
    try:
        X_small, _, y_small, _ = train_test_split(X, y, train_size=n, random_state=seed, stratify=stratify)
    except ValueError:  # too many classes for a stratified sample of this size
        X_small, _, y_small, _ = train_test_split(X, y, train_size=n, random_state=seed)
    return X_small, y_small


def _dump(path: Path, payload: dict) -> None:
    with open(path, "wb") as fh:
        pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)


def initialize(state: dict) -> dict:
    config = resolve_config(state)
    run = RunFolder(state.get("run_dir") or new_run_dir(state.get("runs_dir", "runs"), config.name))
    run.root.mkdir(parents=True, exist_ok=True)
    run.event("initialize", "started", config=config.name)
    data = prepare_data(config)
    backend, why = choose_backend(config.sandbox.backend)
    log.info("sandbox: %s (%s)", backend, why)

    facts = profile(data.X_train, data.y_train, data.task, data.modality)
    facts.update(metric=data.metric, test_split=data.split, n_test_rows=int(len(data.y_test)))
    if data.extra.get("season_length"):  # a series' known cycle (sunspots: 11 years)
        facts["season_length"] = int(data.extra["season_length"])
    info = {
        "task": data.task,
        "metric": data.metric,
        "modality": data.modality,
        "cv_folds": config.optimizer.cv_folds,
        "seed": config.seed,
        "n_rows": int(len(data.y_train)),
        "numeric_columns": facts.get("numeric_columns", []),
        "categorical_columns": facts.get("categorical_columns", []),
    }
    if data.task == "classification":
        classes = np.unique(data.y_train)
        info.update(n_classes=int(len(classes)), classes=classes.tolist())
    _dump(run.sandbox_data / "train.pkl", {"X": data.X_train, "y": data.y_train, "info": info})
    X_small, y_small = _subsample(data.X_train, data.y_train, config.verify.subsample, data.task, config.seed)
    small_info = {**info, "n_rows": int(len(y_small))}
    _dump(run.sandbox_data / "verify.pkl", {"X": X_small, "y": y_small, "info": small_info})
    _dump(run.sandbox_data / "verify_features.pkl", {"X": X_small})
    _dump(run.sealed / "test.pkl", {"X": data.X_test, "y": data.y_test})
    run.sealed.chmod(0o700)

    resolved = config.model_dump(mode="json")
    run.path("config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    run.write_json("profile.json", facts)
    run.event("initialize", "data sealed and profiled", rows=facts["n_rows"],
              test_rows=facts["n_test_rows"], task=data.task, metric=data.metric, backend=backend)
    log.info("initialize: %s, %d training rows, %d sealed test rows (%s); task %s, metric %s",
             config.name, facts["n_rows"], facts["n_test_rows"], data.split, data.task, data.metric)
    return {"run_dir": str(run.root), "config": resolved, "profile": facts, "backend": backend}
