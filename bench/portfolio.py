"""Derive the tabular template's start portfolio from the DEVELOPMENT data sets' training splits.

    python bench/portfolio.py [--data .cache/bench/data] [--per-family 5] [--size 8] [--rows 1500]

For each development data set of the AutoML benchmark (bench_datasets.py's `dev` group; its
train.csv only: the test splits are never read), every candidate configuration is scored by
the tabular template's own `train()` (cross-validation on at most `--rows` training rows) in
the project's process sandbox, `--timeout` seconds each (a slower candidate counts as failed:
the search would not wait for it either). Candidates: each family's default and
`--per-family` random configurations of the template's space.

The portfolio is then chosen greedily, as auto-sklearn 2.0 does: each step adds the
candidate that most lowers the mean over data sets of the best normalised loss so far
(0 = the best candidate on that set, 1 = the median one). Chosen candidates are listed
cheapest first (by mean CV seconds), separately for classification and regression, ready to
paste into tools/templates/tabular/spec.py.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
from ConfigSpace.util import deactivate_inactive_hyperparameters

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox import Limits, Workspace, open_sandbox  # noqa: E402
from tools.datasets.files import load_table  # noqa: E402
from tools.inputs import clean_features  # noqa: E402
from tools.profiling import column_types  # noqa: E402
from tools.templates import fill_parameters, get  # noqa: E402

# Hyperparameters that exist only for some data (missing values, categories): a portfolio
# entry naming one would be skipped on data without it, so candidates leave them at default.
DATA_DEPENDENT = ("numeric_imputer", "onehot_max_categories")


def load_dev(data: Path, rows: int) -> list[tuple[str, str, object]]:
    """(name, task, TrainingData-like) for each development set with no free-text column."""
    sets = []
    for meta_path in sorted(data.glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        if meta["group"] != "dev" or meta.get("text"):
            continue
        ds = load_table(meta_path.parent / "train.csv", meta["target"])
        X, y = clean_features(ds.X), np.asarray(ds.y)
        if len(y) > rows:
            pick = np.random.default_rng(0).choice(len(y), rows, replace=False)
            X, y = X.iloc[pick].reset_index(drop=True), y[pick]
        numeric, categorical = column_types(X)
        info = {
            "task": meta["task"],
            "metric": "accuracy" if meta["task"] == "classification" else "r2",
            "cv_folds": 3,
            "seed": 0,
            "n_rows": len(y),
            "numeric_columns": numeric,
            "categorical_columns": categorical,
        }
        if meta["task"] == "classification":
            info.update(classes=np.unique(y).tolist(), n_classes=len(np.unique(y)))
        sets.append((meta["name"], meta["task"], types.SimpleNamespace(X=X, y=y, info=info)))
    return sets


def template_namespace(component: str, values: dict) -> dict:
    namespace: dict = {}
    exec(
        compile(fill_parameters(get("tabular").source(component), values), f"tabular/{component}.py", "exec"), namespace
    )
    return namespace


def candidates(task: str, per_family: int) -> list[dict]:
    """Each family's default and random configurations, as partial configurations (what
    differs from nothing: the family and its own hyperparameters)."""
    families = list(get("tabular").families)
    space_module = template_namespace(
        "configspace",
        {"TASK": task, "FAMILIES": families, "HAS_CATEGORICAL": False, "HAS_MISSING": False, "N_ROWS": 1500},
    )
    space = space_module["get_configspace"]()
    out = []
    for family in families:
        default = {hp.name: hp.default_value for hp in space.values()}
        default["model"] = family
        out.append(dict(deactivate_inactive_hyperparameters(default, space)))
        space.seed(len(out))
        while sum(c["model"] == family for c in out) < per_family + 1:
            config = dict(space.sample_configuration())
            if config["model"] == family:
                out.append(config)
    plain = [{k: (v.item() if hasattr(v, "item") else v) for k, v in c.items() if k not in DATA_DEPENDENT} for c in out]
    return plain


def score(sets: list, configs: list[dict], timeout: float) -> tuple[np.ndarray, np.ndarray]:
    """Loss and seconds of every candidate on every data set, each a `train` call in the
    project's own process sandbox (a candidate slower than `timeout` counts as failed)."""
    losses = np.full((len(sets), len(configs)), np.nan)
    seconds = np.full_like(losses, timeout)
    for i, (name, _, data) in enumerate(sets):
        with tempfile.TemporaryDirectory() as folder:
            code, data_dir = Path(folder, "code"), Path(folder, "data")
            code.mkdir()
            data_dir.mkdir()
            (code / "train.py").write_text(fill_parameters(get("tabular").source("train"), {}))
            with open(data_dir / "train.pkl", "wb") as fh:
                pickle.dump({"X": data.X, "y": data.y, "info": data.info}, fh)
            limits = Limits(timeout=timeout, memory_mb=4096)
            with open_sandbox("process", Workspace(code=code, data=data_dir), limits, name="portfolio") as sandbox:
                for j, config in enumerate(configs):
                    outcome = sandbox.call("train", module="train.py", data="train.pkl", config=config, seed=0)
                    if outcome.ok:
                        losses[i, j], seconds[i, j] = outcome.result["loss"], outcome.elapsed
        print(
            f"{name}: best loss {np.nanmin(losses[i]):.4f}, {np.nansum(seconds[i]):.0f} s, "
            f"{int(np.isnan(losses[i]).sum())} failed or timed out",
            file=sys.stderr,
            flush=True,
        )
    return losses, seconds


def greedy(losses: np.ndarray, size: int) -> list[int]:
    """auto-sklearn 2.0's greedy portfolio on normalised losses (0 best, 1 median)."""
    best = np.nanmin(losses, axis=1, keepdims=True)
    median = np.nanmedian(losses, axis=1, keepdims=True)
    normalised = np.nan_to_num((losses - best) / np.maximum(median - best, 1e-12), nan=10.0)
    chosen: list[int] = []
    current = np.full(len(losses), np.inf)
    for _ in range(size):
        gains = [np.mean(np.minimum(current, normalised[:, j])) for j in range(losses.shape[1])]
        pick = int(np.argmin(gains))
        if pick in chosen:
            break
        chosen.append(pick)
        current = np.minimum(current, normalised[:, pick])
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".cache" / "bench" / "data")
    parser.add_argument("--per-family", type=int, default=5)
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per candidate (default 30)")
    args = parser.parse_args()
    sets = load_dev(args.data, args.rows)
    if not sets:
        print(
            f"no development data sets under {args.data}; run bench/automl_benchmark.py --prepare first",
            file=sys.stderr,
        )
        return 2
    portfolio = {}
    for task in ("classification", "regression"):
        task_sets = [s for s in sets if s[1] == task]
        configs = candidates(task, args.per_family)
        losses, seconds = score(task_sets, configs, args.timeout)
        chosen = sorted(greedy(losses, args.size), key=lambda j: seconds[:, j].mean())
        print(f"\n{task}: {', '.join(s[0] for s in task_sets)}; {len(configs)} candidates")
        print("| # | family | mean normalised loss alone | mean CV seconds | configuration |")
        print("|---|---|---|---|---|")
        best, median = np.nanmin(losses, 1, keepdims=True), np.nanmedian(losses, 1, keepdims=True)
        alone = np.nanmean((losses - best) / np.maximum(median - best, 1e-12), axis=0)
        for rank, j in enumerate(chosen, start=1):
            print(
                f"| {rank} | {configs[j]['model']} | {alone[j]:.2f} | {seconds[:, j].mean():.2f} | "
                f"`{json.dumps(configs[j])}` |"
            )
        portfolio[task] = [configs[j] for j in chosen]
    print("\nPORTFOLIO = " + json.dumps(portfolio, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
