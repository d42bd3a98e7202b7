"""A user's own data: a CSV or Parquet table, a `.npz` file of arrays, or a folder of images
with one subfolder per class."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tools.datasets.base import Dataset, DatasetError
from tools.errors import first_line

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


MIN_ROWS = 10  # fewer labelled rows cannot be split into training, validation and test


def _check_header(path: Path, field_name: str) -> None:
    """Duplicate column names, refused: pandas would rename a copy of the target `label.1`
    and learn from it (a perfect, leaking feature)."""
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            header = next(csv.reader(fh), [])
    except OSError:
        return
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise DatasetError(
            f"dataset.{field_name}: {path.name} has duplicate column names: {', '.join(twice)}; "
            "rename or remove the copies"
        )


def _read_table(path: Path, field_name: str, text_columns: list[str] | None = None) -> pd.DataFrame:
    if not path.exists():
        raise DatasetError(f"dataset.{field_name}: file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            _check_header(path, field_name)
            return pd.read_csv(path, dtype=dict.fromkeys(text_columns or [], str))
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
    except DatasetError:
        raise
    except Exception as exc:  # a malformed file: say which and why, no traceback
        raise DatasetError(f"dataset.{field_name}: cannot read {path}: {first_line(exc)}") from None
    raise DatasetError(f"dataset.{field_name}: {path.name} is not a CSV or Parquet file (.csv, .parquet)")


def _split_target(
    frame: pd.DataFrame, target: str, field_name: str, min_rows: int = MIN_ROWS
) -> tuple[pd.DataFrame, np.ndarray]:
    if target not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:12])) + (", ..." if frame.shape[1] > 12 else "")
        raise DatasetError(f"dataset.target: column '{target}' is not in {field_name} (columns: {shown})")
    frame = frame[frame[target].notna()]
    if len(frame) < min_rows:
        found = "no labelled rows" if frame.empty else f"only {len(frame)} labelled rows"
        raise DatasetError(
            f"dataset.target: {field_name} has {found} (rows with a value in '{target}'); "
            f"at least {min_rows} {'are' if min_rows > 1 else 'is'} needed"
        )
    return frame.drop(columns=[target]), frame[target].to_numpy()


def load_table(path: str | Path, target: str | None, test_path: str | Path | None = None, **options: Any) -> Dataset:
    """A user's own CSV or Parquet file, with an optional user-given test split.

    A `.npz` file (arrays X, y, X_test, y_test) or a folder of class subfolders of images
    needs no target; `options` may carry `image_size` for those.
    """
    if Path(path).is_dir():
        return load_image_folder(path, test_path, options.get("image_size"))
    if Path(path).suffix.lower() == ".npz" and Path(path).exists():
        if test_path:
            raise DatasetError("dataset.test_path: put X_test and y_test inside the .npz file")
        return load_npz(path)
    if not target:
        raise DatasetError("dataset.target: name the target column of your file")
    X, y = _split_target(_read_table(Path(path), "path"), target, str(path))
    X_test = y_test = None
    if test_path:
        X_test, y_test = _read_test_split(Path(test_path), target, X)
    return Dataset(name=Path(path).stem, X=X, y=y, X_test=X_test, y_test=y_test)


def _read_test_split(path: Path, target: str, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The user's test file, shaped like the training file: its text columns read as text (codes
    such as ZIP "02134" stay categories), and a numeric training column must be numeric here too,
    checked now rather than after the whole search."""
    texts = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    X_test, y_test = _split_target(_read_table(path, "test_path", texts), target, str(path), min_rows=1)
    missing = set(X.columns) - set(X_test.columns)
    if missing:
        raise DatasetError(f"dataset.test_path: columns missing from the test file: {sorted(missing)}")
    X_test = X_test[X.columns]
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    changed = [str(c) for c in numeric if not pd.api.types.is_numeric_dtype(X_test[c])]
    if changed:
        raise DatasetError(
            f"dataset.test_path: column(s) {', '.join(changed)} hold numbers in the training file "
            "but not in the test file; make them numbers in both"
        )
    return X_test, y_test


# ---------------------------------------------------------------------------------------------
# A user's own arrays and image folders (dispatched from load_table)


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {k: stored[k] for k in stored.files}
    except (OSError, ValueError) as exc:
        raise DatasetError(f"dataset.path: cannot read {path} as .npz arrays: {exc}") from exc


def _features(X: np.ndarray, key: str, path: Path) -> Any:
    if X.ndim == 2:
        return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    if X.ndim in (3, 4):
        return X
    raise DatasetError(
        f"dataset.path: {path.name}[{key!r}] has shape {X.shape}; expected rows x features "
        "(2-D) or images (n, height, width[, channels])"
    )


def load_npz(path: str | Path) -> Dataset:
    """A user's arrays: `X`, `y`, and optionally `X_test`, `y_test` (a sealed test split)."""
    path = Path(path)
    arrays = _npz_arrays(path)
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing or (("X_test" in arrays) != ("y_test" in arrays)):
        raise DatasetError(
            f"dataset.path: {path.name} must hold arrays 'X' and 'y' (and optionally both "
            f"'X_test' and 'y_test'); it holds {sorted(arrays)}"
        )
    pairs = [("X", "y")] + ([("X_test", "y_test")] if "X_test" in arrays else [])
    for xk, yk in pairs:
        if len(arrays[xk]) != len(arrays[yk]) or arrays[yk].ndim != 1:
            raise DatasetError(
                f"dataset.path: {path.name}: '{yk}' must be 1-D with one label per row of "
                f"'{xk}' (shapes {arrays[xk].shape} and {arrays[yk].shape})"
            )
    X = _features(arrays["X"], "X", path)
    X_test = _features(arrays["X_test"], "X_test", path) if "X_test" in arrays else None
    if X_test is not None and np.shape(X_test)[1:] != np.shape(X)[1:]:
        raise DatasetError(
            f"dataset.path: {path.name}: 'X_test' rows have shape {np.shape(X_test)[1:]}, 'X' rows {np.shape(X)[1:]}"
        )
    return Dataset(
        name=path.stem,
        X=X,
        y=arrays["y"],
        X_test=X_test,
        y_test=arrays.get("y_test"),
        modality="image" if isinstance(X, np.ndarray) else "tabular",
        description=f"User arrays from {path.name}.",
    )


def _read_image_folder(
    folder: Path, field_name: str, size: tuple[int, int] | None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from PIL import Image, UnidentifiedImageError

    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = [
        (c, f)
        for c in classes
        for f in sorted((folder / c).iterdir())
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise DatasetError(
            f"dataset.{field_name}: {folder} has no PNG or JPEG images in class subfolders "
            "(expected one subfolder per class, e.g. cats/001.png)"
        )
    images, labels = [], []
    for label, file in files:
        try:
            with Image.open(file) as img:
                img = img.convert("L" if img.mode in ("1", "L", "I;16", "I") else "RGB")
                if size is not None:
                    img = img.resize((size[1], size[0]))
                images.append(np.asarray(img, dtype=np.uint8))
        except (OSError, UnidentifiedImageError) as exc:
            raise DatasetError(f"dataset.{field_name}: cannot read image {file}: {exc}") from exc
        labels.append(label)
    shapes = {a.shape for a in images}
    if len(shapes) > 1:
        if len({s[:2] for s in shapes}) == 1:  # a mix of gray and colour: make all colour
            images = [a if a.ndim == 3 else np.stack([a] * 3, axis=-1) for a in images]
        else:
            raise DatasetError(
                f"dataset.{field_name}: images in {folder} differ in size "
                f"({', '.join(sorted({f'{s[0]}x{s[1]}' for s in shapes})[:4])}); "
                "set dataset.options.image_size: [height, width] to resize them"
            )
    return np.stack(images), np.asarray(labels, dtype=object), classes


def load_image_folder(
    path: str | Path, test_path: str | Path | None = None, image_size: Sequence[int] | None = None
) -> Dataset:
    """A user's image folder: one subfolder per class, PNG/JPEG files; labels are folder names."""
    size = None
    if image_size is not None:
        if len(image_size) != 2 or not all(isinstance(v, int) and v > 0 for v in image_size):
            raise DatasetError(f"dataset.options.image_size: expected [height, width], got {image_size!r}")
        size = (int(image_size[0]), int(image_size[1]))
    X, y, classes = _read_image_folder(Path(path), "path", size)
    X_test = y_test = None
    if test_path:
        test_folder = Path(test_path)
        if not test_folder.is_dir():
            raise DatasetError(f"dataset.test_path: {test_folder} is not a folder of class subfolders")
        X_test, y_test, _ = _read_image_folder(test_folder, "test_path", size or X.shape[1:3])
        unknown = sorted(set(y_test) - set(classes))
        if unknown:
            raise DatasetError(f"dataset.test_path: classes not in the training folder: {unknown}")
        if X_test.shape[1:] != X.shape[1:]:
            raise DatasetError(
                f"dataset.test_path: test images are {X_test.shape[1:]}, training images "
                f"{X.shape[1:]}; make them alike (gray or colour)"
            )
    return Dataset(
        name=Path(path).name,
        X=X,
        y=y,
        X_test=X_test,
        y_test=y_test,
        modality="image",
        task_hint="classification",
        description=f"User image folder {path}.",
        extra={"classes": classes, "image_shape": list(X.shape[1:])},
    )


def mark_text(ds: Dataset, text_column: str | None = None) -> Dataset:
    """Mark a user's table as text: record which column holds the text."""
    if not isinstance(ds.X, pd.DataFrame):
        raise DatasetError("dataset.options.modality: text needs a table (CSV or Parquet) with a text column")
    if text_column is None:
        strings = [c for c in ds.X.columns if not pd.api.types.is_numeric_dtype(ds.X[c])]
        if not strings:
            raise DatasetError(
                "dataset.options.modality: text, but the file has no text column; set dataset.options.text_column"
            )
        # the column with the longest texts on average is the document, others are metadata
        text_column = max(strings, key=lambda c: ds.X[c].astype(str).str.len().mean())
    elif text_column not in ds.X.columns:
        raise DatasetError(
            f"dataset.options.text_column: column '{text_column}' is not in the file "
            f"(columns: {', '.join(map(str, ds.X.columns[:12]))})"
        )
    ds.modality = "text"
    ds.extra["text_column"] = text_column
    return ds
