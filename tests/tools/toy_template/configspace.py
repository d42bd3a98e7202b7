"""The toy template's space: one family, no hyperparameters worth searching."""

from ConfigSpace import Categorical, ConfigurationSpace

FAMILIES = ["nearest_centroid"]
N_ROWS = 100


def get_configspace() -> ConfigurationSpace:
    space = ConfigurationSpace(seed=0)
    space.add(Categorical("model", FAMILIES))
    return space
