"""Configuration space: multi-step forecasting of one series from lag, rolling and seasonal features.

Written by the built-in coder from an expert template. A variance-stabilising transform
of the target (square root or log for counts such as sunspots), a window of lags,
rolling means and spreads, and lags one and two seasons back feed one regressor, which
forecasts recursively (each prediction becomes the next lag).
There is deliberately no fixed-phase (sine/cosine of the season) feature: a cycle such as
the sunspots' drifts in length, and a fixed phase extrapolated decades ahead misleads
the forecast while the validation on older years rewards it.

A tree ensemble cannot forecast beyond the levels it has seen, and on a short series the
validation error of the winning trees is partly luck; `ts:blend` averages a tree model's
forecast with a ridge forecast on the same features (forecast combination, the most
reliable gain in the M-competitions).
"""

from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    Integer,
    OrConjunction,
)

# Filled in by the built-in coder from the plan and the data profile.
FAMILIES = ["ridge", "hgb", "random_forest", "extra_trees"]
N_ROWS = 279
SEASON = 11
NONNEGATIVE = True


def _only_when(cs, parent, value, *hyperparameters):
    cs.add(*hyperparameters)
    cs.add(*(EqualsCondition(hp, parent, value) for hp in hyperparameters))


def get_configspace() -> ConfigurationSpace:
    cs = ConfigurationSpace(seed=0)
    families = list(FAMILIES)
    model = Categorical("model", families, default=families[0])
    cs.add(model)
    transforms = ["none", "sqrt", "log1p"] if NONNEGATIVE else ["none"]
    max_lags = max(2, min(3 * SEASON if SEASON > 1 else 24, N_ROWS // 4))
    cs.add(
        Categorical("ts:transform", transforms, default=transforms[1] if NONNEGATIVE else "none"),
        Integer("ts:lags", (2, max_lags), default=min(max_lags, max(2, SEASON + 1))),
        Integer("ts:rolling_window", (0, max(2, min(2 * SEASON, N_ROWS // 8))), default=0),
        Categorical("ts:seasonal_lags", [True, False], default=SEASON > 1),
    )
    if "ridge" in families:
        _only_when(cs, model, "ridge", Float("ridge:alpha", (1e-3, 1e3), log=True, default=1.0))
    if "hgb" in families:
        _only_when(
            cs,
            model,
            "hgb",
            Float("hgb:learning_rate", (0.01, 0.3), log=True, default=0.05),
            Integer("hgb:max_iter", (50, 500), log=True, default=200),
            Integer("hgb:max_leaf_nodes", (4, 32), log=True, default=8),
            Integer("hgb:min_samples_leaf", (3, 30), log=True, default=10),
            Float("hgb:l2_regularization", (1e-6, 10.0), log=True, default=1e-3),
        )
    trees = [f for f in families if f != "ridge"]
    if trees:
        blend = Categorical("ts:blend", [False, True], default=False)
        cs.add(blend)
        cs.add(
            OrConjunction(*(EqualsCondition(blend, model, f) for f in trees))
            if len(trees) > 1
            else EqualsCondition(blend, model, trees[0])
        )
        _only_when(cs, blend, True, Float("blend:ridge_alpha", (1e-2, 1e2), log=True, default=1.0))
    for family in ("random_forest", "extra_trees"):
        if family in families:
            _only_when(
                cs,
                model,
                family,
                Float(f"{family}:max_features", (0.1, 1.0), default=0.5),
                Integer(f"{family}:min_samples_leaf", (1, 10), log=True, default=2),
                Integer(f"{family}:n_estimators", (50, 400), log=True, default=200),
            )
    return cs
