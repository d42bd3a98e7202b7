"""Predict with a finished run's model: python -m graph.predict RUN_DIR DATA [-o predictions.csv]

DATA is a CSV or Parquet table with the training columns (the target column, if there,
is ignored) or a `.npz` file with an `X` array. The model is a pickle written by generated
code, so it is loaded and used only inside a sandbox, as at deploy: the features go into a
fresh folder the sandbox reads, never into the run folder. Predictions are written as CSV:
a `prediction` column and, for a classifier with probabilities, one `proba_<class>` column
per class.

Exit codes: 0 done, 2 bad input (run folder, data file, columns; one line saying what
to fix), 1 the model failed to predict.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from graph.config import load_config
from sandbox import BACKENDS, SandboxError, Workspace, open_sandbox
from tools.errors import ConfigError
from tools.inputs import clean_features
from tools.runfolder import (
    SANDBOX_FINAL_TRAIN,
    SANDBOX_MODEL,
    SANDBOX_PREDICT_FEATURES,
    SANDBOX_TRAIN_DATA,
    RunFolder,
)

EXIT_DONE, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
FEATURES = SANDBOX_PREDICT_FEATURES


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m graph.predict", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a finished run folder, e.g. runs/iris")
    parser.add_argument("data", help="rows to predict: .csv, .parquet, or .npz with an X array")
    parser.add_argument("-o", "--output", help="CSV file to write (default: standard output)")
    parser.add_argument("--backend", choices=[b for b in BACKENDS if b != "auto"],
                        help="sandbox to predict in (default: the one the run used)")
    return parser.parse_args(argv)


def finished_run(run_dir: Path) -> Path:
    needed = (f"{RunFolder.MODEL}/{SANDBOX_MODEL}", f"{RunFolder.CODE}/{SANDBOX_FINAL_TRAIN}", RunFolder.CONFIG,
              RunFolder.EVENTS, f"{RunFolder.DATA}/{SANDBOX_TRAIN_DATA}")
    for name in needed:
        if not (run_dir / name).exists():
            raise ConfigError(f"{run_dir}: not a finished run (no {name}); finish it with "
                              "python -m graph.run CONFIG --resume")
    return run_dir


def run_backend(run_dir: Path) -> str:
    """The sandbox backend the run fitted its model in (initialize logs it)."""
    for line in (run_dir / RunFolder.EVENTS).read_text().splitlines():
        backend = json.loads(line).get("backend")
        if backend:
            return backend
    return "process"


def read_rows(path: Path, training_X):
    """The rows to predict, shaped like the training features; ConfigError if they are not."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            if "X" not in arrays:
                raise ConfigError(f"{path}: no array named X (it has {', '.join(arrays.files) or 'none'})")
            X = arrays["X"]
        expected = np.shape(training_X)[1:]
        if X.shape[1:] != expected:
            raise ConfigError(f"{path}: X has rows of shape {X.shape[1:]}; the model was trained on rows of "
                              f"shape {expected}")
        if isinstance(training_X, pd.DataFrame):  # a table saved as arrays: the training column names
            return clean_features(pd.DataFrame(X, columns=list(training_X.columns)))
        return X
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ConfigError(f"{path}: expected a .csv, .parquet or .npz file")
    if not isinstance(training_X, pd.DataFrame):
        raise ConfigError(f"{path}: this model was trained on arrays; give a .npz file with X")
    # Categorical training columns are read as text, so that codes such as ZIP "02134"
    # stay the categories the model knows instead of becoming numbers.
    text = {c: str for c in training_X.columns if not pd.api.types.is_numeric_dtype(training_X[c])}
    try:
        X = pd.read_parquet(path) if suffix != ".csv" else pd.read_csv(path, dtype=text)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
        reason = (str(exc).strip().splitlines() or [""])[0]  # pandas ends some messages in a newline
        raise ConfigError(f"{path}: cannot read it ({type(exc).__name__}: {reason})") from None
    X.columns = [str(c) for c in X.columns]
    missing = [c for c in training_X.columns if c not in X.columns]
    if missing:
        raise ConfigError(f"{path}: missing the training column(s) {', '.join(missing)}")
    # The training columns in the training order; the target and anything extra are ignored.
    return clean_features(X[list(training_X.columns)])


def predict(run_dir: Path, rows, backend: str) -> dict:
    """{"y_pred", "y_proba"} from the run's model, computed inside a sandbox."""
    limits = load_config(run_dir / RunFolder.CONFIG).sandbox.limits()
    with tempfile.TemporaryDirectory(prefix="automl-predict-") as folder:
        Path(folder).chmod(0o755)  # the Docker sandbox reads it as an unprivileged user
        with open(Path(folder) / FEATURES, "wb") as fh:
            pickle.dump({"X": rows}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        (Path(folder) / FEATURES).chmod(0o644)
        workspace = Workspace(code=run_dir / "code", data=Path(folder), artifacts=run_dir / "model",
                              artifacts_writable=False)
        with open_sandbox(backend, workspace, limits, name=f"{run_dir.name}-predict") as sandbox:
            outcome = sandbox.call("predict", module=SANDBOX_FINAL_TRAIN, artifact=SANDBOX_MODEL, predict=FEATURES)
    if not outcome.ok:
        raise RuntimeError(f"the model failed to predict: {outcome.describe()}")
    return outcome.result


def as_table(result: dict, classes: list | None) -> pd.DataFrame:
    table = pd.DataFrame({"prediction": result["y_pred"]})
    proba = result.get("y_proba")
    if proba is not None and classes and np.shape(proba)[1:] == (len(classes),):
        for i, label in enumerate(classes):
            table[f"proba_{label}"] = np.asarray(proba)[:, i]
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run_dir = finished_run(Path(args.run))
        with open(RunFolder(run_dir).train_data, "rb") as fh:
            training = pickle.load(fh)  # the agent's own pickle of the training split
        rows = read_rows(Path(args.data), training["X"])
        if len(rows) == 0:
            raise ConfigError(f"{args.data}: no rows to predict")
        result = predict(run_dir, rows, args.backend or run_backend(run_dir))
    except (ConfigError, SandboxError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    table = as_table(result, training["info"].get("classes"))
    if args.output:
        table.to_csv(args.output, index=False)
        print(f"{len(table)} predictions written to {args.output}", file=sys.stderr)
    else:
        table.to_csv(sys.stdout, index=False)
    return EXIT_DONE


if __name__ == "__main__":
    sys.exit(main())
