"""Ensemble selection on out-of-fold predictions: never worse than its best member on CV, and
its predictions are the weighted vote or average of its members'."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from tools.ensemble import (
    OutOfFoldStore,
    blend,
    combine,
    cross_fitted,
    greedy_weights,
    oof_loss,
    predictions_problem,
)


def noisy_votes(y: np.ndarray, n_classes: int, accuracy: float, seed: int) -> np.ndarray:
    """Probabilities of a classifier that is right on about `accuracy` of the rows, its errors
    independent of other members' (seeded)."""
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(len(y)) < accuracy, y, rng.integers(0, n_classes, len(y)))
    proba = np.full((len(y), n_classes), 0.1 / (n_classes - 1))
    proba[np.arange(len(y)), labels] = 0.9
    return proba


@pytest.mark.parametrize("metric", ["accuracy", "log_loss", "balanced_accuracy", "roc_auc"])
def test_the_ensemble_is_never_worse_than_its_best_member(metric):
    y = np.random.default_rng(0).integers(0, 3, 600)
    members = [noisy_votes(y, 3, accuracy, seed) for seed, accuracy in enumerate([0.8, 0.78, 0.75, 0.6])]
    weights = greedy_weights(members, y, metric)
    assert weights.sum() == pytest.approx(1.0) and (weights >= 0).all()
    best_single = min(oof_loss(metric, y, p) for p in members)
    ensemble = oof_loss(metric, y, blend(members, weights))
    assert ensemble <= best_single
    if metric == "accuracy":  # independent errors: voting helps clearly
        assert ensemble < best_single - 0.02 and (weights > 0).sum() >= 2


def test_regression_members_are_averaged():
    rng = np.random.default_rng(1)
    y = rng.normal(size=400)
    members = [y + rng.normal(scale=0.5, size=400) for _ in range(3)]
    weights = greedy_weights(members, y, "rmse")
    assert oof_loss("rmse", y, blend(members, weights)) < min(oof_loss("rmse", y, p) for p in members)


def test_deployed_predictions_are_the_weighted_vote_of_the_members():
    classes = ["cat", "dog"]
    results = [
        {"y_pred": ["cat", "cat"], "y_proba": [[0.6, 0.4], [0.9, 0.1]]},
        {"y_pred": ["dog", "cat"], "y_proba": [[0.2, 0.8], [0.7, 0.3]]},
        {"y_pred": ["dog", "dog"], "y_proba": None},
    ]  # no probabilities: votes for its labels
    labels, proba = combine(results, [0.5, 0.25, 0.25], classes)
    expected = (
        0.5 * np.array([[0.6, 0.4], [0.9, 0.1]])
        + 0.25 * np.array([[0.2, 0.8], [0.7, 0.3]])
        + 0.25 * np.array([[0, 1], [0, 1]])
    )
    assert np.allclose(proba, expected) and labels.tolist() == ["dog", "cat"]
    values, none = combine([{"y_pred": [1.0, 2.0]}, {"y_pred": [3.0, 6.0]}], [0.75, 0.25], None)
    assert values.tolist() == [1.5, 3.0] and none is None


def test_the_store_keeps_the_best_trials_as_plain_arrays(tmp_path):
    store = OutOfFoldStore(tmp_path / "oof", keep=2)
    for loss in (0.3, 0.1, 0.2, 0.4):
        store.add({"model": "m", "loss_was": loss}, loss, np.full(5, loss))
    members = store.members()
    assert [m.loss for m in members] == [0.1, 0.2]
    assert len(list((tmp_path / "oof").glob("*.npy"))) == 2
    for path in (tmp_path / "oof").glob("*.npy"):
        np.load(path, allow_pickle=False)  # numbers only: loads without pickle
    again = OutOfFoldStore(tmp_path / "oof", keep=2)  # a resumed run finds them
    assert [m.config["loss_was"] for m in again.members()] == [0.1, 0.2]


@pytest.mark.parametrize(
    ("predictions", "problem"),
    [
        ([[0.5, 0.5]] * 3, None),
        ([[0.5, 0.5]] * 2, "shape"),
        ([["a", "b"]] * 3, "not numbers"),
        ([[float("nan"), 1.0]] * 3, "not finite"),
    ],
)
def test_predictions_from_the_sandbox_are_checked(predictions, problem):
    array, found = predictions_problem(predictions, n_rows=3, n_classes=2)
    assert (found is None) if problem is None else (problem in found and array is None)


def test_cross_fitting_shows_what_selection_on_noise_is_worth():
    """Members that know nothing: greedy selection still finds a blend that looks better than
    chance on the rows it was chosen on; chosen on one half and scored on the other, it does not."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    members = [np.column_stack([p, 1 - p]) for p in rng.random((25, 400))]
    weights = greedy_weights(members, y, "accuracy")
    in_sample = oof_loss("accuracy", y, blend(members, weights))
    ensemble, single = cross_fitted(members, y, "accuracy")
    assert in_sample < 0.42  # looks like 58% accuracy or better
    assert ensemble > 0.45 and single > 0.45  # about chance on rows the choice did not see
    # With members that do know something, the cross-fitted ensemble keeps its advantage.
    y3 = rng.integers(0, 3, 600)
    good = [noisy_votes(y3, 3, accuracy, seed) for seed, accuracy in enumerate([0.8, 0.78, 0.75, 0.6])]
    ensemble, single = cross_fitted(good, y3, "accuracy")
    assert ensemble < single - 0.02


def test_the_selection_losses_are_scikit_learns():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    y[:5] = 2  # class 2 is in y ...
    proba = rng.dirichlet(np.ones(3), 300)
    proba[:, 2] = 0.0  # ... but never predicted; and probabilities of exactly 0 are clipped
    proba /= proba.sum(axis=1, keepdims=True)
    labels = proba.argmax(axis=1)
    assert oof_loss("accuracy", y, proba) == pytest.approx(1 - skm.accuracy_score(y, labels), abs=1e-12)
    assert oof_loss("balanced_accuracy", y, proba) == pytest.approx(
        1 - skm.balanced_accuracy_score(y, labels), abs=1e-12
    )
    assert oof_loss("log_loss", y, proba) == pytest.approx(
        skm.log_loss(y, np.clip(proba, 1e-15, 1), labels=[0, 1, 2]), abs=1e-12
    )
    values, truth = rng.normal(size=300), rng.normal(size=300)
    assert oof_loss("r2", truth, values) == pytest.approx(1 - skm.r2_score(truth, values), abs=1e-12)
    assert oof_loss("rmse", truth, values) == pytest.approx(skm.root_mean_squared_error(truth, values), abs=1e-12)
    assert oof_loss("mae", truth, values) == pytest.approx(skm.mean_absolute_error(truth, values), abs=1e-12)
    assert oof_loss("r2", np.ones(10), np.ones(10)) == 1 - skm.r2_score(np.ones(10), np.ones(10))
