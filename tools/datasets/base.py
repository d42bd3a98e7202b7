"""What every loader returns (`Dataset`), the registry of named data sets, the loaders' error.

Every loader returns a `Dataset`. Features are a pandas DataFrame for tabular and
text data and a numpy array for images; the target is a 1-D numpy array. When a data
set has an official test split (or the user gives `test_path`), the loader returns
it and `initialize` seals it instead of cutting one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tools.vocabulary import MODALITIES


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


def check_modality(modality: str | None) -> str | None:
    if modality is not None and modality not in MODALITIES:
        raise DatasetError(f"dataset.options.modality: '{modality}' is not one of {', '.join(MODALITIES)}")
    return modality
