"""One run per folder, folders made atomically, names that stay inside --runs-dir, and a
resume that decides from the state."""

from __future__ import annotations

import subprocess
import sys

import pytest

from graph.config import parse_config
from tests.conftest import ROOT
from tools.errors import ConfigError
from tools.runfolder import RunFolderBusy, exclusive, new_run_dir


def test_new_run_folders_never_reuse_a_name(tmp_path):
    made = [new_run_dir(tmp_path / "runs", "iris") for _ in range(3)]
    assert [p.name for p in made] == ["iris", "iris-2", "iris-3"] and all(p.is_dir() for p in made)


def test_a_second_process_cannot_take_a_held_run_folder(tmp_path):
    holder = (
        f"from tools.runfolder import exclusive; import time\nwith exclusive({str(tmp_path)!r}):\n"
        "    print('held', flush=True); time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunFolderBusy, match=rf"is in use by process {proc.pid} on "):
            with exclusive(tmp_path):
                pass
    finally:
        proc.kill()
        proc.wait()
    with exclusive(tmp_path):  # the kernel freed the lock when the holder died
        pass


@pytest.mark.parametrize("name", ["../elsewhere", "/tmp/abs", ".hidden", "a/b"])
def test_a_run_name_cannot_leave_the_runs_folder(name):
    with pytest.raises(ConfigError, match="name: a plain folder name"):
        parse_config({"name": name, "dataset": {"name": "iris"}})
