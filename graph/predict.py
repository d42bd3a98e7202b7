"""Predict with a finished run's model: python -m graph.predict RUN_DIR DATA [-o predictions.csv]

DATA is a CSV or Parquet table with the training columns (the target column, if there,
is ignored) or a `.npz` file with an `X` array. The model is a pickle written by generated
code, so it is loaded and used only inside a sandbox, as at deploy: the features go into a
fresh folder the sandbox reads, never into the run folder. Nothing of the run folder is
unpickled or run on the host (what the model takes is read from `model_inputs.json`), and
the sandbox is chosen as a run chooses it, never by the folder. Predictions are written as CSV:
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
from sandbox import BACKENDS, SandboxError, Workspace, choose_backend, open_sandbox
from tools.ensemble import MEMBER_ARTIFACT, combine
from tools.errors import ConfigError
from tools.inputs import ModelInputs, clean_features
from tools.runfolder import (
    SANDBOX_FINAL_TRAIN,
    SANDBOX_MODEL,
    SANDBOX_PREDICT_FEATURES,
    TRAIN_MODULES,
    RunFolder,
)

EXIT_DONE, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
FEATURES = SANDBOX_PREDICT_FEATURES


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m graph.predict", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a finished run folder, e.g. runs/iris")
    parser.add_argument("data", help="rows to predict: .csv, .parquet, or .npz with an X array")
    parser.add_argument("-o", "--output", help="CSV file to write (default: standard output)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="sandbox to predict in, chosen as a run chooses it (default: auto); "
        "never taken from the run folder, which may come from anywhere",
    )
    return parser.parse_args(argv)


def finished_run(run_dir: Path) -> Path:
    model = RunFolder.ENSEMBLE if (run_dir / RunFolder.ENSEMBLE).exists() else f"{RunFolder.MODEL}/{SANDBOX_MODEL}"
    for name in (model, f"{RunFolder.CODE}/{SANDBOX_FINAL_TRAIN}", RunFolder.CONFIG, RunFolder.MODEL_INPUTS):
        if not (run_dir / name).exists():
            raise ConfigError(
                f"{run_dir}: not a finished run (no {name}); finish it with python -m graph.run CONFIG --resume"
            )
    return run_dir


def read_rows(path: Path, model: ModelInputs):
    """The rows to predict, shaped like the training features; ConfigError if they are not."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            if "X" not in arrays:
                raise ConfigError(f"{path}: no array named X (it has {', '.join(arrays.files) or 'none'})")
            X = arrays["X"]
        expected = (len(model.columns),) if model.table else tuple(model.row_shape)
        if X.shape[1:] != expected:
            raise ConfigError(
                f"{path}: X has rows of shape {X.shape[1:]}; the model was trained on rows of shape {expected}"
            )
        if model.table:  # a table saved as arrays: the training column names
            return clean_features(pd.DataFrame(X, columns=model.columns))
        return X
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ConfigError(f"{path}: expected a .csv, .parquet or .npz file")
    if not model.table:
        raise ConfigError(f"{path}: this model was trained on arrays; give a .npz file with X")
    # Categorical training columns are read as text, so that codes such as ZIP "02134"
    # stay the categories the model knows instead of becoming numbers.
    try:
        text = dict.fromkeys(model.text_columns, str)
        X = pd.read_parquet(path) if suffix != ".csv" else pd.read_csv(path, dtype=text)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
        reason = (str(exc).strip().splitlines() or [""])[0]  # pandas ends some messages in a newline
        raise ConfigError(f"{path}: cannot read it ({type(exc).__name__}: {reason})") from None
    X.columns = [str(c) for c in X.columns]
    missing = [c for c in model.columns if c not in X.columns]
    if missing:
        raise ConfigError(f"{path}: missing the training column(s) {', '.join(missing)}")
    # The training columns in the training order; the target and anything extra are ignored.
    return clean_features(X[model.columns])


def model_inputs(run_dir: Path) -> ModelInputs:
    """What the run's model takes, from its JSON (never a pickle: the folder may come from anywhere)."""
    try:
        return ModelInputs(**json.loads((run_dir / RunFolder.MODEL_INPUTS).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"{run_dir}: cannot read {RunFolder.MODEL_INPUTS} ({type(exc).__name__}); "
            "it is written by this version's initialize: run the config again"
        ) from None


def deployed_members(run_dir: Path) -> list[dict]:
    """The deployed model's artifacts, weights and training functions: one model, or an
    ensemble's members. The run folder may come from anywhere: each module must be one of the
    run's own training functions, each artifact a model file of its model folder."""
    path = run_dir / RunFolder.ENSEMBLE
    try:
        if not path.exists():
            path = run_dir / RunFolder.MODEL_CONFIG  # runs before the built-in portfolio alongside had none
            module = (
                json.loads(path.read_text()).get("module", SANDBOX_FINAL_TRAIN)
                if path.exists()
                else SANDBOX_FINAL_TRAIN
            )
            members = [{"artifact": SANDBOX_MODEL, "weight": 1.0, "module": str(module)}]
        else:
            members = [
                {
                    "artifact": str(m["artifact"]),
                    "weight": float(m["weight"]),
                    "module": str(m.get("module", SANDBOX_FINAL_TRAIN)),
                }
                for m in json.loads(path.read_text())["members"]
            ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a model description ({type(exc).__name__})") from None
    if not members or not all(MEMBER_ARTIFACT.fullmatch(m["artifact"]) for m in members):
        raise ConfigError(f"{path}: its members must be model-<n>.pkl files of the run's model folder")
    if not all(m["module"] in TRAIN_MODULES and (run_dir / RunFolder.CODE / m["module"]).is_file() for m in members):
        raise ConfigError(f"{path}: a model must name one of the run's training functions ({', '.join(TRAIN_MODULES)})")
    return members


def predict(run_dir: Path, rows, backend: str, classes: list | None) -> dict:
    """{"y_pred", "y_proba"} from the run's model (an ensemble: its members' weighted vote or
    average), each member computed inside a sandbox."""
    members = deployed_members(run_dir)
    limits = load_config(run_dir / RunFolder.CONFIG).sandbox.limits()
    with tempfile.TemporaryDirectory(prefix="automl-predict-") as folder:
        Path(folder).chmod(0o755)  # the Docker sandbox reads it as an unprivileged user
        with open(Path(folder) / FEATURES, "wb") as fh:
            pickle.dump({"X": rows}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        (Path(folder) / FEATURES).chmod(0o644)
        workspace = Workspace(
            code=run_dir / RunFolder.CODE,
            data=Path(folder),
            artifacts=run_dir / RunFolder.MODEL,
            artifacts_writable=False,
        )
        with open_sandbox(backend, workspace, limits, name=f"{run_dir.name}-predict") as sandbox:
            results = []
            for member in members:
                outcome = sandbox.call(
                    "predict", module=member["module"], artifact=member["artifact"], predict=FEATURES
                )
                if not outcome.ok:
                    raise RuntimeError(f"the model failed to predict: {outcome.describe()}")
                results.append(outcome.result)
    if len(results) == 1:
        return results[0]
    y_pred, y_proba = combine(results, [m["weight"] for m in members], classes)
    return {"y_pred": y_pred.tolist(), "y_proba": y_proba}


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
        model = model_inputs(run_dir)
        rows = read_rows(Path(args.data), model)
        if len(rows) == 0:
            raise ConfigError(f"{args.data}: no rows to predict")
        backend, _ = choose_backend(args.backend)
        result = predict(run_dir, rows, backend, model.classes)
    except (ConfigError, SandboxError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    table = as_table(result, model.classes)
    if args.output:
        table.to_csv(args.output, index=False)
        print(f"{len(table)} predictions written to {args.output}", file=sys.stderr)
    else:
        table.to_csv(sys.stdout, index=False)
    return EXIT_DONE


if __name__ == "__main__":
    sys.exit(main())
