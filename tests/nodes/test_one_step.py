"""deploy's one-step-ahead forecasts, through a real process sandbox: each call forecasts one
sealed step and can read nothing of that step or any later one."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nodes.one_step import OneStepUnavailable, Steps, forecast_steps
from sandbox import Limits, Workspace

# A training function that spies: update() collects every target value the call can reach
# (the history it is handed and every file of the sandbox's data folder, found through the
# worker's own command line), and predict() returns the largest. The sealed values are
# 1000 + step, above every training value, so the largest value a call saw names the last
# sealed step it saw.
SPY = """
    import os
    import pickle
    import sys

    import numpy as np

    def train(config, data, seed=0, budget=None):
        return {"loss": 0.0}

    def fit(config, data, seed=0):
        return {"seen": []}

    def update(model, data):
        folder = sys.argv[sys.argv.index("--data") + 1]
        seen = list(np.asarray(data.y, dtype=float))
        for name in os.listdir(folder):
            with open(os.path.join(folder, name), "rb") as fh:
                seen += list(np.ravel(np.asarray(pickle.load(fh).get("y", []), dtype=float)))
        model["seen"] = seen
        return model

    def predict(model, X):
        return [max(model["seen"])] * len(X)
"""
NO_UPDATE = """
    def train(config, data, seed=0, budget=None):
        return {"loss": 0.0}

    def fit(config, data, seed=0):
        return {}

    def predict(model, X):
        return [0.0] * len(X)
"""
TRAIN_STEPS, SEALED_STEPS = 40, 6


def _recipe(tmp_path: Path, source: str) -> tuple[dict, Path]:
    """open_sandbox's arguments for a code folder holding `source` as final/train.py, and a
    model folder holding a saved model (the test's own pickle of a plain dict)."""
    (tmp_path / "code" / "final").mkdir(parents=True)
    (tmp_path / "code" / "final" / "train.py").write_text(textwrap.dedent(source))
    (tmp_path / "unused").mkdir()
    models = tmp_path / "model"
    models.mkdir()
    with open(models / "model.pkl", "wb") as fh:
        pickle.dump({"seen": []}, fh)
    workspace = Workspace(code=tmp_path / "code", data=tmp_path / "unused")
    return {"backend": "process", "workspace": workspace, "limits": Limits(timeout=30), "name": "one-step-test"}, models


def _steps() -> Steps:
    years = np.arange(1900, 1900 + TRAIN_STEPS + SEALED_STEPS)
    return Steps(
        X_train=pd.DataFrame({"year": years[:TRAIN_STEPS]}),
        y_train=np.arange(TRAIN_STEPS, dtype=float) % 7,
        X_test=pd.DataFrame({"year": years[TRAIN_STEPS:]}),
        y_test=1000.0 + np.arange(SEALED_STEPS),
        info={"task": "forecasting"},
    )


def test_each_call_sees_the_past_and_nothing_of_the_step_it_forecasts(tmp_path):
    recipe, models = _recipe(tmp_path, SPY)
    seen = forecast_steps(recipe, models, _steps(), [{"artifact": "model.pkl", "weight": 1.0}], {"metric": "mae"})
    # Step 0 saw the training values only; step t saw the sealed values up to t-1, no more.
    assert seen[0] < 1000
    np.testing.assert_array_equal(seen[1:], 1000.0 + np.arange(SEALED_STEPS - 1))


def test_a_model_without_update_has_no_one_step_forecasts(tmp_path):
    recipe, models = _recipe(tmp_path, NO_UPDATE)
    with pytest.raises(OneStepUnavailable, match="defines no update"):
        forecast_steps(recipe, models, _steps(), [{"artifact": "model.pkl", "weight": 1.0}], {})


def test_the_history_handed_to_a_step_ends_before_it():
    steps = _steps()
    for step in range(SEALED_STEPS):
        history = steps.history(step)
        assert len(history["X"]) == len(history["y"]) == TRAIN_STEPS + step == history["info"]["n_rows"]
        assert history["X"]["year"].iloc[-1] == 1900 + TRAIN_STEPS + step - 1
        assert steps.features(step)["X"]["year"].tolist() == [1900 + TRAIN_STEPS + step]
        assert "y" not in steps.features(step)
