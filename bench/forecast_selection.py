"""Does the time-series template's cross-validation pick configurations that forecast well?

A study on the Sunspots training years only (1700-1978; the sealed 1979-2008 is never
loaded). Each pseudo-test window is the 30 years after a cut; everything before the cut
is the history. For each window, random configurations from the template's space are
scored by the template's own forward-chaining CV on the history, then fitted on the whole
history and scored on the window. A search can only pick well if the CV ranks
configurations the way the window does, so the table shows:

- the window's MAE of the best-by-CV configuration, of the mean of the top 3 forecasts,
  and of the median configuration, beside the AR(AIC) and seasonal-naive baselines;
- Spearman's rank correlation between CV loss and window MAE (near 0: CV cannot choose).

    python bench/forecast_selection.py                 # 40 configurations, 4 windows, ~10 min
    python bench/forecast_selection.py --configs 10 --windows 2
"""

from __future__ import annotations

import argparse
import sys
import types
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.baselines import autoregressive, seasonal_naive  # noqa: E402
from tools.paper_datasets import load_sunspots  # noqa: E402
from tools.templates import TEMPLATE_FAMILIES, TEMPLATES, fill_parameters  # noqa: E402

HORIZON, SEASON, FOLDS = 30, 11, 8


def template(component: str, n_rows: int) -> types.ModuleType:
    """The template as the built-in coder writes it for a history of n_rows years."""
    values = {"HORIZON": HORIZON, "SEASON": SEASON} if component == "train" else {
        "FAMILIES": list(TEMPLATE_FAMILIES["timeseries"]), "N_ROWS": n_rows, "SEASON": SEASON,
        "NONNEGATIVE": True}
    source = fill_parameters((TEMPLATES / "timeseries" / f"{component}.py").read_text(), values)
    module = types.ModuleType(f"timeseries_{component}")
    exec(compile(source, f"timeseries/{component}.py", "exec"), module.__dict__)  # noqa: S102 - our own template
    return module


def study_window(args: tuple[np.ndarray, int, int, int]) -> dict:
    series, cut, n_configs, seed = args
    warnings.simplefilter("ignore")
    history, window = series[:cut], series[cut:cut + HORIZON]
    space, train = template("configspace", cut).get_configspace(), template("train", cut)
    space.seed(seed)
    configs = [space.get_default_configuration()] + list(space.sample_configuration(n_configs - 1))
    data = types.SimpleNamespace(y=history, X=None, info={"metric": "mae", "cv_folds": FOLDS})
    cv, mae, forecasts = [], [], []
    for config in configs:
        config = dict(config)
        cv.append(train.train(config, data, seed=0)["loss"])
        forecasts.append(train.Forecaster(config, 0).fit(history).forecast(HORIZON))
        mae.append(float(np.mean(np.abs(forecasts[-1] - window))))
    order = np.argsort(cv)
    top3 = np.mean([forecasts[i] for i in order[:3]], axis=0)
    return {
        "cut": cut, "n": len(configs),
        "ar": float(np.mean(np.abs(autoregressive(history, HORIZON)[0] - window))),
        "seasonal_naive": float(np.mean(np.abs(seasonal_naive(history, HORIZON, SEASON) - window))),
        "default": mae[0], "best_by_cv": mae[order[0]], "best_cv_loss": cv[order[0]],
        "top3": float(np.mean(np.abs(top3 - window))), "median": float(np.median(mae)),
        "oracle": float(np.min(mae)), "rho": float(spearmanr(cv, mae).statistic),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=40, help="configurations per window (the default included)")
    parser.add_argument("--windows", type=int, default=4, help="pseudo-test windows, the latest ending in 1978")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    dataset = load_sunspots(HORIZON)  # its y is the training years only; the test stays sealed
    series, first_year = np.asarray(dataset.y, dtype=float), int(dataset.X.iloc[0, 0])
    cuts = [len(series) - HORIZON * (k + 1) for k in range(args.windows)]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(study_window, [(series, c, args.configs, args.seed) for c in cuts]))

    print(f"Sunspots training years, {args.configs} configurations per window, {FOLDS}-origin CV; window MAE:\n")
    print("| window | AR(AIC) | seasonal naive | template default | best by CV | top-3 by CV | median | "
          "best in hindsight | Spearman(CV, window) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: r["cut"]):
        years = f"{first_year + r['cut']}-{first_year + r['cut'] + HORIZON - 1}"
        print(f"| {years} | {r['ar']:.1f} | {r['seasonal_naive']:.1f} | {r['default']:.1f} | "
              f"{r['best_by_cv']:.1f} | {r['top3']:.1f} | {r['median']:.1f} | {r['oracle']:.1f} | {r['rho']:+.2f} |")
    mean = {k: np.mean([r[k] for r in rows]) for k in ("ar", "seasonal_naive", "default", "best_by_cv", "top3",
                                                        "median", "oracle", "rho")}
    print(f"| mean | {mean['ar']:.1f} | {mean['seasonal_naive']:.1f} | {mean['default']:.1f} | "
          f"{mean['best_by_cv']:.1f} | {mean['top3']:.1f} | {mean['median']:.1f} | {mean['oracle']:.1f} | "
          f"{mean['rho']:+.2f} |")


if __name__ == "__main__":
    main()
