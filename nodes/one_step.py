"""deploy's one-step-ahead forecasts of a forecasting model: refit-free, each sealed step
forecast from the true values before it.

The full-horizon forecast (deploy's test scores) answers "how well does the model forecast
30 years from the end of its training years"; most of its error on a cycle like the
sunspots' is the phase drifting. The one-step-ahead forecast answers "how good is the next
year's forecast when the past is known", as the model would be used year by year. Both are
reported, each beside the same baselines (tools/templates/timeseries/baselines.py).

A DEPARTURE FROM DESIGN.md PRINCIPLE 2 ("no generated code sees the test labels"), and why
it is safe. To forecast sealed step t from the true past, the deployed model (generated
code, in a sandbox) must be given the sealed values of steps 0..t-1. It never gets a value
it is asked to forecast:
- It runs only after the full-horizon forecast is scored and metrics.json holds those
  scores: nothing it does can change them, nor the model (it is fitted on the training
  years and saved; the sandbox sees the model folder read-only and refits nothing).
- One sandbox call per step. Before call t the data folder (a fresh temporary folder, the
  sandbox's only view of data) holds the history up to t-1 and the time stamp of step t,
  and nothing else; the sealed folder is never mounted. Call t's answer is recorded before
  the history of step t+1 is written, and the worker kills every process of a call when
  it answers (sandbox/worker.py), so no process of call t is alive to see a later file.
  Values a later call sees are ones that call does not forecast.
- The model's pickle is loaded only inside the sandbox (principle 1); what comes back is
  one number per member and step, scored on the host.
With `sandbox.backend: unsafe_process` generated code runs on the host and could read
anything (the sealed folder too); that backend is loudly unsafe in every respect.
"""

from __future__ import annotations

import pickle
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nodes.common import log, plan_facts, run_folder, sandbox_recipe
from sandbox import Sandbox, SandboxError, Workspace, open_sandbox
from tools.ensemble import combine, member_artifact
from tools.metrics import regression_metrics
from tools.runfolder import SANDBOX_FINAL_TRAIN


class OneStepUnavailable(Exception):
    """The model cannot forecast one step from a longer history (e.g. no update())."""


@dataclass
class Steps:
    """The training series and the sealed steps, in time order (host side only)."""

    X_train: object
    y_train: np.ndarray
    X_test: object
    y_test: np.ndarray
    info: dict

    def history(self, step: int) -> dict:
        """What sealed step `step`'s call may see: the training rows and the sealed rows
        before it, never the step itself nor any after it."""
        y = np.concatenate([self.y_train, self.y_test[:step]])
        X = _join(self.X_train, _take(self.X_test, 0, step))
        return {"X": X, "y": y, "info": {**self.info, "n_rows": len(y)}}

    def features(self, step: int) -> dict:
        """The time stamp of sealed step `step`: the row to forecast, without its value."""
        return {"X": _take(self.X_test, step, step + 1)}


def _take(X, start: int, stop: int):
    return X.iloc[start:stop].reset_index(drop=True) if isinstance(X, pd.DataFrame) else X[start:stop]


def _join(first, second):
    return (
        pd.concat([first, second], ignore_index=True)
        if isinstance(first, pd.DataFrame)
        else np.concatenate([first, second])
    )


def _write(path: Path, payload: dict) -> None:
    with open(path, "wb") as fh:
        pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
    path.chmod(0o644)  # the Docker sandbox reads it as an unprivileged user


def _step(sandbox: Sandbox, folder: Path, steps: Steps, step: int, members: list[dict], info: dict) -> float:
    """One sealed step's forecast: each member, conditioned on the true past, forecasts it."""
    history, features = folder / f"history-{step}.pkl", folder / f"next-{step}.pkl"
    _write(history, steps.history(step))
    _write(features, steps.features(step))
    try:
        outcomes = [
            sandbox.call(
                "update_predict",
                module=m.get("module", SANDBOX_FINAL_TRAIN),
                artifact=m["artifact"],
                data=history.name,
                predict=features.name,
                info=info,
            )
            for m in members
        ]
    finally:
        history.unlink(missing_ok=True)
        features.unlink(missing_ok=True)
    failed = next((o for o in outcomes if not o.ok), None)
    if failed is not None:
        raise OneStepUnavailable(failed.describe())
    y_pred, _ = combine([o.result for o in outcomes], [m["weight"] for m in members], None)
    return float(y_pred[0])


def forecast_steps(recipe: dict, models: Path, steps: Steps, members: list[dict], info: dict) -> np.ndarray:
    """The one-step-ahead forecast of every sealed step, one sandbox call per step and
    member, from `recipe` (open_sandbox's arguments; its workspace's code folder is used)
    with a data folder of its own and the saved models in `models`, read-only."""
    with tempfile.TemporaryDirectory(prefix="automl-one-step-") as name:
        folder = Path(name)
        folder.chmod(0o755)  # the Docker sandbox reads it as an unprivileged user
        workspace = Workspace(code=recipe["workspace"].code, data=folder, artifacts=models, artifacts_writable=False)
        with open_sandbox(**{**recipe, "workspace": workspace}) as sandbox:
            return np.asarray([_step(sandbox, folder, steps, t, members, info) for t in range(len(steps.y_test))])


def one_step_ahead(state: dict, sealed: dict, members: list[dict]) -> dict:
    """metrics.json's `one_step_ahead`: the deployed model's scores when each sealed step is
    forecast from the true past ({"unavailable": why} when it cannot be)."""
    run = run_folder(state)
    with open(run.train_data, "rb") as fh:  # written by initialize on the host: data, not code
        train = pickle.load(fh)
    y_train, y_test = np.asarray(train["y"], dtype=float), np.asarray(sealed["y"], dtype=float)
    steps = Steps(train["X"], y_train, sealed["X"], y_test, train.get("info", {}))
    weighted = [
        {
            "artifact": member_artifact(i, len(members)),
            "weight": m["weight"],
            "module": m.get("module", SANDBOX_FINAL_TRAIN),
        }
        for i, m in enumerate(members, 1)
    ]
    started = time.monotonic()
    try:
        y_pred = forecast_steps(sandbox_recipe(state, name="one-step"), run.model, steps, weighted, plan_facts(state))
    except (OneStepUnavailable, SandboxError) as exc:
        log.warning("deploy: no one-step-ahead forecasts: %s", str(exc).splitlines()[0])
        return {"unavailable": str(exc)[:2000]}
    seconds = time.monotonic() - started
    record = {**regression_metrics(steps.y_test, y_pred), "steps": len(y_pred), "seconds": round(seconds, 2)}
    run.event("deploy", "one-step-ahead forecasts scored", one_step_ahead={"mae": record["mae"]}, seconds=seconds)
    return record
