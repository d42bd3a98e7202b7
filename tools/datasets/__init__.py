"""Datasets: one registry for bundled data sets and a user's own files.

    base.py      Dataset, DatasetError, the registry
    bundled.py   scikit-learn's bundled sets (iris, wine, breast_cancer, diabetes, digits)
    paper.py     the paper's sets that ship inside pinned packages (mnist, adult, sunspots, ...)
    files.py     a user's CSV / Parquet table, .npz arrays or image folder

Every loader returns a `Dataset`. When a data set has an official test split (or the user
gives `test_path`), the loader returns it and `initialize` seals it instead of cutting one.
"""

from __future__ import annotations

import inspect
from typing import Any

from tools.datasets import bundled, paper  # noqa: F401  (they register their loaders)
from tools.datasets.base import REGISTRY, Dataset, DatasetError, check_modality, register
from tools.datasets.files import load_table, mark_text

__all__ = ["REGISTRY", "Dataset", "DatasetError", "load", "register"]


def load(
    name: str | None = None,
    path: str | None = None,
    target: str | None = None,
    test_path: str | None = None,
    **options: Any,
) -> Dataset:
    """Load a data set by registry name or from a file path.

    `modality` (tabular | image | text | timeseries) marks a user's file; with `text`, the
    optional `text_column` names the column that holds the documents.
    """
    modality = check_modality(options.pop("modality", None))
    if path:
        text_column = options.pop("text_column", None)
        unknown = sorted(set(options) - {"image_size"})
        if unknown:
            raise DatasetError(f"dataset.options: unknown option(s) for a file: {unknown}")
        ds = load_table(path, target, test_path, **options)
        if modality == "text" or text_column:
            return mark_text(ds, text_column)
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
                f"dataset.options: {name} takes no option(s) {unknown}; it takes: {', '.join(params) or 'none'}"
            )
    ds = loader(**options)
    if modality and modality != ds.modality:
        raise DatasetError(f"dataset.options.modality: {name} is {ds.modality} data, not {modality}")
    return ds
