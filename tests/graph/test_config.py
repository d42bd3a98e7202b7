"""Run configuration: every mistake a user can make gets one line, the field, exit code 2."""

from __future__ import annotations

import pytest

from graph.config import ConfigError, load_config, parse_config
from graph.run import main

IRIS = {"dataset": {"name": "iris"}}


def test_defaults_fill_in_and_name_comes_from_the_file(tmp_path):
    path = tmp_path / "my-iris.yaml"
    path.write_text("dataset:\n  name: iris\n")
    config = load_config(path)
    assert config.name == "my-iris"
    assert config.optimizer.n_trials == 200 and config.sandbox.backend == "auto"
    assert config.llm.provider == "builtin"


def test_set_overrides_are_validated_like_the_file():
    config = parse_config(IRIS, ["optimizer.n_trials=7", "sandbox.backend=process"])
    assert config.optimizer.n_trials == 7 and config.sandbox.backend == "process"
    with pytest.raises(ConfigError, match="optimizer.n_trials"):
        parse_config(IRIS, ["optimizer.n_trials=many"])
    with pytest.raises(ConfigError, match="dotted.key=value"):
        parse_config(IRIS, ["optimizer.n_trials"])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({**IRIS, "optimizer": {"n_trails": 3}}, "optimizer.n_trails: unknown field; allowed here: facade, n_trials"),
        ({**IRIS, "optimizer": {"n_trials": "abc"}}, "optimizer.n_trials: Input should be a valid integer"),
        ({**IRIS, "optimizer": {"n_trials": 0}}, "optimizer.n_trials: Input should be greater than or equal to 1"),
        (
            {"dataset": {"name": "iris", "task": "regression"}, "metric": "accuracy"},
            "metric: 'accuracy' does not fit a regression task; use one of r2, rmse, mae",
        ),
        ({**IRIS, "metric": "acc"}, "metric: Input should be 'auto', 'accuracy'"),
        ({**IRIS, "sandbox": {"backend": "vm"}}, "sandbox.backend: Input should be 'auto', 'docker', 'process' or"),
        ({**IRIS, "optimizer": {"families": ["xgboost"]}}, "optimizer.families.0: Input should be 'hgb'"),
        ({"dataset": {"path": "train.csv"}}, "dataset.target: name the target column"),
        ({}, "dataset: required field is missing"),
        ({"dataset": {"name": "iris", "path": "x.csv", "target": "y"}}, "give either dataset.name"),
        (
            {**IRIS, "checkpoints": "mysql://db/runs"},
            "checkpoints: expected a postgresql:// URL, got 'mysql://db/runs'",
        ),
        ({**IRIS, "checkpoints": "postgresql://me:secret@db/runs"}, "checkpoints: keep the password out of the URL"),
    ],
)
def test_bad_config_names_the_field(data, expected):
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def _cli(tmp_path, capsys, yaml_text: str, *extra: str) -> tuple[int, str]:
    path = tmp_path / "run.yaml"
    path.write_text(yaml_text)
    code = main([str(path), "--runs-dir", str(tmp_path / "runs"), "--set", "sandbox.backend=process", *extra])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("dataset:\n  name: iris\noptimizer:\n  n_trails: 5\n", "optimizer.n_trails: unknown field"),
        ("dataset:\n  name: iris\noptimizer:\n  walltime: soon\n", "optimizer.walltime: Input should be a valid"),
        ("dataset:\n  name: irises\n", "dataset.name: unknown data set 'irises'; known:"),
        ("dataset:\n  path: missing.csv\n  target: y\n", "dataset.path: file not found"),
        ("dataset:\n  name: diabetes\nmetric: accuracy\n", "metric: 'accuracy' does not fit a regression task"),
        ("dataset:\n  name: iris\nmetric: rmse\n", "metric: 'rmse' does not fit a classification task"),
        ("dataset: [\n", "not valid YAML"),
        (
            "dataset:\n  name: iris\noptimizer:\n  dask: http://scheduler:8786\n",
            "optimizer.dask: expected 'local' or a scheduler address such as tcp://host:8786",
        ),
        (
            "dataset:\n  name: iris\noptimizer:\n  families: [cnn]\n",
            "optimizer.families: none of cnn is offered for this tabular data; choose from hgb",
        ),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, yaml_text, expected):
    code, err = _cli(tmp_path, capsys, yaml_text)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists(), "bad input must not leave a run folder behind"


def test_cli_target_column_that_does_not_exist(tmp_path, capsys):
    csv = tmp_path / "train.csv"
    csv.write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    code, err = _cli(tmp_path, capsys, f"dataset:\n  path: {csv}\n  target: class\n")
    assert code == 2
    assert "dataset.target: column 'class' is not in" in err and "columns: a, b, label" in err


def test_cli_missing_config_file(tmp_path, capsys):
    code = main([str(tmp_path / "nope.yaml")])
    assert code == 2
    assert "config file not found" in capsys.readouterr().err


def test_cli_resume_without_a_run(tmp_path, capsys):
    code, err = _cli(tmp_path, capsys, "dataset:\n  name: iris\n", "--resume")
    assert code == 2 and "--resume: no run of 'run'" in err


MULTI = {**IRIS, "objectives": ["accuracy", "predict_latency"]}


def test_objectives_make_the_first_the_metric_and_the_rule_is_parsed():
    config = parse_config({**MULTI, "select": {"fastest_within": 0.005}})
    assert config.metric == "accuracy" and config.extra_objectives == ["predict_latency"]
    assert config.rule().name == "fastest_within" and config.rule().within == 0.005
    bounded = parse_config({**MULTI, "select": {"max": {"predict_latency": 10}}})
    assert bounded.rule().bounds == {"predict_latency": 10.0}
    assert parse_config(IRIS).extra_objectives == [] and parse_config(IRIS).rule().name == "best"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({**IRIS, "objectives": []}, "objectives: name the metric first"),
        ({**IRIS, "objectives": ["predict_latency"]}, "objectives: the first is the run's metric"),
        ({**IRIS, "objectives": ["accuracy", "latency"]}, "objectives: 'latency' is not an objective"),
        ({**IRIS, "objectives": ["accuracy", "model_size", "model_size"]}, "objectives: 'model_size' is named twice"),
        ({**MULTI, "metric": "f1_macro"}, "objectives: the first, 'accuracy', must be the run's metric 'f1_macro'"),
        ({**IRIS, "select": "knee"}, "select: knee needs a second objective"),
        (
            {**MULTI, "optimizer": {"facade": "multi_fidelity"}},
            "optimizer.facade: multi_fidelity cannot search several objectives",
        ),
        ({**MULTI, "select": "fast"}, "select: expected best, knee, {fastest_within: D}"),
        ({**MULTI, "select": {"fastest_within": -1}}, "select.fastest_within: a metric difference of 0 or more"),
        ({**MULTI, "select": {"max": {"model_size": 5}}}, "select.max: 'model_size' is not an objective of this run"),
        ({**MULTI, "select": {"max": {"predict_latency": "fast"}}}, "select.max.predict_latency: a bound of 0"),
        (
            {"dataset": {"name": "iris", "task": "classification"}, "objectives": ["r2", "model_size"]},
            "metric: 'r2' does not fit a classification task",
        ),
    ],
)
def test_bad_objectives_and_rules_name_the_field(data, expected):
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_objectives_can_be_set_on_the_command_line():
    config = parse_config(IRIS, ["objectives=[accuracy, model_size]", "select={max: {model_size: 2000000}}"])
    assert config.extra_objectives == ["model_size"] and config.rule().bounds == {"model_size": 2e6}
