"""Training function: image classification with a CNN (PyTorch, CPU) or PCA + SVM / boosting.

Written by the built-in coder from an expert template. Contract (checked by the verifier):

    train(config, data, seed=0, budget=None) -> {"loss": float, "score": float, ...}
        budget = epochs (SMAC's fidelity). For cost, validation is one stratified holdout
        split inside the training split (VALID_SHARE of it, at most VALID_ROWS images), not
        k-fold: a network trained k times would cost k times the search. Search trials train
        on at most SEARCH_ROWS images of the rest; the loss is on the holdout images.
    fit(config, data, seed=0) -> model        trained on all of `data` for FINAL_EPOCHS epochs
    predict(model, X) -> labels                one per image
    predict_proba(model, X) -> probabilities   classes in sorted order

`data.X` is uint8 or float images, (n, height, width) or (n, height, width, channels).
Threads follow the sandbox's CPU share (OMP_NUM_THREADS).
"""

import math
import os
import pickle
import time

import numpy as np
from sklearn import metrics as skm
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

# Filled in by the built-in coder from the plan and the data profile.
MAX_EPOCHS = 6
FINAL_EPOCHS = 6
SEARCH_ROWS = 10000
VALID_SHARE = 0.15
VALID_ROWS = 5000
PROBABILITY_ROWS = 15000  # above this, an SVM's probabilities (5x its cost) are skipped
EVAL_BATCH = 1000


def _torch():
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    return torch


def _as_images(X):
    """(n, channels, height, width) float32 in [0, 1]."""
    X = np.asarray(X)
    if X.ndim == 2:  # flat pixels of square gray images
        side = int(round(math.sqrt(X.shape[1])))
        X = X.reshape(len(X), side, side)
    if X.ndim == 3:
        X = X[:, None, :, :]
    elif X.ndim == 4 and X.shape[-1] in (1, 3, 4) and X.shape[1] not in (1, 3, 4):
        X = X.transpose(0, 3, 1, 2)
    X = X.astype(np.float32)
    if X.max(initial=0) > 1.5:
        X /= 255.0
    return X


def _encode(y, classes):
    classes = np.asarray(classes)
    return np.searchsorted(classes, np.asarray(y)).astype(np.int64)


def _classes(data):
    return np.asarray(data.info.get("classes") or sorted(np.unique(data.y).tolist()))


# ---- the network ----------------------------------------------------------------------


def _network(torch, config, shape, n_classes):
    nn = torch.nn
    layers, channels = [], shape[0]
    width = int(config["cnn:width"])
    height, breadth = shape[1], shape[2]
    for stage in range(int(config["cnn:stages"])):
        out = width * 2**stage
        for _ in range(2):
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            channels = out
        if min(height, breadth) >= 4:
            layers.append(nn.MaxPool2d(2))
            height, breadth = height // 2, breadth // 2
    layers += [
        nn.Flatten(),
        nn.Dropout(float(config["cnn:dropout"])),
        nn.Linear(channels * height * breadth, int(config["cnn:dense"])),
        nn.ReLU(inplace=True),
        nn.Dropout(float(config["cnn:dropout"]) / 2),
        nn.Linear(int(config["cnn:dense"]), n_classes),
    ]
    return nn.Sequential(*layers)


def _shift(torch, batch, generator, pixels=2, groups=8):
    """Random whole-pixel shifts, one per group of the batch: slicing, no resampling."""
    height, width = batch.shape[2:]
    padded = torch.nn.functional.pad(batch, (pixels, pixels, pixels, pixels))
    out = torch.empty_like(batch)
    for idx in torch.arange(len(batch)).chunk(groups):
        dx, dy = torch.randint(0, 2 * pixels + 1, (2,), generator=generator).tolist()
        out[idx] = padded[idx, :, dy : dy + height, dx : dx + width]
    return out


def _augment(torch, batch, config, generator):
    kind, flip = config.get("cnn:augment", "none"), bool(config.get("cnn:hflip", False))
    n, _, height, width = batch.shape
    if flip:
        mask = torch.rand(n, generator=generator) < 0.5
        batch = torch.where(mask[:, None, None, None], batch.flip(3), batch)
    if kind == "shift":
        return _shift(torch, batch, generator)
    if kind != "affine":
        return batch
    # Rotation up to 10 degrees, zoom up to 10 %, shifts up to two pixels: resampled, so
    # about twice the cost of an epoch without it.
    shift = 2.0 * 2.0 / max(height, width)  # two pixels in the [-1, 1] grid
    tx = (torch.rand(n, generator=generator) * 2 - 1) * shift
    ty = (torch.rand(n, generator=generator) * 2 - 1) * shift
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(10)
    scale = 1 + (torch.rand(n, generator=generator) * 2 - 1) * 0.1
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = torch.nn.functional.affine_grid(theta, list(batch.shape), align_corners=False)
    return torch.nn.functional.grid_sample(batch, grid, padding_mode="zeros", align_corners=False)


class CNNModel:
    """A trained network with its input normalization and class labels."""

    def __init__(self, network, mean, std, classes):
        self.network, self.mean, self.std, self.classes = network, mean, std, classes

    def probabilities(self, X):
        torch = _torch()
        images = (_as_images(X) - self.mean) / self.std
        self.network.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(images), EVAL_BATCH):
                logits = self.network(torch.from_numpy(images[start : start + EVAL_BATCH]))
                out.append(torch.softmax(logits, 1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)))


def _fit_cnn(config, images, labels, classes, epochs, seed):
    torch = _torch()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    mean, std = float(images.mean()), float(images.std()) or 1.0
    X = torch.from_numpy((images - mean) / std)
    y = torch.from_numpy(labels)
    network = _network(torch, config, images.shape[1:], len(classes))
    lr, decay = float(config["cnn:learning_rate"]), float(config["cnn:weight_decay"])
    if config["cnn:optimizer"] == "sgd":
        optimizer = torch.optim.SGD(
            network.parameters(), lr=lr, weight_decay=decay, momentum=float(config["cnn:momentum"]), nesterov=True
        )
    else:
        optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=decay)
    batch = int(config["cnn:batch_size"])
    steps_per_epoch = max(1, math.ceil(len(X) / batch))
    total = steps_per_epoch * epochs
    schedule = config["cnn:schedule"]
    if schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total)
    elif schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    else:
        scheduler = None
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=float(config["cnn:label_smoothing"]))
    network.train()
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for step in range(steps_per_epoch):
            idx = order[step * batch : (step + 1) * batch]
            if len(idx) < 2:  # batch norm needs two images
                continue
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(network(_augment(torch, X[idx], config, generator)), y[idx])
            if not torch.isfinite(loss):
                raise FloatingPointError("the training loss diverged (learning rate too high?)")
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    return CNNModel(network, mean, std, classes)


# ---- the classical pipeline -----------------------------------------------------------


class ClassicalModel:
    """PCA on pixels, then an RBF SVM or histogram gradient boosting."""

    def __init__(self, config, classes, seed, probability):
        self.config, self.classes, self.seed, self.probability = config, classes, seed, probability

    def fit(self, images, labels):
        flat = images.reshape(len(images), -1)
        n_components = int(min(self.config["classical:pca_components"], flat.shape[1], len(flat) - 1))
        self.pca = PCA(n_components=max(1, n_components), random_state=self.seed).fit(flat)
        Z = self.pca.transform(flat)
        if self.config["classical:model"] == "svm":
            gamma = float(self.config["classical:svm_gamma_scale"]) / (Z.shape[1] * Z.var() or 1.0)
            self.model = SVC(
                C=float(self.config["classical:svm_C"]),
                gamma=gamma,
                cache_size=1000,
                probability=self.probability,
                random_state=self.seed,
            )
        else:
            self.model = HistGradientBoostingClassifier(
                learning_rate=float(self.config["classical:hgb_learning_rate"]),
                max_leaf_nodes=int(self.config["classical:hgb_max_leaf_nodes"]),
                max_iter=int(self.config["classical:hgb_max_iter"]),
                early_stopping=len(Z) > 10000,
                random_state=self.seed,
            )
        self.model.fit(Z, labels)
        return self

    def probabilities(self, X):
        if not hasattr(self.model, "predict_proba") or (isinstance(self.model, SVC) and not self.probability):
            return None
        images = _as_images(X)
        proba = self.model.predict_proba(self.pca.transform(images.reshape(len(images), -1)))
        full = np.zeros((len(images), len(self.classes)))
        full[:, self.model.classes_] = proba
        return full

    def labels(self, X):
        images = _as_images(X)
        return self.model.predict(self.pca.transform(images.reshape(len(images), -1)))


def _fit_any(config, images, labels, classes, epochs, seed, probability=True):
    if config["model"] == "cnn":
        return _fit_cnn(config, images, labels, classes, epochs, seed)
    return ClassicalModel(config, classes, seed, probability).fit(images, labels)


# ---- the contract ---------------------------------------------------------------------


def _holdout_loss(metric, truth, proba, pred, n_classes):
    if metric == "log_loss":
        score = skm.log_loss(truth, np.clip(proba, 1e-15, 1), labels=list(range(n_classes)))
        return score, score
    if metric == "roc_auc":
        score = (
            skm.roc_auc_score(truth, proba[:, 1])
            if n_classes == 2
            else skm.roc_auc_score(truth, proba, multi_class="ovr", labels=list(range(n_classes)))
        )
    elif metric == "balanced_accuracy":
        score = skm.balanced_accuracy_score(truth, pred)
    elif metric == "f1_macro":
        score = skm.f1_score(truth, pred, average="macro")
    else:
        score = skm.accuracy_score(truth, pred)
    return 1.0 - score, score


def train(config, data, seed=0, budget=None):
    started = time.perf_counter()
    info, classes = data.info, _classes(data)
    images, labels = _as_images(data.X), _encode(data.y, classes)
    n_valid = int(min(VALID_ROWS, max(len(classes) * 2, round(len(labels) * VALID_SHARE))))
    stratify = labels if np.bincount(labels).min() >= 2 else None
    fit_idx, valid_idx = train_test_split(
        np.arange(len(labels)), test_size=n_valid, random_state=seed, stratify=stratify
    )
    epochs = MAX_EPOCHS if budget is None else max(1, int(round(float(budget))))
    share = 1.0
    if config["model"] == "classical" and budget is not None:
        share = min(1.0, float(budget) / MAX_EPOCHS)  # its fidelity is the share of images
    keep = min(len(fit_idx), SEARCH_ROWS, max(len(classes) * 2, int(len(fit_idx) * share)))
    if keep < len(fit_idx):
        fit_idx, _ = train_test_split(
            fit_idx, train_size=keep, random_state=seed, stratify=labels[fit_idx] if stratify is not None else None
        )
    model = _fit_any(
        config,
        images[fit_idx],
        labels[fit_idx],
        classes,
        epochs,
        seed,
        probability=info.get("metric") in ("log_loss", "roc_auc"),
    )
    truth = labels[valid_idx]
    if isinstance(model, CNNModel):
        proba = model.probabilities(images[valid_idx])
        pred = proba.argmax(1)
    else:
        pred = model.labels(images[valid_idx])
        proba = model.probabilities(images[valid_idx])
    loss, score = _holdout_loss(info.get("metric", "accuracy"), truth, proba, pred, len(classes))
    train_seconds = time.perf_counter() - started
    return {
        "loss": float(loss),
        "score": float(score),
        "validation": f"holdout of {len(valid_idx)} images; trained on {len(fit_idx)}",
        "epochs": epochs if config["model"] == "cnn" else None,
        "train_seconds": train_seconds,
        **_costs(model, images[valid_idx], list(info.get("objectives", []))),
    }


LATENCY_REPEATS = 3  # the fastest of a few timings: the machine is shared, noise only adds
LATENCY_ROWS = 1000  # one batch of this many images is timed


def _costs(model, held_out, objectives):
    """The run's extra objectives, measured here in the sandbox: milliseconds to predict
    1,000 held-out images (repeated to 1,000 when fewer; the fastest of a few timings) and
    the bytes of the pickled model."""
    costs = {}
    if "predict_latency" in objectives:
        batch = held_out[np.resize(np.arange(len(held_out)), LATENCY_ROWS)]
        best = float("inf")
        for _ in range(LATENCY_REPEATS):
            timed = time.perf_counter()
            predict(model, batch)
            best = min(best, time.perf_counter() - timed)
        costs["predict_latency"] = best * 1000 * 1000 / LATENCY_ROWS
    if "model_size" in objectives:
        costs["model_size"] = float(len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)))
    return costs


def fit(config, data, seed=0):
    classes = _classes(data)
    images, labels = _as_images(data.X), _encode(data.y, classes)
    probability = len(labels) <= PROBABILITY_ROWS
    return _fit_any(config, images, labels, classes, FINAL_EPOCHS, seed, probability)


def predict(model, X):
    if isinstance(model, CNNModel):
        return model.classes[model.probabilities(X).argmax(1)]
    return model.classes[model.labels(X)]


def predict_proba(model, X):
    return model.probabilities(X)
