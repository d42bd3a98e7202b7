"""Forecasting baselines: their forecasts, and their validation on the template's origins."""

from __future__ import annotations

import types

import numpy as np
import pytest

from tools.baselines import autoregressive, forecasting_baselines, seasonal_naive, validation_origins
from tools.paper_datasets import load_sunspots
from tools.templates import TEMPLATES, fill_parameters

RIDGE = {"model": "ridge", "ridge:alpha": 1.0, "ts:transform": "sqrt", "ts:lags": 12,
         "ts:rolling_window": 0, "ts:seasonal_lags": True}


def _template_train(horizon: int, **values) -> types.ModuleType:
    source = fill_parameters((TEMPLATES / "timeseries" / "train.py").read_text(),
                             {"HORIZON": horizon, "SEASON": 11, **values})
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



@pytest.mark.parametrize("years", [60, 100, 159, 279])
def test_template_combines_its_model_with_the_baselines_forecasts(years):
    # The template's forecast is the mean of its model's, an AR(AIC)'s and seasonal naive's;
    # its AR (numpy: the sandbox has no statsmodels) must be the baseline's AR, order included.
    history = np.asarray(load_sunspots(30).y, dtype=float)[:years]
    forecaster = _template_train(30).Forecaster(RIDGE).fit(history)
    parts = forecaster.components(30)
    ar, order = autoregressive(history, 30)
    assert len(forecaster.ar) - 1 == order
    np.testing.assert_allclose(parts["autoregressive"], ar, rtol=1e-9, atol=1e-8)
    np.testing.assert_array_equal(parts["seasonal_naive"], seasonal_naive(history, 30, 11))
    np.testing.assert_allclose(forecaster.forecast(30), (parts["model"] + ar + parts["seasonal_naive"]) / 3)


def test_template_without_combination_forecasts_with_its_model_alone():
    history = np.asarray(load_sunspots(30).y, dtype=float)
    alone = _template_train(30, COMBINE=False).Forecaster(RIDGE).fit(history)
    combined = _template_train(30).Forecaster(RIDGE).fit(history)
    assert set(alone.components(30)) == {"model"}
    np.testing.assert_allclose(alone.forecast(30), combined.components(30)["model"])
    # In-sample fits (the verifier predicts training rows) combine the same three parts.
    t = 200
    expected = (alone.one_step(t) + autoregressive_step(combined.ar, history, t) + history[t - 11]) / 3
    assert combined.one_step(t) == pytest.approx(expected)


def autoregressive_step(coef, series, t):
    return coef[0] + sum(coef[k] * series[t - k] for k in range(1, len(coef)))
