"""Ensemble selection (Caruana et al., 2004) on the search's out-of-fold predictions.

Each full-fidelity trial of a template that offers them returns its out-of-fold predictions:
for every training row, the prediction of the fold model that did not see it (class
probabilities, or values). The host keeps those of the best trials as `.npy` files (numbers
only, read back with allow_pickle=False), bounded in number. At deploy, a greedy selection
with replacement adds, round by round, the member whose addition most lowers the
ensemble's loss on those predictions; the weights are how often each was picked. The
ensemble is deployed only if its loss beats the single best trial's, computed the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn import metrics as skm

from tools.runfolder import SANDBOX_FINAL_TRAIN, SANDBOX_MODEL
from tools.vocabulary import higher_is_better

MEMBER_ARTIFACT = re.compile(r"model(-[0-9]+)?\.pkl")
KEEP = 25  # trials whose predictions are kept on disk (the best by CV loss)
ROUNDS = 25  # greedy selection rounds: weights are multiples of 1/ROUNDS


def oof_loss(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    """The run's loss (1 - score, or the error) of predictions for every training row. For a
    classification, `y` holds class indices and `pred` probabilities (rows sum to one).

    The greedy selection asks this about 1,300 times per ensemble and twice as often for its
    cross-fitted check, so the common metrics are plain numpy: scikit-learn's input checks
    cost about 2 ms a call, which made deploy's selection 8 s of a 60 s run on 426 rows. The
    numbers are scikit-learn's (tests/tools/test_ensemble.py compares them)."""
    if pred.ndim == 2:
        labels = pred.argmax(axis=1)
        if metric == "accuracy":
            score = np.mean(labels == y)
        elif metric == "balanced_accuracy":  # the mean recall over the classes present in y
            score = np.mean([np.mean(labels[y == c] == c) for c in np.unique(y)])
        elif metric == "f1_macro":
            score = skm.f1_score(y, labels, average="macro")
        elif metric == "roc_auc":
            score = (
                skm.roc_auc_score(y, pred[:, 1])
                if pred.shape[1] == 2
                else skm.roc_auc_score(y, pred, multi_class="ovr", labels=range(pred.shape[1]))
            )
        elif metric == "log_loss":  # clipped as scikit-learn clips, and at 1e-15 as before
            picked = np.clip(pred[np.arange(len(y)), y.astype(int)], 1e-15, 1 - np.finfo(float).eps)
            return float(-np.mean(np.log(picked)))
        else:
            raise ValueError(f"no out-of-fold loss for {metric}")
    else:
        errors = np.asarray(y, dtype=float) - pred
        if metric == "r2":
            spread = np.sum((y - np.mean(y)) ** 2)
            score = 1.0 - np.sum(errors**2) / spread if spread > 0 else skm.r2_score(y, pred)
        elif metric == "rmse":
            return float(np.sqrt(np.mean(errors**2)))
        elif metric == "mae":
            return float(np.mean(np.abs(errors)))
        else:
            raise ValueError(f"no out-of-fold loss for {metric}")
    return 1.0 - float(score) if higher_is_better(metric) else float(score)


def greedy_weights(predictions: list[np.ndarray], y: np.ndarray, metric: str, rounds: int = ROUNDS) -> np.ndarray:
    """Caruana's forward selection with replacement; returns weights summing to one."""
    counts = np.zeros(len(predictions))
    total = np.zeros_like(predictions[0], dtype=float)
    # A count metric (accuracy, ...) is flat for most single additions and would leave the
    # selection stuck at its first member: ties go to the better log loss, which moves.
    tie_break = "log_loss" if predictions[0].ndim == 2 and metric != "log_loss" else None
    for n in range(1, rounds + 1):
        blends = [(total + p) / n for p in predictions]
        losses = [(round(oof_loss(metric, y, b), 12), oof_loss(tie_break, y, b) if tie_break else 0.0) for b in blends]
        best = min(range(len(losses)), key=losses.__getitem__)  # full ties: the earlier (better single) member
        counts[best] += 1
        total += predictions[best]
    return counts / counts.sum()


def cross_fitted(predictions: list[np.ndarray], y: np.ndarray, metric: str, seed: int = 0) -> tuple[float, float]:
    """(ensemble loss, single-best loss), each chosen on one half of the rows and scored on
    the other, then the halves swapped: what the selection is worth on rows it did not see.
    The ensemble's CV on the rows it was chosen on is optimistic (greedy selection fits the
    noise of those predictions), and so, less, is the best of many trials' CV."""
    halves = np.array_split(np.random.default_rng(seed).permutation(len(y)), 2)
    ensemble = np.zeros_like(predictions[0], dtype=float)
    single = np.zeros_like(predictions[0], dtype=float)
    for chosen_on, scored_on in (halves, halves[::-1]):
        part = [p[chosen_on] for p in predictions]
        weights = greedy_weights(part, y[chosen_on], metric)
        ensemble[scored_on] = blend([p[scored_on] for p in predictions], weights)
        best = min(range(len(part)), key=lambda i: oof_loss(metric, y[chosen_on], part[i]))
        single[scored_on] = predictions[best][scored_on]
    return oof_loss(metric, y, ensemble), oof_loss(metric, y, single)


def blend(predictions: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    return sum(w * p for w, p in zip(weights, predictions, strict=True))


def member_artifact(number: int, members: int) -> str:
    """A single model's artifact, or an ensemble member's."""
    return SANDBOX_MODEL if members == 1 else f"model-{number}.pkl"


def combine(results: list[dict], weights: list[float], classes: list | None) -> tuple[np.ndarray, list | None]:
    """The weighted vote (probabilities) or average (values) of the members' predictions."""
    if classes is None:
        return blend([np.asarray(r["y_pred"], dtype=float) for r in results], np.asarray(weights)), None
    probabilities = []
    for r in results:
        if r.get("y_proba") is not None:
            probabilities.append(np.asarray(r["y_proba"], dtype=float))
        else:  # a member without probabilities votes for its label
            probabilities.append((np.asarray(r["y_pred"])[:, None] == np.asarray(classes)[None, :]).astype(float))
    proba = blend(probabilities, np.asarray(weights))
    return np.asarray(classes)[proba.argmax(axis=1)], proba.tolist()


@dataclass
class Member:
    config: dict
    loss: float  # the trial's CV loss as the search saw it
    predictions: np.ndarray  # out of fold
    seconds: float | None = None  # the trial's wall time (what its refit will cost, roughly)
    module: str = SANDBOX_FINAL_TRAIN  # the training function that fits it (nodes/alongside.py)


class OutOfFoldStore:
    """The out-of-fold predictions of the best trials, as `<folder>/<key>.npy` plus an index."""

    def __init__(self, folder: Path, keep: int = KEEP):
        self.folder, self.keep = Path(folder), keep
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    @property
    def _index(self) -> Path:
        return self.folder / "index.json"

    def entries(self) -> list[dict]:
        return json.loads(self._index.read_text()) if self._index.exists() else []

    def add(
        self,
        config: dict,
        loss: float,
        predictions: np.ndarray,
        seconds: float | None = None,
        module: str = SANDBOX_FINAL_TRAIN,
    ) -> None:
        named = (
            json.dumps([module, config], sort_keys=True)
            if module != SANDBOX_FINAL_TRAIN
            else json.dumps(config, sort_keys=True)
        )
        key = hashlib.sha1(named.encode()).hexdigest()[:16]
        with self._lock:
            entries = [e for e in self.entries() if e["key"] != key]
            np.save(self.folder / f"{key}.npy", predictions, allow_pickle=False)
            entries.append({"key": key, "loss": loss, "config": config, "seconds": seconds, "module": module})
            entries.sort(key=lambda e: e["loss"])
            for dropped in entries[self.keep :]:
                (self.folder / f"{dropped['key']}.npy").unlink(missing_ok=True)
            tmp = self._index.with_suffix(".tmp")
            tmp.write_text(json.dumps(entries[: self.keep], indent=1))
            tmp.replace(self._index)  # a kill never leaves half an index

    def members(self) -> list[Member]:
        """The kept trials, best first, with their predictions."""
        return [
            Member(
                e["config"],
                e["loss"],
                np.load(self.folder / f"{e['key']}.npy", allow_pickle=False),
                e.get("seconds"),
                e.get("module", SANDBOX_FINAL_TRAIN),
            )
            for e in self.entries()
            if (self.folder / f"{e['key']}.npy").exists()
        ]


def predictions_problem(predictions, n_rows: int, n_classes: int | None) -> tuple[np.ndarray | None, str | None]:
    """Out-of-fold predictions as a float array of the right shape, or why they cannot be used."""
    try:
        array = np.asarray(predictions, dtype=float)
    except (TypeError, ValueError):
        return None, "not numbers"
    shape = (n_rows, n_classes) if n_classes else (n_rows,)
    if array.shape != shape:
        return None, f"shape {array.shape}, expected {shape}"
    if not np.all(np.isfinite(array)):
        return None, "not finite"
    return array, None
