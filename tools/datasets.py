"""Datasets: one registry for bundled data sets and a user's own files.

Every loader returns a `Dataset`. Features are a pandas DataFrame for tabular and
text data and a numpy array for images; the target is a 1-D numpy array. When a data
set has an official test split (or the user gives `test_path`), the loader returns
it and `initialize` seals it instead of cutting one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


class DatasetError(ValueError):
    """A data set that cannot be loaded as asked; the message says what to fix."""


@dataclass
class Dataset:
    name: str
    X: Any  # pandas.DataFrame (tabular, text) or numpy.ndarray (images)
    y: np.ndarray
    modality: str = "tabular"  # tabular | image | text | timeseries
    X_test: Any = None  # an official or user-given test split, sealed by initialize
    y_test: np.ndarray | None = None
    task_hint: str | None = None  # classification | regression | forecasting, when known
    description: str = ""
    extra: dict = field(default_factory=dict)  # loader-specific facts for the profile

    @property
    def has_test_split(self) -> bool:
        return self.X_test is not None


Loader = Callable[..., Dataset]
REGISTRY: dict[str, Loader] = {}


def register(name: str) -> Callable[[Loader], Loader]:
    def wrap(fn: Loader) -> Loader:
        REGISTRY[name] = fn
        return fn

    return wrap


def _sklearn_loader(name: str, description: str) -> Loader:
    def load(**_: Any) -> Dataset:
        from sklearn import datasets as skd

        bunch = getattr(skd, f"load_{name}")(as_frame=True)
        X = bunch.data
        y = np.asarray(bunch.target)
        task = "regression" if name == "diabetes" else "classification"
        return Dataset(name=name, X=X, y=y, task_hint=task, description=description)

    return load


for _name, _desc in {
    "iris": "Fisher's iris flowers: 150 rows, 4 measurements, 3 species.",
    "wine": "Wine recognition: 178 rows, 13 chemical measurements, 3 cultivars.",
    "breast_cancer": "Wisconsin diagnostic breast cancer: 569 rows, 30 features, 2 classes.",
    "diabetes": "Diabetes progression: 442 rows, 10 baseline features, a numeric target.",
    "digits": "Handwritten digits 8x8: 1,797 rows, 64 pixel features, 10 classes.",
}.items():
    register(_name)(_sklearn_loader(_name, _desc))


def _read_table(path: Path, field_name: str) -> pd.DataFrame:
    if not path.exists():
        raise DatasetError(f"dataset.{field_name}: file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
    except Exception as exc:  # a malformed file: say which and why, no traceback
        raise DatasetError(f"dataset.{field_name}: cannot read {path}: {exc}") from exc
    raise DatasetError(
        f"dataset.{field_name}: {path.name} is not a CSV or Parquet file (.csv, .parquet)"
    )


def _split_target(frame: pd.DataFrame, target: str, field_name: str) -> tuple[pd.DataFrame, np.ndarray]:
    if target not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:12])) + (", ..." if frame.shape[1] > 12 else "")
        raise DatasetError(
            f"dataset.target: column '{target}' is not in {field_name} (columns: {shown})"
        )
    frame = frame[frame[target].notna()]
    return frame.drop(columns=[target]), frame[target].to_numpy()


def load_table(path: str | Path, target: str | None, test_path: str | Path | None = None,
               **options: Any) -> Dataset:
    """A user's own CSV or Parquet file, with an optional user-given test split.

    A `.npz` file (arrays X, y, X_test, y_test) or a folder of class subfolders of images
    needs no target; `options` may carry `image_size` for those.
    """
    from tools import paper_datasets

    if Path(path).is_dir():
        return paper_datasets.load_image_folder(path, test_path, options.get("image_size"))
    if Path(path).suffix.lower() == ".npz" and Path(path).exists():
        if test_path:
            raise DatasetError("dataset.test_path: put X_test and y_test inside the .npz file")
        return paper_datasets.load_npz(path)
    if not target:
        raise DatasetError("dataset.target: name the target column of your file")
    X, y = _split_target(_read_table(Path(path), "path"), target, str(path))
    X_test = y_test = None
    if test_path:
        X_test, y_test = _split_target(_read_table(Path(test_path), "test_path"), target, str(test_path))
        missing = set(X.columns) - set(X_test.columns)
        if missing:
            raise DatasetError(f"dataset.test_path: columns missing from the test file: {sorted(missing)}")
        X_test = X_test[X.columns]
    return Dataset(name=Path(path).stem, X=X, y=y, X_test=X_test, y_test=y_test)


def load(name: str | None = None, path: str | None = None, target: str | None = None,
         test_path: str | None = None, **options: Any) -> Dataset:
    """Load a data set by registry name or from a file path.

    `modality` (tabular | image | text | timeseries) marks a user's file; with `text`, the
    optional `text_column` names the column that holds the documents.
    """
    from tools import paper_datasets

    modality = paper_datasets.check_modality(options.pop("modality", None))
    if path:
        text_column = options.pop("text_column", None)
        unknown = sorted(set(options) - {"image_size"})
        if unknown:
            raise DatasetError(f"dataset.options: unknown option(s) for a file: {unknown}")
        ds = load_table(path, target, test_path, **options)
        if modality == "text" or text_column:
            return paper_datasets.mark_text(ds, text_column)
        if modality:
            ds.modality = modality
        return ds
    if name not in REGISTRY:
        raise DatasetError(
            f"dataset.name: unknown data set '{name}'; known: {', '.join(sorted(REGISTRY))} "
            "(or give dataset.path and dataset.target for your own file)"
        )
    loader = REGISTRY[name]
    params = inspect.signature(loader).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(options) - set(params))
        if unknown:
            raise DatasetError(
                f"dataset.options: {name} takes no option(s) {unknown}; "
                f"it takes: {', '.join(params) or 'none'}"
            )
    ds = loader(**options)
    if modality and modality != ds.modality:
        raise DatasetError(
            f"dataset.options.modality: {name} is {ds.modality} data, not {modality}"
        )
    return ds


from tools import paper_datasets as _paper_datasets  # noqa: E402, F401  (registers its loaders)
