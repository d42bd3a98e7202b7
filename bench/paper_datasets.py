"""The paper's data sets: the agent's built-in coder at each config's default budget, beside
scikit-learn defaults and FLAML given the same wall-clock budget.

    python bench/paper_datasets.py                       # every config (hours on 2 cores)
    python bench/paper_datasets.py --only iris wine      # some of them
    python bench/paper_datasets.py --only mnist --reuse /tmp/runs/mnist   # score a finished run
    python bench/paper_datasets.py --no-flaml            # skip FLAML

The agent runs through its own command line (process sandbox). The comparisons see the
same training split and are scored once on the same sealed test split, on the host.
FLAML is optional (`pip install flaml`; not a project dependency); it gets the agent's
whole wall time as its `time_budget`. Prints one table (Markdown).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graph.config import load_config  # noqa: E402
from tools.inputs import prepare  # noqa: E402
from tools.metrics import test_metrics  # noqa: E402

CONFIGS = [
    "iris",
    "wine",
    "breast_cancer",
    "diabetes",
    "mnist",
    "fashion_mnist",
    "sunspots",
    "newsgroups",
    "mini_newsgroups",
    "adult",
]
FLAML_METRIC = {
    "accuracy": "accuracy",
    "roc_auc": "roc_auc",
    "log_loss": "log_loss",
    "f1_macro": "macro_f1",
    "r2": "r2",
    "rmse": "rmse",
    "mae": "mae",
}


# ---- the agent ------------------------------------------------------------------------


def run_agent(name: str, runs_dir: Path) -> tuple[dict, float]:
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "graph.run",
            f"configs/{name}.yaml",
            "--runs-dir",
            str(runs_dir),
            "--set",
            "sandbox.backend=process",
            "-q",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr else "failed")
    run = max(runs_dir.glob(f"{name}*"), key=lambda p: p.stat().st_mtime)
    return json.loads((run / "metrics.json").read_text()), wall


def reuse_run(run: Path) -> tuple[dict, float]:
    metrics = json.loads((run / "metrics.json").read_text())
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    first = time.mktime(time.strptime(events[0]["time"], "%Y-%m-%dT%H:%M:%S"))
    last = time.mktime(time.strptime(metrics["finished"], "%Y-%m-%dT%H:%M:%S"))
    return metrics, last - first


# ---- comparisons on the same split ----------------------------------------------------


def _as_matrix(X):
    """Images flattened to pixels in [0, 1]; tables and text unchanged."""
    if isinstance(X, np.ndarray) and X.ndim >= 3:
        return X.reshape(len(X), -1).astype(np.float32) / 255.0
    return X


def _tabular(kind: str, X: pd.DataFrame, task: str):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in categorical]
    classify = task == "classification"
    if kind == "hgb":
        encode = ColumnTransformer(
            [
                (
                    "c",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
                    ),
                    categorical,
                )
            ],
            remainder="passthrough",
        )
        mask = [True] * len(categorical) + [False] * len(numeric)
        model = (HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor)(
            categorical_features=mask if categorical else None, random_state=0
        )
        return make_pipeline(encode, model)
    encode = ColumnTransformer(
        [("n", make_pipeline(SimpleImputer(), StandardScaler()), numeric)]
        + (
            [
                (
                    "c",
                    make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
                    categorical,
                )
            ]
            if categorical
            else []
        )
    )
    return make_pipeline(encode, LogisticRegression(max_iter=1000) if classify else LinearRegression())


def sklearn_default(kind: str, data, modality: str):
    """(model name, test predictions, probabilities) for one scikit-learn default."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    X, X_test = _as_matrix(data.X_train), _as_matrix(data.X_test)
    if modality == "text":
        X, X_test = X.iloc[:, 0].to_numpy(), X_test.iloc[:, 0].to_numpy()
        model = make_pipeline(TfidfVectorizer(), LinearSVC() if kind == "hgb" else LogisticRegression(max_iter=1000))
        name = "TF-IDF + LinearSVC" if kind == "hgb" else "TF-IDF + LogReg"
    elif modality == "image":
        model = HistGradientBoostingClassifier(random_state=0) if kind == "hgb" else LogisticRegression(max_iter=200)
        name = "HGB" if kind == "hgb" else "LogReg"
    else:
        model = _tabular(kind, X, data.task)
        name = "HGB" if kind == "hgb" else ("LogReg" if data.task == "classification" else "LinReg")
    model.fit(X, data.y_train)
    proba = model.predict_proba(X_test) if hasattr(model, "predict_proba") else None
    return name, model.predict(X_test), proba


def forecast_baseline(data, season: int):
    """HGB defaults on `season` lags, forecasting recursively (the sklearn default here)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    y = np.asarray(data.y_train, dtype=float)
    lags = max(2, season)
    X = np.asarray([y[t - lags : t][::-1] for t in range(lags, len(y))])
    model = HistGradientBoostingRegressor(random_state=0).fit(X, y[lags:])
    path = list(y)
    for _ in range(len(data.y_test)):
        path.append(float(model.predict(np.asarray([path[-lags:][::-1]]))[0]))
    return "HGB on lags", np.asarray(path[len(y) :]), None


def flaml_run(data, metric: str, budget: float, modality: str):
    from flaml import AutoML

    automl = AutoML()
    X, X_test = _as_matrix(data.X_train), _as_matrix(data.X_test)
    settings = dict(time_budget=max(10, int(budget)), metric=FLAML_METRIC[metric], verbose=0, seed=0)
    if data.task == "forecasting":
        train = pd.DataFrame({"ds": pd.date_range("1700", periods=len(data.y_train), freq="YS"), "y": data.y_train})
        automl.fit(dataframe=train, label="y", task="ts_forecast", period=len(data.y_test), **settings)
        test = pd.DataFrame({"ds": pd.date_range(train.ds.iloc[-1], periods=len(data.y_test) + 1, freq="YS")[1:]})
        return np.asarray(automl.predict(test)), None
    task = "classification" if data.task == "classification" else "regression"
    if modality == "text":
        # FLAML's own text handling needs transformers; give it the same TF-IDF input.
        from sklearn.feature_extraction.text import TfidfVectorizer

        tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2)
        X = tfidf.fit_transform(X.iloc[:, 0].to_numpy())
        X_test = tfidf.transform(X_test.iloc[:, 0].to_numpy())
    if task == "regression":
        automl.fit(X, data.y_train, task=task, **settings)
        return np.asarray(automl.predict(X_test)), None
    # Its boosters want labels 0..k-1: encode, then decode the predictions.
    classes, codes = np.unique(data.y_train, return_inverse=True)
    automl.fit(X, codes, task=task, **settings)
    return classes[np.asarray(automl.predict(X_test)).astype(int)], automl.predict_proba(X_test)


def score(data, metric: str, y_pred, proba) -> float | None:
    classes = sorted(np.unique(data.y_train).tolist()) if data.task == "classification" else None
    return test_metrics(data.task, data.y_test, y_pred, proba, classes).get(metric)


# ---- the table ------------------------------------------------------------------------


def bench_one(name: str, runs_dir: Path, reuse: Path | None, flaml: bool) -> dict:
    config = load_config(ROOT / "configs" / f"{name}.yaml", ["sandbox.backend=process"])
    row = {"dataset": name}
    try:
        metrics, wall = reuse_run(reuse) if reuse else run_agent(name, runs_dir)
    except Exception as exc:  # noqa: BLE001 - a data set that cannot run is a row saying why
        return {**row, "error": str(exc)[:200]}
    metric = metrics["metric"]
    row.update(
        metric=metric,
        cv=metrics["cv"][metric],
        test=metrics["test"].get(metric),
        wall=wall,
        trials=metrics["trials"]["finished"],
    )
    data = prepare(config)
    modality = data.modality
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if data.task == "forecasting":
            base = metrics.get("baselines", {})
            row["seasonal_naive"] = base.get("seasonal_naive", {}).get(metric)
            row["ar"] = base.get("autoregressive", {}).get(metric)
            label, pred, proba = forecast_baseline(data, 11)
            row["sk_hgb"] = (label, score(data, metric, pred, proba))
        else:
            for kind in ("hgb", "linear"):
                started = time.monotonic()
                label, pred, proba = sklearn_default(kind, data, modality)
                row[f"sk_{kind}"] = (label, score(data, metric, pred, proba), time.monotonic() - started)
        if flaml:
            try:
                pred, proba = flaml_run(data, metric, wall, modality)
                row["flaml"] = score(data, metric, pred, proba)
            except Exception as exc:  # noqa: BLE001
                row["flaml"] = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
    return row


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return f"{value[1]:.4f} ({value[0]})" if value[1] is not None else f"- ({value[0]})"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def table(rows: list[dict]) -> str:
    head = [
        "dataset",
        "metric",
        "agent CV",
        "agent test",
        "wall s",
        "trials",
        "sklearn HGB",
        "sklearn linear",
        "FLAML (same wall)",
        "seasonal naive",
        "AR",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['dataset']} | " + f"not run: {r['error']} |" + " |" * (len(head) - 2))
            continue
        cells = [
            r["dataset"],
            r["metric"],
            fmt(r["cv"]),
            fmt(r["test"]),
            f"{r['wall']:.0f}",
            str(r["trials"]),
            fmt(r.get("sk_hgb")),
            fmt(r.get("sk_linear")),
            fmt(r.get("flaml")),
            fmt(r.get("seasonal_naive")),
            fmt(r.get("ar")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=CONFIGS, help="these configs only")
    parser.add_argument("--runs-dir", default="/tmp/automl-bench-runs")
    parser.add_argument("--reuse", type=Path, help="score this finished run folder (one --only)")
    parser.add_argument("--no-flaml", action="store_true", help="skip FLAML")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    names = args.only or CONFIGS
    if args.reuse and len(names) != 1:
        parser.error("--reuse scores one run: give one --only")
    flaml = not args.no_flaml
    if flaml:
        try:
            import flaml as _  # noqa: F401
        except ImportError:
            print("FLAML is not installed (pip install flaml); its column stays empty", file=sys.stderr)
            flaml = False
    rows = []
    for name in names:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        rows.append(bench_one(name, Path(args.runs_dir), args.reuse, flaml))
        print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(f"\nMeasured at commit {commit} on {time.strftime('%Y-%m-%d')}.\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
