"""graph.predict's reading of new rows: shaped like the training features, or one clear error.

The end-to-end tests (own CSV, Docker iris, the image family) predict with real models."""

from __future__ import annotations

import numpy as np
import pytest

from graph.config import ConfigError
from graph.predict import read_rows
from tools.inputs import ModelInputs

TRAINING = ModelInputs(table=True, columns=["zip", "rooms", "area"], text_columns=["zip"], row_shape=[], classes=None)


def arrays(*row_shape: int) -> ModelInputs:
    return ModelInputs(table=False, columns=[], text_columns=[], row_shape=list(row_shape), classes=None)


def test_csv_rows_take_the_training_columns_and_types(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("price,area,zip,rooms\n1,80.0,02134,4\n2,,00501,2\n")  # target first, another order
    rows = read_rows(path, TRAINING)
    assert list(rows.columns) == ["zip", "rooms", "area"]
    assert rows["zip"].tolist() == ["02134", "00501"]  # codes stay text, leading zeros and all
    assert np.isnan(rows["area"].iloc[1])


def test_npz_rows_must_match_the_training_shape(tmp_path):
    images = arrays(28, 28)
    np.savez(tmp_path / "ok.npz", X=np.ones((2, 28, 28), dtype=np.uint8))
    assert read_rows(tmp_path / "ok.npz", images).shape == (2, 28, 28)
    np.savez(tmp_path / "flat.npz", X=np.ones((2, 784)))
    with pytest.raises(ConfigError, match=r"X has rows of shape \(784,\); the model was trained on rows of shape"):
        read_rows(tmp_path / "flat.npz", images)
    np.savez(tmp_path / "named.npz", images=np.ones((2, 28, 28)))
    with pytest.raises(ConfigError, match="no array named X"):
        read_rows(tmp_path / "named.npz", images)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("rows.csv", "zip,area\n02134,70\n", "missing the training column(s) rooms"),
        ("rows.json", "{}", "expected a .csv, .parquet or .npz file"),
        ("rows.parquet", "not parquet", "cannot read it"),
        ("rows.csv", "zip,rooms,area\n1,2,3\n4,5,6,7\n", "cannot read it (ParserError: Error tokenizing data."),
    ],
)
def test_bad_rows_say_what_to_fix(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ConfigError) as error:
        read_rows(path, TRAINING)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_table_for_an_array_model_is_refused(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="trained on arrays; give a .npz file with X"):
        read_rows(path, arrays(2))


class _Plant:
    """Unpickling this runs a shell command: what a hostile run folder would ship."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def test_predict_on_a_hostile_run_folder_runs_nothing_on_the_host(tmp_path):
    """A run folder from elsewhere: pickles and code that write a canary when loaded, and a
    config and event log that ask for the unisolated backend. Nothing of it reaches the host."""
    import pickle
    import subprocess
    import sys

    from tests.conftest import ROOT

    canary = tmp_path / "host" / "touched"
    canary.parent.mkdir()
    run = tmp_path / "evil-run"
    for folder in ("model", "code/final", "sandbox_data"):
        (run / folder).mkdir(parents=True)
    touch = f"touch {canary}"
    (run / "model" / "model.pkl").write_bytes(pickle.dumps(_Plant(touch)))
    (run / "sandbox_data" / "train.pkl").write_bytes(pickle.dumps(_Plant(touch)))
    (run / "code" / "final" / "train.py").write_text(
        f"import os\nos.system({touch!r})\n\ndef predict(model, X):\n    return [0] * len(X)\n"
    )
    (run / "config.yaml").write_text("dataset: {name: iris}\nsandbox: {backend: unsafe_process}\n")
    (run / "events.jsonl").write_text('{"node": "initialize", "message": "x", "backend": "unsafe_process"}\n')
    (run / "model_inputs.json").write_text(
        '{"table": true, "columns": ["a"], "text_columns": [], "row_shape": [], "classes": null}'
    )
    (tmp_path / "rows.csv").write_text("a\n1\n2\n")
    result = subprocess.run(
        [sys.executable, "-m", "graph.predict", str(run), str(tmp_path / "rows.csv")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert not canary.exists(), "code or a pickle of the run folder ran on the host"
    assert "UNISOLATED" not in result.stderr, "the run folder chose the unisolated backend"
    assert result.returncode in (0, 1), result.stderr[-2000:]
