"""Does the time-series template's cross-validation pick configurations that forecast well,
and does combining the pick with statistical forecasts help?

A study on the Sunspots training years only (1700-1978; the sealed 1979-2008 is never
loaded). Each pseudo-test window is the 30 years after a cut (cuts 15 years apart, so
neighbouring windows overlap by half); everything before the cut is the history. For
each window, random configurations from the template's space are scored by the
template's own forward-chaining CV on the history, then fitted on the whole history and
scored on the window, twice: the model's forecast alone, and the template's forecast
(the model averaged with AR(AIC), SETAR and seasonal naive; COMBINE in the template). The
table shows the window MAE of:

- the AR(AIC) and seasonal-naive baselines;
- the template default and the best-by-CV configuration, alone and combined (each
  selected by its own CV, as the search would);
- the median configuration, alone and combined;
- Spearman's rank correlation between CV loss and window MAE of the models alone
  (near 0: CV cannot choose).

    python bench/forecast_selection.py                 # 40 configurations, 7 windows, ~15 min
    python bench/forecast_selection.py --configs 10 --windows 2

With `--every N` it instead scores the template's default configuration (no search, a few
seconds) on every window whose cut is N years apart, from 1800 on: many more windows, for
how often the combined forecast beats each baseline.

    python bench/forecast_selection.py --every 3       # 50 windows, ~5 s

With `--one-step` (and `--every N`) it scores one-step-ahead forecasts instead, as deploy
does on the sealed years: the default configuration fitted on the history before each
window, then each year of the window forecast from the true years before it, no refit
(the template's update()), its lead-1 parts (its AR and SETAR there fitted on the square
roots) and their average beside the AR baseline's.

    python bench/forecast_selection.py --every 3 --one-step   # 50 windows, ~1 min
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

from tools.datasets.paper import load_sunspots  # noqa: E402
from tools.templates import TEMPLATES, fill_parameters, get  # noqa: E402
from tools.templates.timeseries.baselines import autoregressive, fit_autoregressive, seasonal_naive  # noqa: E402

HORIZON, SEASON, FOLDS = 30, 11, 8
WINDOW_STRIDE = 15  # years between cuts


def template(component: str, n_rows: int) -> types.ModuleType:
    """The template as the built-in coder writes it for a history of n_rows years."""
    values = (
        {"HORIZON": HORIZON, "SEASON": SEASON}
        if component == "train"
        else {"FAMILIES": list(get("timeseries").families), "N_ROWS": n_rows, "SEASON": SEASON, "NONNEGATIVE": True}
    )
    source = fill_parameters((TEMPLATES / "timeseries" / f"{component}.py").read_text(), values)
    module = types.ModuleType(f"timeseries_{component}")
    exec(compile(source, f"timeseries/{component}.py", "exec"), module.__dict__)  # noqa: S102 - our own template
    return module


def study_window(args: tuple[np.ndarray, int, int, int]) -> dict:
    series, cut, n_configs, seed = args
    warnings.simplefilter("ignore")
    history, window = series[:cut], series[cut : cut + HORIZON]
    space, train = template("configspace", cut).get_configspace(), template("train", cut)
    space.seed(seed)
    configs = [dict(c) for c in [space.get_default_configuration()] + list(space.sample_configuration(n_configs - 1))]
    origins, horizon = train._origins(cut, FOLDS, HORIZON)

    def mae(truth, forecast):
        return float(np.mean(np.abs(np.asarray(truth) - forecast)))

    scores = {"alone": {"cv": [], "window": []}, "combined": {"cv": [], "window": []}}
    for config in configs:
        folds = [train.Forecaster(config, 0).fit(history[:o]).components(horizon) for o in origins]
        final = train.Forecaster(config, 0).fit(history).components(HORIZON)
        for kind, pick in (
            ("alone", lambda parts: parts["model"]),
            ("combined", lambda parts: np.mean(list(parts.values()), axis=0)),
        ):
            fold_errors = [mae(series[o : o + horizon], pick(f)) for o, f in zip(origins, folds, strict=True)]
            scores[kind]["cv"].append(np.mean(fold_errors))
            scores[kind]["window"].append(mae(window, pick(final)))
    # The combined CV above is what the template's own train() reports; check it once.
    data = types.SimpleNamespace(y=history, X=None, info={"metric": "mae", "cv_folds": FOLDS})
    assert abs(train.train(configs[0], data)["loss"] - scores["combined"]["cv"][0]) < 1e-9
    row = {
        "cut": cut,
        "n": len(configs),
        "ar": mae(window, autoregressive(history, HORIZON)[0]),
        "seasonal_naive": mae(window, seasonal_naive(history, HORIZON, SEASON)),
        "rho": float(spearmanr(scores["alone"]["cv"], scores["alone"]["window"]).statistic),
    }
    for kind, s in scores.items():
        row[f"default_{kind}"] = s["window"][0]
        row[f"best_{kind}"] = s["window"][int(np.argmin(s["cv"]))]
        row[f"median_{kind}"] = float(np.median(s["window"]))
    return row


def default_over_windows(series: np.ndarray, first_year: int, every: int) -> None:
    """The default configuration's window MAE, alone and combined, beside both baselines and
    the template's SETAR."""
    warnings.simplefilter("ignore")
    columns = {
        "ar": "AR(AIC)",
        "seasonal_naive": "seasonal naive",
        "setar": "SETAR",
        "alone": "default alone",
        "combined": "default combined",
    }
    rows = []
    train = template("train", len(series))  # filled with HORIZON and SEASON only: one for every cut
    for cut in range(100, len(series) - HORIZON + 1, every):
        history, window = series[:cut], series[cut : cut + HORIZON]
        config = dict(template("configspace", cut).get_configspace().get_default_configuration())
        parts = train.Forecaster(config, 0).fit(history).components(HORIZON)
        forecasts = {
            "ar": autoregressive(history, HORIZON)[0],
            "seasonal_naive": seasonal_naive(history, HORIZON, SEASON),
            "setar": parts["threshold_autoregressive"],
            "alone": parts["model"],
            "combined": np.mean(list(parts.values()), axis=0),
        }
        rows.append({"cut": cut} | {k: float(np.mean(np.abs(window - f))) for k, f in forecasts.items()})

    print(f"Sunspots training years, the default configuration, windows {every} years apart; window MAE:\n")
    print("| window | " + " | ".join(columns.values()) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for r in rows:
        cells = " | ".join(f"{r[k]:.1f}" for k in columns)
        print(f"| {first_year + r['cut']}-{first_year + r['cut'] + HORIZON - 1} | {cells} |")
    print(f"| mean | {' | '.join(f'{np.mean([r[k] for r in rows]):.1f}' for k in columns)} |")
    for kind in ("alone", "combined"):
        beats = {b: sum(r[kind] < r[b] for r in rows) for b in ("ar", "seasonal_naive")}
        both = sum(r[kind] < min(r["ar"], r["seasonal_naive"]) for r in rows)
        print(
            f"\ndefault {kind} beats AR in {beats['ar']} of {len(rows)} windows, seasonal naive in "
            f"{beats['seasonal_naive']}, both in {both}.",
            end="",
        )
    print()


def one_step_window(train: types.ModuleType, series: np.ndarray, cut: int) -> dict:
    """Mean absolute one-step-ahead error over the window after `cut` of the default
    configuration's parts, their equal average, the template's forecast (fit() weights the
    parts at lead 1 by their one-step errors on the history) and AR(AIC)."""
    config = dict(template("configspace", cut).get_configspace().get_default_configuration())
    model = train.fit(config, types.SimpleNamespace(X=None, y=series[:cut], info={}))
    ar = fit_autoregressive(series[:cut], SEASON)  # the report's AR baseline
    errors: dict[str, list[float]] = {}
    for t in range(cut, cut + HORIZON):
        past = types.SimpleNamespace(X=None, y=series[:t], info={})
        parts = train.update(model, past).lead_one_parts(t)
        parts["equal"] = float(np.mean(list(parts.values())))
        parts["combined"] = float(model.forecast(1)[0])
        parts["ar_baseline"] = ar.next_value(series[:t])
        for name, value in parts.items():
            errors.setdefault(name, []).append(abs(value - series[t]))
    return {"cut": cut} | {name: float(np.mean(e)) for name, e in errors.items()}


def one_step_over_windows(series: np.ndarray, first_year: int, every: int) -> None:
    warnings.simplefilter("ignore")
    train = template("train", len(series))
    rows = [one_step_window(train, series, cut) for cut in range(100, len(series) - HORIZON + 1, every)]
    columns = {
        "ar_baseline": "AR(AIC) baseline",
        "model": "default's model",
        "autoregressive": "its AR",
        "threshold_autoregressive": "its SETAR",
        "seasonal_naive": "its seasonal naive",
        "equal": "equal average",
        "combined": "default combined (weighted)",
    }
    print(f"Sunspots training years, one step ahead (no refit), windows {every} years apart; window MAE:\n")
    print("| window | " + " | ".join(columns.values()) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for r in rows:
        cells = " | ".join(f"{r[k]:.1f}" for k in columns)
        print(f"| {first_year + r['cut']}-{first_year + r['cut'] + HORIZON - 1} | {cells} |")
    print(f"| mean | {' | '.join(f'{np.mean([r[k] for r in rows]):.2f}' for k in columns)} |")
    for key in ("equal", "combined"):
        beats = sum(r[key] < r["ar_baseline"] for r in rows)
        print(f"\n{columns[key]} beats the AR baseline one step ahead in {beats} of {len(rows)} windows.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=40, help="configurations per window (the default included)")
    parser.add_argument("--windows", type=int, default=7, help="pseudo-test windows, the latest ending in 1978")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--every", type=int, help="score only the default configuration, on windows this many years apart"
    )
    parser.add_argument("--one-step", action="store_true", help="with --every: one-step-ahead forecasts instead")
    args = parser.parse_args()

    dataset = load_sunspots(HORIZON)  # its y is the training years only; the test stays sealed
    series, first_year = np.asarray(dataset.y, dtype=float), int(dataset.X.iloc[0, 0])
    if args.every and args.one_step:
        return one_step_over_windows(series, first_year, args.every)
    if args.every:
        return default_over_windows(series, first_year, args.every)
    cuts = [len(series) - HORIZON - WINDOW_STRIDE * k for k in range(args.windows)]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(study_window, [(series, c, args.configs, args.seed) for c in cuts]))

    columns = {
        "ar": "AR(AIC)",
        "seasonal_naive": "seasonal naive",
        "default_alone": "default alone",
        "best_alone": "best by CV alone",
        "median_alone": "median alone",
        "default_combined": "default combined",
        "best_combined": "best by CV combined",
        "median_combined": "median combined",
        "rho": "Spearman(CV, window)",
    }
    print(
        f"Sunspots training years, {args.configs} configurations per window, {FOLDS}-origin CV; window MAE "
        "(combined: averaged with AR, SETAR and seasonal naive):\n"
    )
    print("| window | " + " | ".join(columns.values()) + " |")
    print("|---" * (len(columns) + 1) + "|")

    def cells(row: dict) -> str:
        return " | ".join(f"{row[k]:+.2f}" if k == "rho" else f"{row[k]:.1f}" for k in columns)

    for r in sorted(rows, key=lambda r: r["cut"]):
        print(f"| {first_year + r['cut']}-{first_year + r['cut'] + HORIZON - 1} | {cells(r)} |")
    print(f"| mean | {cells({k: np.mean([r[k] for r in rows]) for k in columns})} |")


if __name__ == "__main__":
    main()
