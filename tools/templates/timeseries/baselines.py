"""Forecasting baselines, computed on the host from the training history and the sealed truth.

A forecast is only worth its error next to what a trivial one achieves on the same
steps: the naive forecast (the last observed value, repeated), the seasonal-naive one
(the last observed season, repeated) and an autoregressive model fit on the same
training years with its order chosen by AIC. None of them sees the test values; those
only score the forecasts, as for the agent's own model.

Each baseline is also scored by forward-chaining validation inside the training history,
on the origins the built-in time-series template validates on, so the report can set the
model's CV beside theirs: a model that beat a baseline in validation and loses to it on
the test steps was chosen for luck on the validation windows.
"""

from __future__ import annotations

import numpy as np

from tools.metrics import regression_metrics

MIN_TRAIN = 60  # as in the time-series template: the shortest history a fold is fitted on
ORIGIN_STRIDE = 0.5  # origins half a horizon apart


def naive(history: np.ndarray, steps: int) -> np.ndarray:
    return np.full(steps, float(history[-1]))


def seasonal_naive(history: np.ndarray, steps: int, season: int) -> np.ndarray:
    last = np.asarray(history[-season:], dtype=float)
    return np.asarray([last[i % season] for i in range(steps)])


def autoregressive(history: np.ndarray, steps: int, max_lag: int = 30) -> tuple[np.ndarray, int]:
    """AR(p) by conditional least squares, p in 1..max_lag chosen by AIC (statsmodels)."""
    from statsmodels.tsa.ar_model import AutoReg, ar_select_order

    history = np.asarray(history, dtype=float)
    max_lag = max(1, min(max_lag, len(history) // 4))
    selected = ar_select_order(history, maxlag=max_lag, ic="aic", trend="c")
    lags = selected.ar_lags or [1]
    fitted = AutoReg(history, lags=lags, trend="c").fit()
    forecast = fitted.predict(start=len(history), end=len(history) + steps - 1)
    return np.asarray(forecast, dtype=float), int(max(lags))


def validation_origins(n: int, folds: int, horizon: int) -> tuple[list[int], int]:
    """The time-series template's forecast origins (oldest first) and horizon: `folds`
    windows ending at the end of the history, half a horizon apart."""
    horizon = max(1, min(horizon, n - MIN_TRAIN))
    stride = max(1, int(round(horizon * ORIGIN_STRIDE)))
    origins = [n - horizon - stride * k for k in range(folds - 1, -1, -1)]
    return [o for o in origins if o >= min(MIN_TRAIN, n // 2)], horizon


def _validate(forecaster, history: np.ndarray, folds: int, horizon: int) -> dict | None:
    """Mean of each metric over the forward-chaining folds (None if the history is too short)."""
    origins, horizon = validation_origins(len(history), folds, horizon)
    if not origins:
        return None
    per_fold = [regression_metrics(history[o : o + horizon], forecaster(history[:o], horizon)) for o in origins]
    return {name: float(np.mean([fold[name] for fold in per_fold])) for name in per_fold[0]}


def forecasting_baselines(history, truth, season: int = 1, cv_folds: int = 5, horizon: int | None = None) -> dict:
    """{name: {"mae", "rmse", "r2", "description", "cv"}} for each baseline: its scores on
    the sealed steps, and under "cv" the mean scores of forward-chaining validation with
    `horizon`-step forecasts (the model's validation horizon; default: the sealed steps)."""
    history, truth = np.asarray(history, dtype=float), np.asarray(truth, dtype=float)
    steps = len(truth)
    horizon = int(horizon or steps)
    forecasters = {"naive": (naive, "last training value, repeated")}
    if season > 1 and len(history) >= season:
        forecasters["seasonal_naive"] = (
            lambda h, s: seasonal_naive(h, s, season),
            f"last {season} training values, repeated",
        )
    try:
        _, order = autoregressive(history, 1)
        forecasters["autoregressive"] = (
            lambda h, s: autoregressive(h, s)[0],
            f"AR({order}) with a constant, order by AIC, fit on the training years",
        )
    except ImportError:
        pass  # statsmodels missing: the naive baselines still stand
    return {
        name: {
            **regression_metrics(truth, forecast(history, steps)),
            "description": description,
            "cv": _validate(forecast, history, cv_folds, horizon),
        }
        for name, (forecast, description) in forecasters.items()
    }
