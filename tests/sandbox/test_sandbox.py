"""The sandbox, through the path a generated training function takes: a train.py in the code
folder, called with op "train" on pickled training data.

Process backend: limits and recovery. Docker backend (marked `docker`): the same, plus the
isolation DESIGN.md promises. In CI (CI=true) a missing engine or image fails the docker tests
instead of skipping them.
"""

from __future__ import annotations

import os
import pickle
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from sklearn.datasets import load_iris

from sandbox import Limits, Sandbox, Workspace, choose_backend
from sandbox.process import ProcessSandbox
from sandbox.warm import WarmPool

# One generated training function per behaviour; each is what an LLM might write.
TRAINERS = {
    "ok.py": """
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_score

        def train(config, data, seed=0, budget=None):
            model = LogisticRegression(C=config.get("C", 1.0), max_iter=500)
            score = cross_val_score(model, data.X, data.y, cv=3).mean()
            return {"loss": 1.0 - float(score)}
    """,
    "loop.py": """
        def train(config, data, seed=0, budget=None):
            while True:
                pass
    """,
    "memory_bomb.py": """
        def train(config, data, seed=0, budget=None):
            hoard = []
            while True:
                hoard.append(bytearray(64 * 2**20))
                hoard[-1][::4096] = b"x" * len(hoard[-1][::4096])  # touch every page
    """,
    "exit.py": """
        import os

        def train(config, data, seed=0, budget=None):
            os._exit(1)
    """,
    "segfault.py": """
        import ctypes

        def train(config, data, seed=0, budget=None):
            ctypes.string_at(0)
    """,
    "kill_worker.py": """
        import os, signal

        def train(config, data, seed=0, budget=None):
            os.kill(os.getppid(), signal.SIGKILL)  # the warm worker itself
            return {"loss": 0.0}
    """,
    "env.py": """
        import os

        def train(config, data, seed=0, budget=None):
            return {"loss": 0.0, "env": dict(os.environ)}
    """,
    "network.py": """
        import socket

        def train(config, data, seed=0, budget=None):
            try:
                socket.create_connection(("1.1.1.1", 53), timeout=3).close()
            except OSError as exc:
                return {"loss": 0.0, "connected": False, "error": str(exc)}
            return {"loss": 0.0, "connected": True}
    """,
    "write.py": """
        import os

        def train(config, data, seed=0, budget=None):
            written = []
            for folder in config["folders"]:
                try:
                    with open(os.path.join(folder, "intruder.txt"), "w") as fh:
                        fh.write("x")
                    written.append(folder)
                except OSError:
                    pass
            return {"loss": 0.0, "written": written}
    """,
    "read.py": """
        import os

        def train(config, data, seed=0, budget=None):
            seen = {}
            for path in config["paths"]:
                try:
                    if os.path.isdir(path):
                        seen[path] = sorted(os.listdir(path))
                    else:
                        with open(path, "rb") as fh:
                            seen[path] = fh.read(100).decode(errors="replace")
                except OSError as exc:
                    seen[path] = None
            return {"loss": 0.0, "seen": seen}
    """,
    "fork_bomb.py": """
        import os

        def train(config, data, seed=0, budget=None):
            while True:
                os.fork()
    """,
}


# Each misbehaving trainer, the status it must become, and a word its error must carry.
FAILURES = [
    ("loop.py", "timeout", "wall-clock"),
    ("memory_bomb.py", "memoryout", "memory"),
    ("exit.py", "crashed", "code 1"),
    ("segfault.py", "crashed", "SIGSEGV"),
    ("kill_worker.py", "crashed", "restarted"),
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("sandbox")
    code, data = root / "code", root / "data"
    code.mkdir()
    data.mkdir()
    for name, source in TRAINERS.items():
        (code / name).write_text(textwrap.dedent(source))
    X, y = load_iris(return_X_y=True, as_frame=True)
    info = {"task": "classification", "metric": "accuracy"}
    with open(data / "train.pkl", "wb") as fh:
        pickle.dump({"X": X, "y": y.to_numpy(), "info": info}, fh)
    # A run folder's private files sit beside the mounted ones, never inside them.
    (root / "checkpoints.sqlite").write_text("host secret")
    return Workspace(code=code, data=data)


def train(sandbox: Sandbox, module: str, timeout: float = 10, **config):
    return sandbox.call("train", module=module, data="train.pkl", config=config, timeout=timeout)


def assert_recovers(sandbox: Sandbox) -> None:
    outcome = train(sandbox, "ok.py")
    assert outcome.ok, outcome.describe()
    assert outcome.result["loss"] < 0.2


LIMITS = Limits(timeout=10, memory_mb=384, cpus=1, pids=64, tmp_mb=32)


# ---- process backend ------------------------------------------------------------------


@pytest.fixture(scope="module")
def process_sandbox(workspace):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAI_API_KEY", "secret")
        sandbox = ProcessSandbox(workspace, LIMITS, name="test-process").start()
    yield sandbox
    sandbox.close()


def test_process_normal_call(process_sandbox):
    assert_recovers(process_sandbox)


@pytest.mark.parametrize(("module", "status", "message"), FAILURES)
def test_process_failures_become_statuses(process_sandbox, module, status, message):
    outcome = train(process_sandbox, module, timeout=1.5)
    assert outcome.status == status, outcome.describe()
    assert message in outcome.error
    assert_recovers(process_sandbox)


def test_a_caller_can_stop_a_call_before_its_timeout(process_sandbox):
    # The search cuts a trial whose share of the time shrank: the call ends soon after stop()
    # says so, reads as a timeout, and the next call runs in a fresh worker.
    import time

    started = time.monotonic()
    outcome = process_sandbox.call(
        "train", module="loop.py", data="train.pkl", config={}, timeout=60, stop=lambda: time.monotonic() - started > 2
    )
    assert outcome.status == "timeout" and "stopped by its caller" in outcome.error, outcome.describe()
    assert 2 <= outcome.elapsed < 5, outcome.elapsed
    assert_recovers(process_sandbox)


def test_process_host_environment_is_absent(process_sandbox):
    outcome = train(process_sandbox, "env.py")
    assert outcome.ok, outcome.describe()
    assert "OPENAI_API_KEY" not in outcome.result["env"]
    assert "secret" not in outcome.result["env"].values()


# ---- docker backend -------------------------------------------------------------------


def our_containers() -> list:
    from sandbox.container import LABEL, OWNER_LABEL, _client, _owner

    return _client().containers.list(all=True, filters={"label": [LABEL, f"{OWNER_LABEL}={_owner()}"]})


@pytest.fixture(scope="module")
def docker_sandbox(docker_ready, workspace):
    from sandbox.container import DockerSandbox

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAI_API_KEY", "secret")
        sandbox = DockerSandbox(workspace, LIMITS, name="test-docker").start()
    yield sandbox
    sandbox.close()


@pytest.mark.docker
def test_docker_is_chosen_when_available(docker_ready):
    assert choose_backend("auto")[0] == "docker"


@pytest.mark.docker
def test_docker_runs_as_nobody_on_the_image_python(docker_sandbox):
    probe = docker_sandbox.call("probe")
    assert probe.ok and probe.result["uid"] == 65534
    assert docker_sandbox.versions["sklearn"]  # the warm worker imported scikit-learn
    assert_recovers(docker_sandbox)


@pytest.mark.docker
def test_docker_network_is_unreachable(docker_sandbox):
    outcome = train(docker_sandbox, "network.py")
    assert outcome.ok, outcome.describe()
    assert outcome.result["connected"] is False, outcome.result


@pytest.mark.docker
def test_docker_writes_only_to_tmp(docker_sandbox):
    folders = ["/", "/code", "/data", "/sandbox", "/root", "/usr/lib", "/etc", "/tmp"]
    outcome = train(docker_sandbox, "write.py", folders=folders)
    assert outcome.ok, outcome.describe()
    assert outcome.result["written"] == ["/tmp"]


@pytest.mark.docker
def test_docker_cannot_read_host_files(docker_sandbox, workspace):
    secret = workspace.data.parent / "checkpoints.sqlite"  # beside the mount, not in it
    paths = [str(secret), str(Path(__file__).resolve()), "/root", "/data/train.pkl"]
    outcome = train(docker_sandbox, "read.py", paths=paths)
    assert outcome.ok, outcome.describe()
    seen = outcome.result["seen"]
    assert seen[str(secret)] is None
    assert seen[str(Path(__file__).resolve())] is None
    host_home = set(os.listdir("/root"))
    assert not (set(seen["/root"] or []) & host_home - {".cache", ".config"}), seen["/root"]
    assert seen["/data/train.pkl"] is not None  # the mounted data is readable


@pytest.mark.docker
def test_docker_read_only_artifacts_are_readable_and_left_as_they_are(docker_ready, workspace, tmp_path):
    # How `graph.predict` mounts a finished run's model folder: readable, not writable, and
    # the folder's owner and mode untouched.
    from sandbox.container import DockerSandbox

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.pkl").write_text("fitted")
    model.chmod(0o777)  # so that only the mount can refuse a write
    before = model.stat()
    read_only = Workspace(code=workspace.code, data=workspace.data, artifacts=model, artifacts_writable=False)
    with DockerSandbox(read_only, LIMITS, name="test-docker-ro").start() as sandbox:
        wrote = train(sandbox, "write.py", folders=["/artifacts", "/tmp"])
        read = train(sandbox, "read.py", paths=["/artifacts/model.pkl"])
    assert wrote.ok and wrote.result["written"] == ["/tmp"], wrote.describe()
    assert read.ok and read.result["seen"]["/artifacts/model.pkl"] == "fitted", read.describe()
    after = model.stat()
    assert (after.st_uid, after.st_mode) == (before.st_uid, before.st_mode)
    assert sorted(p.name for p in model.iterdir()) == ["model.pkl"]


@pytest.mark.docker
def test_docker_host_environment_is_absent(docker_sandbox):
    outcome = train(docker_sandbox, "env.py")
    assert outcome.ok, outcome.describe()
    env = outcome.result["env"]
    assert "OPENAI_API_KEY" not in env and "secret" not in env.values()
    assert not set(env) & {"PIP_CERT", "VIRTUAL_ENV", "PYTEST_CURRENT_TEST"}


@pytest.mark.docker
@pytest.mark.parametrize(("module", "status", "message"), FAILURES)
def test_docker_failures_become_statuses(docker_sandbox, module, status, message):
    outcome = train(docker_sandbox, module, timeout=1.5)
    assert outcome.status == status, outcome.describe()
    assert message in outcome.error
    assert_recovers(docker_sandbox)
    assert len(our_containers()) == 1  # a restart replaced the container, not added one


@pytest.mark.docker
def test_docker_fork_bomb_stops_at_the_pids_limit(docker_sandbox):
    outcome = train(docker_sandbox, "fork_bomb.py", timeout=3)
    assert outcome.status in ("crashed", "timeout"), outcome.describe()
    assert_recovers(docker_sandbox)
    assert_recovers(docker_sandbox)  # no zombies left holding the pids limit


@pytest.mark.docker
def test_docker_container_out_of_memory_is_memoryout(docker_ready, workspace, monkeypatch):
    """A call that fills the container itself (not just its own allowance) is MEMORYOUT."""
    from sandbox import container

    monkeypatch.setattr(container, "PARENT_MEMORY_MB", 0)  # no headroom for the warm worker
    with container.DockerSandbox(workspace, Limits(timeout=10, memory_mb=256), name="test-oom") as sandbox:
        outcome = train(sandbox, "memory_bomb.py", timeout=5)
        assert outcome.status == "memoryout", outcome.describe()


@pytest.mark.docker
def test_docker_containers_do_not_leak(docker_ready, workspace):
    from sandbox.container import DockerSandbox

    before = {c.id for c in our_containers()}
    sandbox = DockerSandbox(workspace, LIMITS, name="test-leak").start()
    assert len({c.id for c in our_containers()} - before) == 1
    sandbox.restart()
    assert len({c.id for c in our_containers()} - before) == 1
    sandbox.close()
    assert {c.id for c in our_containers()} == before


# ---- sandboxes started ahead (sandbox/warm.py): handed on within a run, never to other
# folders, checked before reuse, closed when nobody takes them ---------------------------


def recipe(workspace: Workspace, timeout: float = 10) -> dict:
    return {"backend": "process", "workspace": workspace, "limits": replace(LIMITS, timeout=timeout), "name": "warm"}


@pytest.fixture
def pool():
    pool = WarmPool()
    yield pool
    pool.close_idle()


def test_sandboxes_started_ahead_are_handed_on_and_train(pool, workspace):
    pool.prestart(recipe(workspace), 2)
    verifier = pool.take(recipe(workspace, timeout=30))
    assert verifier.limits.timeout == 30  # the taker's own default call timeout
    assert_recovers(verifier)
    pool.give_back(recipe(workspace), verifier)
    workers = [pool.take(recipe(workspace)) for _ in range(2)]
    try:
        assert verifier in workers  # the same worker, not a third start
        assert all(w.limits.timeout == 10 for w in workers)
        for worker in workers:
            assert_recovers(worker)
    finally:
        for worker in workers:
            worker.close()


def test_a_sandbox_of_other_folders_is_never_handed_on(pool, workspace, tmp_path):
    pool.prestart(recipe(workspace), 1)
    other = Workspace(code=workspace.code, data=tmp_path)
    with pool.take(recipe(other)) as fresh:
        assert fresh.workspace.data == tmp_path.resolve()
        outcome = fresh.call("train", module="ok.py", data="train.pkl", config={}, timeout=10)
        assert not outcome.ok and "train.pkl" in outcome.error  # it sees its own data folder only
    # and prestarting for other folders closes the first run's idle sandbox
    mine = pool.take(recipe(workspace))
    pool.give_back(recipe(workspace), mine)
    pool.prestart(recipe(other), 1)
    assert not mine.alive()
    with pool.take(recipe(workspace)) as again:
        assert again is not mine
        assert_recovers(again)


def test_a_dead_sandbox_is_replaced_and_idle_ones_are_closed(pool, workspace):
    sandbox = pool.take(recipe(workspace))
    pool.give_back(recipe(workspace), sandbox)
    sandbox.close()  # its worker went away while it waited in the pool
    with pool.take(recipe(workspace)) as replacement:
        assert replacement is not sandbox and replacement.alive()
        assert_recovers(replacement)
        pool.give_back(recipe(workspace), replacement)
        pool.close_idle()
        assert not replacement.alive()
