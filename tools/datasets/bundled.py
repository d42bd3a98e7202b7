"""scikit-learn's bundled data sets: they load with no network."""

from __future__ import annotations

from typing import Any

import numpy as np

from tools.datasets.base import Dataset, Loader, register


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
