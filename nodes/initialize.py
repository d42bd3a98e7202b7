"""initialize: load the data, seal the test split, profile the training split.

The framework owns the split (DESIGN.md, principle 2). The test split goes to
`sealed/` on the host and is read again only by `deploy`; the sandbox sees
`sandbox_data/`, which holds the training split and a small sample of it for verification.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.model_selection import train_test_split

from graph.config import RunConfig, load_config, parse_config
from graph.state import Profile
from nodes.common import log
from sandbox import choose_backend
from tools import inputs
from tools.errors import ConfigError
from tools.profiling import profile
from tools.runfolder import SANDBOX_VERIFY_DATA, SANDBOX_VERIFY_FEATURES, RunFolder, new_run_dir
from tools.templates import template_for


def resolve_config(state: dict) -> RunConfig:
    if state.get("config"):
        return parse_config(state["config"], state.get("overrides"))
    if state.get("config_path"):
        return load_config(state["config_path"], state.get("overrides"))
    raise ConfigError("give the graph a 'config_path' (a YAML file) or a 'config' mapping")


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


def profile_training_split(data: inputs.PreparedData) -> Profile:
    """The profile the planner and coders see: the training split's facts, the test split's size."""
    facts: Profile = profile(data.X_train, data.y_train, data.task, data.modality)
    facts.update(metric=data.metric, test_split=data.split, n_test_rows=int(len(data.y_test)))
    facts.update(template_for(facts).describe(data.X_train, data.y_train))
    if data.extra.get("season_length"):  # a series' known cycle (sunspots: 11 years)
        facts["season_length"] = int(data.extra["season_length"])
    return facts


def data_info(data: inputs.PreparedData, config: RunConfig, facts: Profile) -> dict:
    """What generated code reads as `data.info` (the plan's metric is added per call)."""
    info = {
        "task": data.task,
        "metric": data.metric,
        "modality": data.modality,
        "cv_folds": config.optimizer.cv_folds,
        "seed": config.seed,
        "n_rows": int(len(data.y_train)),
        "numeric_columns": facts.get("numeric_columns", []),
        "categorical_columns": facts.get("categorical_columns", []),
        "text_columns": facts.get("text_columns", []),
        "date_columns": facts.get("date_columns", []),
        "date_formats": facts.get("date_formats", {}),
    }
    if data.task == "classification":
        classes = np.unique(data.y_train)
        info.update(n_classes=int(len(classes)), classes=classes.tolist())
    return info


VERIFY_FOLDS = 2


def write_data(run: RunFolder, data: inputs.PreparedData, config: RunConfig, info: dict) -> None:
    """The training split and a verification sample for the sandbox; the test split sealed."""
    _dump(run.train_data, {"X": data.X_train, "y": data.y_train, "info": info})
    X_small, y_small = _subsample(data.X_train, data.y_train, config.verify.subsample, data.task, config.seed)
    # Two folds: verification asks whether the code runs and answers sanely, not how good it
    # is, and five folds of the built-in default took 2-3 s of a 60 s run on segment.
    small_info = {**info, "n_rows": int(len(y_small)), "cv_folds": VERIFY_FOLDS}
    _dump(run.sandbox_data / SANDBOX_VERIFY_DATA, {"X": X_small, "y": y_small, "info": small_info})
    _dump(run.sandbox_data / SANDBOX_VERIFY_FEATURES, {"X": X_small})
    _dump(run.sealed_test, {"X": data.X_test, "y": data.y_test})
    y = np.asarray(data.y_train)
    # Numbers only (no pickle): class indices in sorted-class order, or the values.
    target = np.searchsorted(np.unique(y), y) if data.task == "classification" else y.astype(float)
    np.save(run.training_target, target, allow_pickle=False)
    run.sealed.chmod(0o700)
    run.write_json(RunFolder.MODEL_INPUTS, asdict(inputs.ModelInputs.of(data)))


def initialize(state: dict) -> dict:
    config = resolve_config(state)
    run = RunFolder(state.get("run_dir") or new_run_dir(state.get("runs_dir", "runs"), config.name))
    run.root.mkdir(parents=True, exist_ok=True)
    run.event("initialize", "started", config=config.name)
    data = inputs.prepare(config)
    backend, why = choose_backend(config.sandbox.backend)
    log.info("sandbox: %s (%s)", backend, why)

    facts = profile_training_split(data)
    write_data(run, data, config, data_info(data, config, facts))
    resolved = config.model_dump(mode="json")
    run.path(RunFolder.CONFIG).write_text(yaml.safe_dump(resolved, sort_keys=False))
    run.write_json(RunFolder.PROFILE, facts)
    run.event(
        "initialize",
        "data sealed and profiled",
        rows=facts["n_rows"],
        test_rows=facts["n_test_rows"],
        task=data.task,
        metric=data.metric,
        backend=backend,
    )
    log.info(
        "initialize: %s, %d training rows, %d sealed test rows (%s); task %s, metric %s",
        config.name,
        facts["n_rows"],
        facts["n_test_rows"],
        data.split,
        data.task,
        data.metric,
    )
    return {
        "run_dir": str(run.root),
        "config": resolved,
        "profile": facts,
        "backend": backend,
        "started": state.get("started") or time.time(),  # the CLI gives its process's start
    }
