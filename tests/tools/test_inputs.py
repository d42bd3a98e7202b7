"""The one input check: bad input in one line, and the data it loaded is not loaded again."""

from __future__ import annotations

import pytest

from graph.config import parse_config
from tools import inputs
from tools.errors import ConfigError


def test_initialize_takes_the_data_the_check_loaded_once(iris_config):
    checked = inputs.check(iris_config)
    assert inputs.prepare(iris_config) is checked  # taken, not loaded again
    again = inputs.prepare(iris_config)  # nothing kept any more: loaded anew, same split
    assert again is not checked and again.y_test.tolist() == checked.y_test.tolist()


def test_another_config_does_not_take_the_checked_data(iris_config):
    inputs.check(iris_config)
    other = parse_config({"name": "iris", "seed": 1, "dataset": {"name": "iris"}})
    assert inputs.prepare(other).split.endswith("(seed 1)")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"metric": "r2"}, "metric: 'r2' does not fit a classification task; use one of accuracy"),
        ({"optimizer": {"families": ["cnn"]}}, "optimizer.families: none of cnn is offered for this tabular data"),
        ({"dataset": {"name": "iris", "task": "regression"}, "metric": "r2"}, None),
    ],
)
def test_bad_input_is_one_line(data, message):
    config = parse_config({"name": "iris", "dataset": {"name": "iris"}, **data})
    if message is None:
        assert inputs.check(config).task == "regression"
        return
    with pytest.raises(ConfigError) as error:
        inputs.check(config)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
