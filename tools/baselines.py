"""Forecasting baselines, computed on the host from the training history and the sealed truth.

A forecast is only worth its error next to what a trivial one achieves on the same
steps: the naive forecast (the last observed value, repeated), the seasonal-naive one
(the last observed season, repeated) and an autoregressive model fit on the same
training years with its order chosen by AIC. None of them sees the test values; those
only score the forecasts, as for the agent's own model.
"""

from __future__ import annotations

import numpy as np

from tools.metrics import regression_metrics


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


def forecasting_baselines(history, truth, season: int = 1) -> dict:
    """{name: {"mae", "rmse", "r2", "description"}} for each baseline on the sealed steps."""
    history, truth = np.asarray(history, dtype=float), np.asarray(truth, dtype=float)
    steps = len(truth)
    out = {"naive": {**regression_metrics(truth, naive(history, steps)),
                     "description": "last training value, repeated"}}
    if season > 1 and len(history) >= season:
        out["seasonal_naive"] = {**regression_metrics(truth, seasonal_naive(history, steps, season)),
                                 "description": f"last {season} training values, repeated"}
    try:
        forecast, order = autoregressive(history, steps)
        out["autoregressive"] = {**regression_metrics(truth, forecast),
                                 "description": f"AR({order}) with a constant, order by AIC, "
                                                "fit on the training years"}
    except ImportError:
        pass  # statsmodels missing: the naive baselines still stand
    return out
