"""Forecasting baselines, computed on the host from the training history and the sealed truth.

A forecast is only worth its error next to what a trivial one achieves on the same
steps: the naive forecast (the last observed value, repeated), the seasonal-naive one
(the last observed season, repeated), an autoregressive model with its order chosen by
AIC, exponential smoothing (ETS, its form chosen by AIC) and the Theta method, each fit
on the same training years (statsmodels).

Each is scored two ways on the sealed steps. Full horizon: one forecast of every sealed
step from the end of the training years, as the deployed model's recursive forecast.
One step ahead: each sealed step forecast from the true values before it, with the
parameters fitted on the training years kept (refit-free): naive repeats the previous
true value, seasonal naive takes the true value one season back, AR applies its
coefficients to the true lags, ETS smooths the true past with its fitted parameters and
Theta updates its SES level with its fitted alpha, drift and seasonal indices. A step's
forecaster is handed the true past only (`Baseline.next_value(past)`), so it cannot use
the value it forecasts; the test values otherwise only score the forecasts, as for the
agent's own model. No generated code runs here.

Each baseline is also scored by forward-chaining validation inside the training history,
on the origins the built-in time-series template validates on, so the report can set the
model's CV beside theirs: a model that beat a baseline in validation and loses to it on
the test steps was chosen for luck on the validation windows.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tools.metrics import regression_metrics

log = logging.getLogger("automl")

MIN_TRAIN = 60  # as in the time-series template: the shortest history a fold is fitted on
ORIGIN_STRIDE = 0.5  # origins half a horizon apart
THETA = 2.0  # the classic Theta method: the SES forecast plus half the fitted drift


@dataclass
class Baseline:
    """A baseline fitted on the training history: its full-horizon forecast from the end of
    that history, and its forecast of the step after any longer true past, parameters kept."""

    description: str
    forecast: Callable[[int], np.ndarray]
    next_value: Callable[[np.ndarray], float]


def naive(history: np.ndarray, steps: int) -> np.ndarray:
    return np.full(steps, float(history[-1]))


def seasonal_naive(history: np.ndarray, steps: int, season: int) -> np.ndarray:
    last = np.asarray(history[-season:], dtype=float)
    return np.asarray([last[i % season] for i in range(steps)])


def _fit_autoregressive(history: np.ndarray, max_lag: int = 30):
    """AR(p) by conditional least squares, p in 1..max_lag chosen by AIC (statsmodels)."""
    from statsmodels.tsa.ar_model import AutoReg, ar_select_order

    history = np.asarray(history, dtype=float)
    max_lag = max(1, min(max_lag, len(history) // 4))
    selected = ar_select_order(history, maxlag=max_lag, ic="aic", trend="c")
    return AutoReg(history, lags=selected.ar_lags or [1], trend="c").fit()


def autoregressive(history: np.ndarray, steps: int, max_lag: int = 30) -> tuple[np.ndarray, int]:
    """The AR(AIC) forecast of `steps` steps and its order."""
    fitted = _fit_autoregressive(history, max_lag)
    forecast = fitted.predict(start=len(history), end=len(history) + steps - 1)
    return np.asarray(forecast, dtype=float), int(max(fitted.model.ar_lags))


def fit_naive(history: np.ndarray, season: int) -> Baseline:
    return Baseline("last training value, repeated", lambda s: naive(history, s), lambda past: float(past[-1]))


def fit_seasonal_naive(history: np.ndarray, season: int) -> Baseline:
    return Baseline(
        f"last {season} training values, repeated",
        lambda s: seasonal_naive(history, s, season),
        lambda past: float(past[-season]),
    )


def fit_autoregressive(history: np.ndarray, season: int) -> Baseline:
    fitted = _fit_autoregressive(history)
    lags, params = list(fitted.model.ar_lags), np.asarray(fitted.params, dtype=float)

    def next_value(past: np.ndarray) -> float:
        return float(params[0] + sum(c * past[-lag] for c, lag in zip(params[1:], lags, strict=True)))

    return Baseline(
        f"AR({max(lags)}) with a constant, order by AIC, fit on the training years",
        lambda s: np.asarray(fitted.predict(start=len(history), end=len(history) + s - 1), dtype=float),
        next_value,
    )


def _ets_forms(season: int) -> list[dict]:
    """Additive ETS forms (a series that reaches zero, as the sunspot numbers do, allows
    nothing multiplicative): none, a damped trend, a season. Not a damped trend with a
    season: on the sunspot years its fits take seconds each and AIC never chose it."""
    forms = [{}, {"trend": "add", "damped_trend": True}]
    return forms + ([{"seasonal": "add", "seasonal_periods": season}] if season > 1 else [])


def _ets_name(form: dict) -> str:
    return f"ETS(A,{'Ad' if form.get('trend') else 'N'},{'A' if form.get('seasonal') else 'N'})"


def fit_ets(history: np.ndarray, season: int) -> Baseline:
    """ETS with additive errors, its trend and season chosen by AIC (statsmodels' ETSModel).
    One step ahead, the model smooths the true past with the parameters (initial states
    included) fitted on the training years and forecasts one step."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    forms = [f for f in _ets_forms(season) if not f.get("seasonal") or len(history) >= 2 * season + 10]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the AIC judges the fit
        fits = [(ETSModel(history, error="add", **form).fit(disp=False), form) for form in forms]
    fitted, form = min(fits, key=lambda pair: pair[0].aic)
    params = np.asarray(fitted.params, dtype=float)

    def next_value(past: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(ETSModel(np.asarray(past, dtype=float), error="add", **form).smooth(params).forecast(1)[0])

    return Baseline(
        f"{_ets_name(form)}, form by AIC, fit on the training years",
        lambda s: np.asarray(fitted.forecast(s), dtype=float),
        next_value,
    )


def fit_theta(history: np.ndarray, season: int) -> Baseline:
    """The Theta method (statsmodels' ThetaModel: SES plus half the linear drift, after a
    seasonal adjustment when its test finds the season). One step ahead, the fitted alpha,
    drift and seasonal indices are kept and the SES level is updated with the true past."""
    from statsmodels.tsa.forecasting.theta import ThetaModel

    n = len(history)
    fitted = ThetaModel(history, period=season, deseasonalize=season > 1).fit()
    b0, alpha = (float(v) for v in np.asarray(fitted.params))
    # The seasonal index of every position, from the fit's own forecast of one season
    # (public API): position j has the index of step (j - n) mod season after the history.
    indices = np.asarray(fitted.forecast_components(max(1, season))["seasonal"], dtype=float)
    multiplicative = fitted.model.method.startswith("mul")

    def next_value(past: np.ndarray) -> float:
        t = len(past)
        index = indices[(np.arange(t + 1) - n) % len(indices)]
        adjusted = np.asarray(past, dtype=float) / index[:t] if multiplicative else np.asarray(past) - index[:t]
        level = adjusted[0]
        for value in adjusted:
            level = alpha * value + (1 - alpha) * level
        drift = b0 * (1 / alpha - (1 - alpha) ** t / alpha) if alpha > 0 else 0.0
        forecast = (THETA - 1) / THETA * drift + level
        return float(forecast * index[t] if multiplicative else forecast + index[t])

    return Baseline(
        f"Theta (SES with half the drift{', seasonally adjusted' if season > 1 else ''}), fit on the training years",
        lambda s: np.asarray(fitted.forecast(s, theta=THETA), dtype=float),
        next_value,
    )


def one_step_ahead(baseline: Baseline, history: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each sealed step forecast from the true values before it (and nothing after)."""
    past = np.concatenate([np.asarray(history, dtype=float), np.asarray(truth, dtype=float)])
    return np.asarray([baseline.next_value(past[: len(history) + i]) for i in range(len(truth))])


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


FITTERS = {
    "naive": fit_naive,
    "seasonal_naive": fit_seasonal_naive,
    "autoregressive": fit_autoregressive,
    "ets": fit_ets,
    "theta": fit_theta,
}
STATISTICAL = ("autoregressive", "ets", "theta")  # need statsmodels
SEASONAL = ("seasonal_naive",)  # need a season and a history of at least one


def _fitted(history: np.ndarray, season: int) -> dict[str, Baseline]:
    """The baselines that apply to this history; a statistical one that cannot be fitted
    here (statsmodels missing, a degenerate series) is left out with a log line, and the
    naive ones still stand."""
    out = {}
    for name, fit in FITTERS.items():
        if name in SEASONAL and not (season > 1 and len(history) >= season):
            continue
        try:
            out[name] = fit(history, season)
        except (ImportError, ValueError, np.linalg.LinAlgError) as exc:
            if name not in STATISTICAL:
                raise
            log.warning("baseline %s left out: %s", name, exc)
    return out


def forecasting_baselines(history, truth, season: int = 1, cv_folds: int = 5, horizon: int | None = None) -> dict:
    """{name: {"mae", "rmse", "r2", "description", "cv", "one_step_ahead"}} for each
    baseline: its full-horizon scores on the sealed steps, under "one_step_ahead" its scores
    when each step is forecast from the true past, and under "cv" the mean scores of
    forward-chaining validation with `horizon`-step forecasts (the model's validation
    horizon; default: the sealed steps)."""
    history, truth = np.asarray(history, dtype=float), np.asarray(truth, dtype=float)
    horizon = int(horizon or len(truth))
    fitted = _fitted(history, season)
    return {
        name: {
            **regression_metrics(truth, baseline.forecast(len(truth))),
            "description": baseline.description,
            "one_step_ahead": regression_metrics(truth, one_step_ahead(baseline, history, truth)),
            "cv": _validate(lambda h, s, fit=FITTERS[name]: fit(h, season).forecast(s), history, cv_folds, horizon),
        }
        for name, baseline in fitted.items()
    }
