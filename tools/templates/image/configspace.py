"""Configuration space: image classification, a convolutional network or a classical pipeline.

Written by the built-in coder from an expert template. The network is a small VGG-style
stack (two or three stages of two 3x3 convolutions with batch norm), trained with AdamW or
SGD with Nesterov momentum under a one-cycle, cosine or constant learning-rate schedule,
with optional random affine augmentation, label smoothing and dropout. SMAC's fidelity
is the number of epochs. The classical family (PCA on pixels, then an RBF SVM or
histogram gradient boosting) is the fast alternative for tiny budgets.
"""

from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    Integer,
)

# Filled in by the built-in coder from the plan and the data profile.
FAMILIES = ["cnn", "classical"]
N_ROWS = 60000
IMAGE_SHAPE = [28, 28]


def _only_when(cs, parent, value, *hyperparameters):
    cs.add(*hyperparameters)
    cs.add(*(EqualsCondition(hp, parent, value) for hp in hyperparameters))


def get_configspace() -> ConfigurationSpace:
    cs = ConfigurationSpace(seed=0)
    families = list(FAMILIES)
    model = Categorical("model", families, default=families[0])
    cs.add(model)

    if "cnn" in families:
        optimizer = Categorical("cnn:optimizer", ["adamw", "sgd"], default="adamw")
        _only_when(
            cs,
            model,
            "cnn",
            Integer("cnn:width", (8, 32), log=True, default=16),
            Integer("cnn:stages", (2, 3), default=2),
            Integer("cnn:dense", (64, 512), log=True, default=128),
            Float("cnn:dropout", (0.0, 0.6), default=0.25),
            optimizer,
            Float("cnn:learning_rate", (1e-4, 0.3), log=True, default=3e-3),
            Float("cnn:weight_decay", (1e-6, 1e-2), log=True, default=5e-4),
            Categorical("cnn:batch_size", [64, 128, 256], default=128),
            Categorical("cnn:schedule", ["onecycle", "cosine", "constant"], default="onecycle"),
            # Whole-pixel shifts (cheap), or resampled rotations, zoom and shifts (about twice an
            # epoch's cost); horizontal flips only where they fit
            # the data (clothes yes, digits no), which the search finds out.
            Categorical("cnn:augment", ["none", "shift", "affine"], default="shift"),
            Categorical("cnn:hflip", [False, True], default=False),
            Float("cnn:label_smoothing", (0.0, 0.2), default=0.05),
        )
        momentum = Float("cnn:momentum", (0.8, 0.99), default=0.9)
        cs.add(momentum, EqualsCondition(momentum, optimizer, "sgd"))

    if "classical" in families:
        head = Categorical("classical:model", ["svm", "hgb"], default="svm")
        _only_when(
            cs,
            model,
            "classical",
            Integer("classical:pca_components", (16, 128), log=True, default=48),
            head,
        )
        svm = [
            Float("classical:svm_C", (0.1, 100.0), log=True, default=5.0),
            Float("classical:svm_gamma_scale", (0.1, 10.0), log=True, default=1.0),
        ]
        hgb = [
            Float("classical:hgb_learning_rate", (0.02, 0.5), log=True, default=0.1),
            Integer("classical:hgb_max_leaf_nodes", (8, 128), log=True, default=31),
            Integer("classical:hgb_max_iter", (50, 500), log=True, default=200),
        ]
        _only_when(cs, head, "svm", *svm)
        _only_when(cs, head, "hgb", *hgb)
    return cs
