"""A series: lag, rolling and seasonal features, forward-chaining validation, recursive
forecasts averaged with AR, threshold AR (SETAR) and seasonal naive; naive, seasonal-naive
and AR baselines scored beside it."""

from __future__ import annotations

import numpy as np

from tools.templates.base import TaskTemplate

MAX_SEASON = 40


def dominant_period(y: np.ndarray, max_period: int = MAX_SEASON) -> int:
    """The season length of a series: the lag of the highest autocorrelation peak (1: none)."""
    y = np.asarray(y, dtype=float)
    if len(y) < 24:
        return 1
    y = y - y.mean()
    denominator = float(np.dot(y, y)) or 1.0
    top = min(max_period, len(y) // 3)
    acf = np.array([np.dot(y[:-k], y[k:]) / denominator for k in range(1, top + 1)])
    peaks = [k for k in range(2, top) if acf[k - 1] > acf[k - 2] and acf[k - 1] >= acf[k] and acf[k - 1] > 0.1]
    return max(peaks, key=lambda k: acf[k - 1]) if peaks else 1


class TimeSeries(TaskTemplate):
    # A forecasting task is a series whatever its table looks like: it must never be
    # validated with shuffled folds, so this template is asked before every other.
    priority = 20
    families = ("ridge", "hgb", "random_forest", "extra_trees")

    def matches(self, profile: dict) -> bool:
        return profile.get("task") == "forecasting" or profile.get("modality") == "timeseries"

    def describe(self, X, y) -> dict:
        """The season length: the highest autocorrelation peak of the training series (a
        data set's known cycle, such as the sunspots' 11 years, takes precedence)."""
        return {"season_length": int(dominant_period(y))}

    def settings(self, profile: dict, scenario: dict | None = None) -> dict:
        """The forecast horizon (the number of sealed steps: a size, not a value) and the season."""
        n_rows = int(profile["n_rows"])
        horizon = int(profile.get("n_test_rows") or max(1, n_rows // 10))
        return {"HORIZON": max(1, min(horizon, n_rows // 4)), "SEASON": int(profile.get("season_length") or 1)}

    def validation(self, cv_folds: int, settings: dict) -> str:
        return (
            f"{cv_folds} forward-chaining origins inside the training history, "
            f"{settings.get('HORIZON')}-step recursive forecasts (never shuffled folds)"
        )

    def notes(self, profile: dict, settings: dict) -> list[str]:
        return [
            f"Season length {settings['SEASON']} (the highest autocorrelation peak of "
            "the training series). The built-in forecaster averages the searched model's "
            "forecast with AR, threshold-AR (SETAR) and seasonal-naive forecasts (forecast "
            "combination), and naive, seasonal-naive and AR baselines are scored beside it."
        ]

    def parameters(self, profile: dict, plan: dict, component: str) -> dict:
        settings = plan.get("template_parameters") or self.settings(profile, plan.get("scenario"))
        season = int(settings["SEASON"])
        if component == "train":
            return {"HORIZON": int(settings["HORIZON"]), "SEASON": season}
        nonnegative = float(profile.get("target_summary", {}).get("min", -1)) >= 0
        return {
            "FAMILIES": list(plan["families"]),
            "N_ROWS": int(profile["n_rows"]),
            "SEASON": season,
            "NONNEGATIVE": nonnegative,
        }

    def baselines(self, y_train, y_test, settings: dict, cv_folds: int) -> dict | None:
        from tools.templates.timeseries.baselines import forecasting_baselines

        return forecasting_baselines(y_train, y_test, int(settings.get("SEASON", 1)), cv_folds, settings.get("HORIZON"))


TEMPLATE = TimeSeries()
