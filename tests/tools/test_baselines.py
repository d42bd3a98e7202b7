"""Forecasting baselines: their forecasts, and their validation on the template's origins."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from tools.datasets.paper import load_sunspots
from tools.templates import TEMPLATES, fill_parameters
from tools.templates.timeseries.baselines import (
    _fit_autoregressive,
    _fitted,
    autoregressive,
    forecasting_baselines,
    one_step_ahead,
    seasonal_naive,
    validation_origins,
)

RIDGE = {
    "model": "ridge",
    "ridge:alpha": 1.0,
    "ts:transform": "sqrt",
    "ts:lags": 12,
    "ts:rolling_window": 0,
    "ts:seasonal_lags": True,
}


def _template_train(horizon: int, **values) -> types.ModuleType:
    source = fill_parameters(
        (TEMPLATES / "timeseries" / "train.py").read_text(), {"HORIZON": horizon, "SEASON": 11, **values}
    )
    module = types.ModuleType("timeseries_train")
    exec(compile(source, "timeseries/train.py", "exec"), module.__dict__)  # noqa: S102 - our own template
    return module


@pytest.mark.parametrize(
    ("n", "folds", "horizon"), [(279, 8, 30), (279, 5, 30), (100, 8, 30), (70, 3, 12), (400, 8, 1), (61, 5, 30)]
)
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
    # The template's forecast is the mean of its model's, an AR(AIC)'s, seasonal naive's and a
    # SETAR's; its AR (numpy: the sandbox has no statsmodels) must be the baseline's AR, order
    # included.
    history = np.asarray(load_sunspots(30).y, dtype=float)[:years]
    forecaster = _template_train(30).Forecaster(RIDGE).fit(history)
    parts = forecaster.components(30)
    ar, order = autoregressive(history, 30)
    assert len(forecaster.ar) - 1 == order
    np.testing.assert_allclose(parts["autoregressive"], ar, rtol=1e-9, atol=1e-8)
    np.testing.assert_array_equal(parts["seasonal_naive"], seasonal_naive(history, 30, 11))
    setar = parts["threshold_autoregressive"]
    np.testing.assert_allclose(forecaster.forecast(30), (parts["model"] + ar + parts["seasonal_naive"] + setar) / 4)


def test_threshold_autoregression_recovers_a_two_regime_process():
    # x_t = 1 + 0.6 x_{t-1} + e while x_{t-2} <= 0, else -1 + 0.3 x_{t-1} - 0.3 x_{t-2} + e.
    def skeleton(x, t):  # the process without its noise
        return 1.0 + 0.6 * x[t - 1] if x[t - 2] <= 0.0 else -1.0 + 0.3 * x[t - 1] - 0.3 * x[t - 2]

    rng, x = np.random.default_rng(0), [0.0, 0.0]
    for t in range(2, 600):
        x.append(skeleton(x, t) + rng.normal(0, 0.3))
    template = _template_train(30)
    delay, threshold, order, below, above = template._fit_threshold_autoregressive(np.asarray(x))
    assert (delay, order) == (2, 2)
    assert threshold == pytest.approx(0.0, abs=0.1)
    np.testing.assert_allclose(below, [1.0, 0.6, 0.0], atol=0.15)
    np.testing.assert_allclose(above, [-1.0, 0.3, -0.3], atol=0.15)
    # Its forecast follows the skeleton, each step from the steps forecast before it.
    path = list(x)
    for t in range(600, 604):
        path.append(skeleton(path, t))
    forecast = template.Forecaster({**RIDGE, "ts:transform": "none"}).fit(np.asarray(x)).components(4)
    np.testing.assert_allclose(forecast["threshold_autoregressive"], path[600:], atol=0.15)


def test_template_without_combination_forecasts_with_its_model_alone():
    history = np.asarray(load_sunspots(30).y, dtype=float)
    alone = _template_train(30, COMBINE=False).Forecaster(RIDGE).fit(history)
    combined = _template_train(30).Forecaster(RIDGE).fit(history)
    assert set(alone.components(30)) == {"model"}
    np.testing.assert_allclose(alone.forecast(30), combined.components(30)["model"])
    # In-sample fits (the verifier predicts training rows) combine the same four parts.
    t = 200
    delay, threshold, order, below, above = combined.setar
    setar = autoregressive_step(below if history[t - delay] <= threshold else above, history, t)
    expected = (alone.one_step(t) + autoregressive_step(combined.ar, history, t) + history[t - 11] + setar) / 4
    assert combined.one_step(t) == pytest.approx(expected)


def autoregressive_step(coef, series, t):
    return coef[0] + sum(coef[k] * series[t - k] for k in range(1, len(coef)))


# One step ahead: each sealed step forecast from the true values before it, parameters kept.


def _ar2_series(n: int = 300) -> np.ndarray:
    rng, x = np.random.default_rng(1), [0.0, 0.0]
    for _ in range(n - 2):
        x.append(5.0 + 0.6 * x[-1] - 0.3 * x[-2] + rng.normal())
    return np.asarray(x)


def test_one_step_naive_and_seasonal_naive_take_the_true_past():
    series = _ar2_series()
    history, truth = series[:260], series[260:]
    fitted = _fitted(history, season=5)
    np.testing.assert_array_equal(one_step_ahead(fitted["naive"], history, truth), series[259:-1])
    np.testing.assert_array_equal(one_step_ahead(fitted["seasonal_naive"], history, truth), series[255:-5])


def test_one_step_ar_applies_the_training_coefficients_to_the_true_lags():
    # statsmodels' own refit-free append is the reference.
    series = _ar2_series()
    history, truth = series[:260], series[260:]
    reference = _fit_autoregressive(history).append(truth, refit=False).predict(start=260, end=len(series) - 1)
    ar = _fitted(history, season=5)["autoregressive"]
    np.testing.assert_allclose(one_step_ahead(ar, history, truth), reference, rtol=1e-10)


@pytest.mark.parametrize("season", [1, 11])
def test_each_one_step_forecast_depends_on_the_past_only(season):
    # Changing the sealed values from step i on changes no forecast of steps up to i; from
    # the end of the training years, one step ahead is the full-horizon forecast's first step.
    series = np.asarray(load_sunspots(30).y, dtype=float)
    history, truth = series[:200], series[200:220]
    altered = truth.copy()
    altered[8:] += 50.0
    for name, baseline in _fitted(history, season).items():
        original, changed = one_step_ahead(baseline, history, truth), one_step_ahead(baseline, history, altered)
        np.testing.assert_allclose(original[:9], changed[:9], err_msg=name)
        assert original[0] == pytest.approx(baseline.forecast(3)[0], rel=1e-9), name
    assert set(_fitted(history, season)) == {"naive", "autoregressive", "ets", "theta"} | (
        {"seasonal_naive"} if season > 1 else set()
    )


def test_baselines_record_both_ways():
    series = np.asarray(load_sunspots(30).y, dtype=float)
    baselines = forecasting_baselines(series[:150], series[150:170], season=11, cv_folds=2, horizon=20)
    for values in baselines.values():
        assert {"mae", "rmse", "r2", "description", "cv", "one_step_ahead"} <= set(values)
        assert set(values["one_step_ahead"]) == {"mae", "rmse", "r2"}
    assert baselines["naive"]["one_step_ahead"]["mae"] == pytest.approx(np.mean(np.abs(np.diff(series[149:170]))))


def test_template_update_forecasts_the_next_step_from_the_true_history_without_refitting():
    data = load_sunspots(30)
    template = _template_train(30)
    training = types.SimpleNamespace(X=data.X, y=np.asarray(data.y, dtype=float), info={})
    model = template.fit(RIDGE, training)
    coefficients = (model.ar.copy(), model.regressors[0][-1].coef_.copy())
    longer = types.SimpleNamespace(
        X=pd.concat([data.X, data.X_test.iloc[:5]], ignore_index=True), y=np.r_[data.y, data.y_test[:5]], info={}
    )
    updated = template.update(model, longer)
    forecast = template.predict(updated, data.X_test.iloc[5:6].reset_index(drop=True))
    np.testing.assert_array_equal(updated.ar, coefficients[0])
    np.testing.assert_array_equal(updated.regressors[0][-1].coef_, coefficients[1])
    # The same as the fitted forecaster's combination of one-step forecasts at that position.
    assert forecast[0] == pytest.approx(updated.one_step(len(longer.y)))


def test_one_step_weights_come_from_the_history_and_beat_the_equal_average_a_year_ahead():
    # fit() weights the parts' lead-1 forecasts by their one-step errors over the history's
    # last three cycles, the AR and SETAR fitted on square roots. On the last 30 training
    # years (never sealed), forecast a year at a time from the true past, the weighted
    # forecast errs less than the equal average of the 30-step forecast's parts, whose
    # seasonal-naive part errs most a year ahead.
    series = np.asarray(load_sunspots(30).y, dtype=float)
    template = _template_train(30)
    model = template.fit(RIDGE, types.SimpleNamespace(X=None, y=series[:-30], info={}))
    weights = model.lead_one_weights
    assert set(weights) == {"model", "autoregressive", "seasonal_naive", "threshold_autoregressive"}
    assert sum(weights.values()) == pytest.approx(1.0)
    assert min(weights, key=weights.get) == "seasonal_naive"
    weighted, equal = [], []
    for t in range(len(series) - 30, len(series)):
        template.update(model, types.SimpleNamespace(X=None, y=series[:t], info={}))
        parts = model.lead_one_parts(t)
        assert model.forecast(1)[0] == pytest.approx(sum(weights[k] * v for k, v in parts.items()))
        weighted.append(abs(model.forecast(1)[0] - series[t]))
        equal.append(abs(np.mean([values[0] for values in model.components(1).values()]) - series[t]))
    assert np.mean(weighted) < np.mean(equal)
    # The 30-step forecast keeps the equal average of the raw parts after its first step.
    path, parts = model.forecast(30), model.components(30)
    np.testing.assert_allclose(path[1:], np.mean(list(parts.values()), axis=0)[1:])


def test_lead_one_ar_and_setar_are_fitted_on_square_roots_of_a_series_never_negative():
    series = np.asarray(load_sunspots(30).y, dtype=float)[:-30]
    template = _template_train(30)
    model = template.fit(RIDGE, types.SimpleNamespace(X=None, y=series, info={}))
    roots, t = np.sqrt(series), len(series)
    parts = model.lead_one_parts(t)
    ar = model.root_ar[0] + model.root_ar[1:] @ roots[t - 1 : t - len(model.root_ar) : -1]
    assert parts["autoregressive"] == pytest.approx(ar**2)
    assert parts["autoregressive"] != pytest.approx(template._autoregressive_step(model.ar, series, t))
    # A series that goes below zero has no square roots: the raw AR and SETAR stay.
    shifted = template.fit(RIDGE, types.SimpleNamespace(X=None, y=series - 50.0, info={}))
    assert shifted.root_ar is None and shifted.root_setar is None
    assert shifted.lead_one_parts(t)["autoregressive"] == pytest.approx(
        template._autoregressive_step(shifted.ar, series - 50.0, t)
    )
