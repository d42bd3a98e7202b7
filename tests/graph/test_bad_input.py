"""Bad input found by the reliability audit: each exits 2 with one line, before a run folder exists."""

from __future__ import annotations

import os

import pytest

from graph.run import main

IRIS = "dataset:\n  name: iris\n"
BOMB = (
    "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
)


def run_cli(tmp_path, capsys, config: bytes | str, *extra: str, runs: str = "runs") -> tuple[int, str]:
    path = tmp_path / "run.yaml"
    path.write_bytes(config.encode() if isinstance(config, str) else config)
    code = main([str(path), "--runs-dir", str(tmp_path / runs), "--set", "sandbox.backend=process", *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return code, err


def table(tmp_path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("optimizer.n_trials=[1", "--set optimizer.n_trials: not valid YAML at line 1"),
        ("optimizer.n_trials=!!python/object/apply:os.system [ls]", "--set optimizer.n_trials: not valid YAML"),
        ("dataset.options=" + "{" + BOMB.replace("\n", ", ").rstrip(", ") + "}", "expands to more than 10000 values"),
    ],
)
def test_bad_set_values(tmp_path, capsys, setting, expected):
    code, err = run_cli(tmp_path, capsys, IRIS, "--set", setting)
    assert code == 2 and expected in err and not (tmp_path / "runs").exists()


def test_an_alias_bomb_in_the_file(tmp_path, capsys):
    code, err = run_cli(tmp_path, capsys, IRIS + BOMB)
    assert code == 2 and "expands to more than 10000 values (YAML aliases)" in err


def test_a_config_that_is_not_utf8(tmp_path, capsys):
    code, err = run_cli(tmp_path, capsys, "name: caf\xe9\n".encode("latin-1") + IRIS.encode())
    assert code == 2 and "not UTF-8 text; save the config as UTF-8" in err


@pytest.mark.parametrize("where", ["file", "under_file", "read_only"])
def test_a_runs_dir_that_cannot_hold_runs(tmp_path, capsys, where):
    if where == "read_only" and os.geteuid() == 0:
        pytest.skip("root writes through read-only folders")
    (tmp_path / "file").write_text("")
    (tmp_path / "read_only").mkdir()
    (tmp_path / "read_only").chmod(0o500)
    runs = {"file": "file", "under_file": "file/runs", "read_only": "read_only/runs"}[where]
    try:
        code, err = run_cli(tmp_path, capsys, IRIS, "--set", "optimizer.n_trials=2", runs=runs)
    finally:
        (tmp_path / "read_only").chmod(0o700)
    assert code == 2 and f"--runs-dir {tmp_path / runs}: cannot make a run folder there" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,label\n1,2\n", "has only 1 labelled rows"),
        ("a,label\n", "has no labelled rows"),
        ("a,label\n1,\n2,\n3,\n", "has no labelled rows"),
        ("a,label,label\n" + "".join(f"{i},{i % 2},{i % 2}\n" for i in range(30)), "duplicate column names: label"),
    ],
)
def test_tables_that_cannot_be_learned(tmp_path, capsys, text, expected):
    path = table(tmp_path, "train.csv", text)
    code, err = run_cli(tmp_path, capsys, f"dataset:\n  path: {path}\n  target: label\n")
    assert code == 2 and expected in err and not (tmp_path / "runs").exists()


def test_a_test_file_with_other_column_types_is_refused_before_the_search(tmp_path, capsys):
    train = table(tmp_path, "train.csv", "size,label\n" + "".join(f"{i},{i % 2}\n" for i in range(30)))
    test = table(tmp_path, "test.csv", "size,label\nbig,0\nsmall,1\n")
    code, err = run_cli(tmp_path, capsys, f"dataset:\n  path: {train}\n  target: label\n  test_path: {test}\n")
    assert code == 2 and "column(s) size hold numbers in the training file but not in the test file" in err
