"""Forecasting baselines: their forecasts, and their validation on the template's origins."""

from __future__ import annotations

import types

import numpy as np
import pytest

from tools.baselines import forecasting_baselines, validation_origins
from tools.templates import TEMPLATES, fill_parameters


def _template_train(horizon: int) -> types.ModuleType:
    source = fill_parameters((TEMPLATES / "timeseries" / "train.py").read_text(),
                             {"HORIZON": horizon, "SEASON": 11})
    module = types.ModuleType("timeseries_train")
    exec(compile(source, "timeseries/train.py", "exec"), module.__dict__)  # noqa: S102 - our own template
    return module


@pytest.mark.parametrize(("n", "folds", "horizon"), [(279, 8, 30), (279, 5, 30), (100, 8, 30), (70, 3, 12),
                                                      (400, 8, 1), (61, 5, 30)])
def test_baselines_validate_on_the_templates_origins(n, folds, horizon):
    # The report compares the model's CV with the baselines': only fair on the same windows.
    assert validation_origins(n, folds, horizon) == _template_train(horizon)._origins(n, folds, horizon)


def test_naive_validation_error_on_a_ramp():
    # On y = t the naive forecast from origin o is y[o-1]; its errors over h steps are 1..h.
    ramp = np.arange(200.0)
    baselines = forecasting_baselines(ramp[:170], ramp[170:], cv_folds=4)
    assert baselines["naive"]["cv"]["mae"] == pytest.approx((30 + 1) / 2)
    assert baselines["naive"]["mae"] == pytest.approx((30 + 1) / 2)


def test_seasonal_naive_is_exact_on_a_periodic_series():
    periodic = np.tile([3.0, 9.0, 4.0, 1.0, 7.0], 40)
    baselines = forecasting_baselines(periodic[:180], periodic[180:], season=5, cv_folds=6, horizon=10)
    assert baselines["seasonal_naive"]["cv"]["mae"] == pytest.approx(0.0)
    assert baselines["seasonal_naive"]["mae"] == pytest.approx(0.0)
    assert baselines["naive"]["cv"]["mae"] > 1.0

