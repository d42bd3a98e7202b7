"""Hostile generated code against both isolating backends, straight through `open_sandbox`.

Each test is one attack a hostile or careless model may write, and asserts what a user
would check afterwards: no connection reached a listener on the host's loopback, no secret
of the agent's environment came back, no host file was read or written, the answer channel
could not be forged, a planted symlink was not followed, a 2 GB output cost the host
nothing, no process of a call outlived it, and each failure got the status of its true
cause. The process backend needs bubblewrap, the docker one an engine and the image; under
CI=true a missing one fails these tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sklearn.datasets import load_iris

from sandbox import BACKENDS, Limits, SandboxError, Workspace, choose_backend, isolates, open_sandbox
from sandbox.artifacts import SCRATCH_PREFIX

SECRET = "sk-canary-4f1d2a9e-do-not-leak"
CANARY = "canary-host-file-7c3b"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
LIMITS = Limits(timeout=10, memory_mb=384, cpus=1, pids=64, tmp_mb=32, artifacts_mb=64)

ATTACKS = {
    "ok.py": """
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_score

        def train(config, data, seed=0, budget=None):
            score = cross_val_score(LogisticRegression(max_iter=500), data.X, data.y, cv=3).mean()
            return {"loss": round(1.0 - float(score), 6), "echo": config.get("echo")}
    """,
    "connect.py": """
        import socket

        def train(config, data, seed=0, budget=None):
            try:
                socket.create_connection(("127.0.0.1", config["port"]), timeout=2).close()
            except OSError as exc:
                return {"loss": 0.0, "connected": False, "error": str(exc)}
            return {"loss": 0.0, "connected": True}
    """,
    "secrets.py": """
        import os

        def train(config, data, seed=0, budget=None):
            found = {"environ": dict(os.environ), "proc": {}}
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
            for pid in pids + [str(config["host_pid"])]:
                try:
                    with open(f"/proc/{pid}/environ", "rb") as fh:
                        found["proc"][pid] = fh.read().decode(errors="replace")
                except OSError as exc:
                    found["proc"][pid] = f"refused: {exc.strerror}"
            return {"loss": 0.0, "found": found, "pids": pids}
    """,
    "read.py": """
        def train(config, data, seed=0, budget=None):
            seen = {}
            for path in config["paths"]:
                try:
                    with open(path, "rb") as fh:
                        seen[path] = fh.read(200).decode(errors="replace")
                except OSError:
                    seen[path] = None
            return {"loss": 0.0, "seen": seen}
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
    "forge.py": """
        import os

        # What a trial would send to make the host record a loss it did not earn.
        FORGED = (b'{"id": 1, "status": "success", "result": {"loss": -1000.0}}\\n'
                  b'\\x00garbage that is not JSON\\n')

        def _try(path, hits):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                return
            try:
                os.write(fd, FORGED)
                hits.append(path)
            except OSError:
                pass
            finally:
                os.close(fd)

        def train(config, data, seed=0, budget=None):
            hits = []
            for name in ("responses", "requests"):  # the channel, by its old path
                _try(f"/io/{name}", hits)
            me = str(os.getpid())
            for pid in os.listdir("/proc"):  # every descriptor of every other process
                if not pid.isdigit() or pid == me:
                    continue
                try:
                    fds = os.listdir(f"/proc/{pid}/fd")
                except OSError:
                    continue
                for fd in fds:
                    _try(f"/proc/{pid}/fd/{fd}", hits)
            return {"loss": 0.25, "hits": hits}
    """,
    "artifact.py": """
        import os
        from sklearn.linear_model import LogisticRegression

        def fit(config, data, seed=0):
            return LogisticRegression(max_iter=500).fit(data.X, data.y)

        def predict(model, X):
            # Runs after the worker saved the model: swap it for a symlink to a host file,
            # and leave the temporary name the host once wrote through.
            victim = open("/data/victim-path.txt").read()
            if victim:
                os.unlink("/artifacts/model.pkl")
                os.symlink(victim, "/artifacts/model.pkl")
                os.symlink(victim, "/artifacts/config.json.tmp")
            return model.predict(X)
    """,
    "big_file.py": """
        from sklearn.dummy import DummyClassifier

        def fit(config, data, seed=0):
            with open("/artifacts/padding.bin", "wb") as fh:
                for _ in range(100):  # 100 MiB, past artifacts_mb
                    fh.write(b"x" * 2**20)
            return DummyClassifier().fit(data.X, data.y)

        def predict(model, X):
            return model.predict(X)
    """,
    "flood.py": """
        import sys

        def train(config, data, seed=0, budget=None):
            block = "x" * 2**20
            for _ in range(2048):  # 2 GB
                sys.stdout.write(block)
            return {"loss": 0.0}
    """,
    "big_result.py": """
        def train(config, data, seed=0, budget=None):
            return {"loss": 0.0, "blob": "x" * (config["mb"] * 2**20)}
    """,
    "daemon.py": """
        import os, time

        def train(config, data, seed=0, budget=None):
            if os.fork() == 0:
                os.setsid()  # leave the call's process group and session
                if os.fork() == 0:
                    with open("/tmp/daemon.pid", "w") as fh:
                        fh.write(str(os.getpid()))
                    beat = 0
                    while True:
                        beat += 1
                        with open("/tmp/heartbeat", "w") as fh:
                            fh.write(str(beat))
                        time.sleep(0.05)
                os._exit(0)
            while not os.path.exists("/tmp/heartbeat"):
                time.sleep(0.01)
            return {"loss": 0.0}
    """,
    "daemon_check.py": """
        import os, time

        def _beat():
            try:
                with open("/tmp/heartbeat") as fh:
                    return fh.read()
            except OSError:
                return None

        def train(config, data, seed=0, budget=None):
            pid = int(open("/tmp/daemon.pid").read())
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    state = fh.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                state = None
            first = _beat()
            time.sleep(0.3)
            return {"loss": 0.0, "state": state, "beating": _beat() != first}
    """,
    "self_kill.py": """
        import os, signal

        def train(config, data, seed=0, budget=None):
            os.kill(os.getpid(), signal.SIGKILL)
    """,
    "memory_hog.py": """
        def train(config, data, seed=0, budget=None):
            hoard = []
            while True:
                hoard.append(bytearray(32 * 2**20))
                hoard[-1][::4096] = b"x" * len(hoard[-1][::4096])  # touch every page
    """,
    "fork_bomb.py": """
        import os

        def train(config, data, seed=0, budget=None):
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
    """,
}

# A worker that speaks the protocol but answers wrongly when asked to, standing in for a
# worker that generated code had subverted: the host must survive whatever comes back.
HOSTILE_WORKER = """
import json, os, sys

io = sys.argv[sys.argv.index("--io") + 1]
responses = open(os.path.join(io, "responses"), "wb")
requests = open(os.path.join(io, "requests"), "rb")

def send(raw):
    responses.write(raw)
    responses.flush()

send(b'{"id": 0, "status": "ready", "versions": {}}\\n')
for line in requests:
    req = json.loads(line)
    how = (req.get("config") or {}).get("answer")
    if req.get("op") == "shutdown":
        send(json.dumps({"id": req["id"], "status": "success", "result": {}}).encode() + b"\\n")
        break
    if how == "garbage":
        send(b"\\x00\\xff not json\\n")
    elif how == "wrong_id":
        send(json.dumps({"id": req["id"] + 1, "status": "success", "result": {"loss": -1e308}}).encode() + b"\\n")
    elif how == "bad_status":
        send(json.dumps({"id": req["id"], "status": "won", "result": {"loss": 0.0}}).encode() + b"\\n")
    elif how == "bad_loss":
        send(json.dumps({"id": req["id"], "status": "success", "result": {"loss": "0.1"}}).encode() + b"\\n")
    elif how == "quick_on_paper":
        import time
        time.sleep(1.5)
        forged = {"id": req["id"], "status": "success", "result": {"loss": 0.5}, "elapsed": 0.001}
        send(json.dumps(forged).encode() + b"\\n")
    elif how == "huge":
        chunk = b"x" * 2**20
        for _ in range(80):  # 80 MiB and no newline
            send(chunk)
    else:
        send(json.dumps({"id": req["id"], "status": "success", "result": {"loss": 0.5}}).encode() + b"\\n")
"""


# ---- fixtures ---------------------------------------------------------------------------


def _ready(backend: str) -> None:
    """Skip when the backend is missing here; in CI, fail instead."""
    try:
        choose_backend(backend)
    except SandboxError as exc:
        if IN_CI:
            pytest.fail(f"the {backend} attack tests must run in CI, but {exc}")
        pytest.skip(str(exc))


BACKEND_PARAMS = [pytest.param("process"), pytest.param("docker", marks=pytest.mark.docker)]


@pytest.fixture(scope="module")
def room(tmp_path_factory) -> Path:
    """A run-like folder: code and data beside files the sandbox must never reach."""
    root = tmp_path_factory.mktemp("attacks")
    code, data = root / "code", root / "data"
    code.mkdir()
    data.mkdir()
    for name, source in ATTACKS.items():
        (code / name).write_text(textwrap.dedent(source))
    X, y = load_iris(return_X_y=True, as_frame=True)
    with open(data / "train.pkl", "wb") as fh:
        pickle.dump({"X": X, "y": y.to_numpy(), "info": {"task": "classification"}}, fh)
    with open(data / "predict.pkl", "wb") as fh:
        pickle.dump({"X": X.head(10)}, fh)
    (data / "victim-path.txt").write_text("")
    (root / "canary.txt").write_text(CANARY)  # beside the mounted folders, never inside
    return root


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def sandbox(request, room):
    """One warm sandbox per backend, started while the agent's environment holds a secret."""
    _ready(request.param)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAI_API_KEY", SECRET)
        box = open_sandbox(
            request.param, Workspace(room / "code", room / "data"), LIMITS, name=f"attacks-{request.param}"
        )
    yield box
    box.close()


def train(box, module: str, timeout: float = 10, **config):
    return box.call("train", module=module, data="train.pkl", config=config, timeout=timeout)


def assert_in_step(box) -> None:
    """Two ordinary calls, each with its own answer: nothing stale or forged is queued."""
    for echo in ("first", "second"):
        outcome = train(box, "ok.py", echo=echo)
        assert outcome.ok, outcome.describe()
        assert outcome.result["echo"] == echo and outcome.result["loss"] < 0.2


# ---- the attacks ------------------------------------------------------------------------


def test_no_connection_reaches_a_listener_on_the_host(sandbox):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    accepted = []

    def accept():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    watcher = threading.Thread(target=accept)
    watcher.start()
    outcome = train(sandbox, "connect.py", port=listener.getsockname()[1])
    watcher.join()
    listener.close()
    assert outcome.ok, outcome.describe()
    assert outcome.result["connected"] is False and not accepted, outcome.result


def test_host_environment_never_reaches_the_code(sandbox):
    assert os.environ.get("OPENAI_API_KEY") != SECRET  # planted only while the sandbox started
    os.environ["AUTOML_TEST_API_KEY"] = SECRET  # and one the agent holds now
    try:
        outcome = train(sandbox, "secrets.py", host_pid=os.getpid())
    finally:
        del os.environ["AUTOML_TEST_API_KEY"]
    assert outcome.ok, outcome.describe()
    assert SECRET not in json.dumps(outcome.result)
    assert "OPENAI_API_KEY" not in outcome.result["found"]["environ"]
    # Its /proc is its own: the agent's process is not in it.
    assert str(os.getpid()) not in outcome.result["pids"]
    assert len(outcome.result["pids"]) < 10, outcome.result["pids"]


def test_host_files_outside_the_workspace_are_unreadable(sandbox, room):
    paths = [
        str(room / "canary.txt"),
        "/etc/shadow",
        str(Path(__file__).resolve()),
        str(Path.home() / ".bashrc"),
        "/data/train.pkl",
    ]
    outcome = train(sandbox, "read.py", paths=paths)
    assert outcome.ok, outcome.describe()
    seen = outcome.result["seen"]
    assert CANARY not in json.dumps(seen)
    assert all(seen[p] is None for p in paths[:-1]), seen
    assert seen["/data/train.pkl"] is not None  # the data it is given stays readable


def test_writes_land_only_in_its_own_tmp(sandbox, room):
    folders = [
        "/",
        "/code",
        "/data",
        "/usr",
        "/etc",
        "/sandbox",
        "/io",
        "/dev",
        "/proc",
        sys.prefix,
        str(room),
        str(room / "code"),
        "/tmp",
    ]
    outcome = train(sandbox, "write.py", folders=folders)
    assert outcome.ok, outcome.describe()
    assert outcome.result["written"] == ["/tmp"]
    assert not list(room.rglob("intruder.txt"))
    assert not (Path(sys.prefix) / "intruder.txt").exists()


def test_the_answer_channel_cannot_be_forged(sandbox):
    outcome = train(sandbox, "forge.py")
    # The genuine answer, not the forged one, and no protocol error (which a forged or
    # garbage line would have caused).
    assert outcome.ok, outcome.describe()
    assert outcome.result["loss"] == 0.25
    assert not [hit for hit in outcome.result["hits"] if hit.startswith("/io/")]
    assert_in_step(sandbox)


def hostile_sandbox(backend: str, room, tmp_path, monkeypatch):
    """A sandbox whose worker is HOSTILE_WORKER: it answers as each request's `answer` says."""
    _ready(backend)
    module = "sandbox.process" if backend == "process" else "sandbox.container"
    hostile = tmp_path / "worker.py"
    hostile.write_text(HOSTILE_WORKER)
    monkeypatch.setattr(f"{module}.WORKER_SCRIPT", hostile)
    return open_sandbox(backend, Workspace(room / "code", room / "data"), LIMITS, name="hostile")


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("garbage", "not JSON"),
        ("wrong_id", "expected"),
        ("bad_status", "unknown status"),
        ("huge", "longer than 64 MiB"),
    ],
)
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_broken_answer_is_a_crash_and_a_fresh_worker(backend, answer, words, room, tmp_path, monkeypatch):
    with hostile_sandbox(backend, room, tmp_path, monkeypatch) as box:
        started = time.monotonic()
        outcome = train(box, "ok.py", answer=answer)
        assert outcome.status == "crashed", outcome.describe()
        assert words in outcome.error and "restarted" in outcome.error
        assert time.monotonic() - started < 20  # 80 MiB are refused, not read for minutes
        following = train(box, "ok.py")
        assert following.ok and following.result == {"loss": 0.5}, following.describe()


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_an_unusable_loss_is_a_crash(backend, room, tmp_path, monkeypatch):
    with hostile_sandbox(backend, room, tmp_path, monkeypatch) as box:
        outcome = train(box, "ok.py", answer="bad_loss")
        assert outcome.status == "crashed" and "loss" in outcome.error, outcome.describe()
        assert train(box, "ok.py").ok


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_calls_seconds_are_the_hosts_not_the_workers(backend, room, tmp_path, monkeypatch):
    """The search's seconds per trial decide which trials start and how deploy budgets: a
    worker reporting 1 ms for a 1.5 s call does not make the trial look cheap."""
    with hostile_sandbox(backend, room, tmp_path, monkeypatch) as box:
        outcome = train(box, "ok.py", answer="quick_on_paper")
        assert outcome.ok and outcome.elapsed >= 1.5, (outcome.status, outcome.elapsed)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_artifacts_come_back_without_following_symlinks(backend, room, tmp_path):
    _ready(backend)
    model = tmp_path / "model"
    model.mkdir()
    before = model.stat()
    victim = tmp_path / "victim.txt"
    victim.write_text("host file")
    workspace = Workspace(room / "code", room / "data", artifacts=model)
    with open_sandbox(backend, workspace, LIMITS, name="artifacts") as box:
        fair = box.call(
            "fit_predict",
            module="artifact.py",
            data="train.pkl",
            predict="predict.pkl",
            config={},
            artifact="model.pkl",
        )
        assert fair.ok, fair.describe()
        saved = model / "model.pkl"
        assert saved.is_file() and not saved.is_symlink() and saved.stat().st_size > 100
        saved.unlink()
        (room / "data" / "victim-path.txt").write_text(str(victim))
        try:
            planted = box.call(
                "fit_predict",
                module="artifact.py",
                data="train.pkl",
                predict="predict.pkl",
                config={},
                artifact="model.pkl",
            )
        finally:
            (room / "data" / "victim-path.txt").write_text("")
    assert planted.status == "crashed" and "regular file" in planted.error, planted.describe()
    assert victim.read_text() == "host file"
    assert sorted(p.name for p in model.iterdir()) == []  # nothing copied, nothing planted
    after = model.stat()
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid, before.st_mode)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_file_past_the_size_cap_is_refused(backend, room, tmp_path):
    _ready(backend)
    workspace = Workspace(room / "code", room / "data", artifacts=tmp_path / "model")
    with open_sandbox(backend, workspace, LIMITS, name="big-file") as box:
        started = time.monotonic()
        outcome = box.call(
            "fit_predict",
            module="big_file.py",
            data="train.pkl",
            predict="predict.pkl",
            config={},
            artifact="model.pkl",
        )
    # Python ignores SIGXFSZ, so the write past RLIMIT_FSIZE fails with EFBIG.
    assert outcome.status == "crashed" and "File too large" in outcome.error, outcome.describe()
    assert time.monotonic() - started < 10


def test_a_2gb_output_is_capped_and_costs_the_host_nothing(sandbox):
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    outcome = train(sandbox, "flood.py")
    assert outcome.status == "crashed", outcome.describe()
    assert time.monotonic() - started < 10
    assert len(outcome.output or "") <= 2000
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 100 * 1024  # KiB
    assert_in_step(sandbox)


def test_results_are_read_in_linear_time_and_capped(sandbox):
    started = time.monotonic()
    fine = train(sandbox, "big_result.py", mb=40)
    assert fine.ok and len(fine.result["blob"]) == 40 * 2**20, fine.describe()
    assert time.monotonic() - started < 10  # was quadratic: 80 MB took 59 s
    too_big = train(sandbox, "big_result.py", mb=80)
    assert too_big.status == "crashed" and "larger than 64 MiB" in too_big.error, too_big.describe()
    assert_in_step(sandbox)


def test_a_setsid_daemon_dies_with_its_call(sandbox):
    started = train(sandbox, "daemon.py")
    assert started.ok, started.describe()
    check = train(sandbox, "daemon_check.py")
    assert check.ok, check.describe()
    assert check.result["state"] in (None, "Z") and not check.result["beating"], check.result


def test_a_self_sigkill_is_crashed_not_memoryout(sandbox):
    outcome = train(sandbox, "self_kill.py")
    assert outcome.status == "crashed" and "SIGKILL" in outcome.error, outcome.describe()
    assert_in_step(sandbox)


def test_a_memory_hog_is_memoryout(sandbox):
    outcome = train(sandbox, "memory_hog.py")
    assert outcome.status == "memoryout", outcome.describe()
    assert_in_step(sandbox)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_the_kernels_oom_kill_is_memoryout(backend, room, monkeypatch):
    """No headroom for the warm worker: the sandbox's cgroup (not RLIMIT_AS) stops the hog,
    and the kernel's OOM-kill count (not the bare SIGKILL) makes it memoryout."""
    _ready(backend)
    from sandbox import container, process

    if backend == "process":
        from sandbox.cgroup import Cgroup

        probe, why = Cgroup.create(f"{SCRATCH_PREFIX}{os.getpid()}-probe", 2**30, 64)
        if probe is None:
            pytest.skip(f"no cgroup for the process sandbox here: {why}")
        probe.remove()
    monkeypatch.setattr(process if backend == "process" else container, "PARENT_MEMORY_MB", 0)
    with open_sandbox(
        backend, Workspace(room / "code", room / "data"), Limits(timeout=10, memory_mb=320), name="oom"
    ) as box:
        outcome = train(box, "memory_hog.py")
        assert outcome.status == "memoryout", outcome.describe()


def test_a_fork_bomb_is_contained(sandbox):
    outcome = train(sandbox, "fork_bomb.py", timeout=3)
    assert outcome.status in ("crashed", "timeout"), outcome.describe()
    assert_in_step(sandbox)
    assert_in_step(sandbox)  # nothing left holding the process limit


# ---- choosing a backend, paths, leftovers -----------------------------------------------


def test_auto_never_runs_code_unisolated(monkeypatch):
    assert BACKENDS.count("unsafe_process") == 1 and not isolates("unsafe_process")
    assert isolates("docker") and isolates("process")
    from sandbox import container, process

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setattr(container, "_client_cache", None)
    monkeypatch.setenv("PATH", "/nonexistent")
    process.process_unavailable_reason.cache_clear()
    try:
        with pytest.raises(SandboxError) as failure:
            choose_backend("auto")
    finally:
        process.process_unavailable_reason.cache_clear()
    message = str(failure.value)
    assert "\n" not in message and "make engine" in message and "bubblewrap" in message


def test_unsafe_process_is_only_chosen_by_its_name(room):
    backend, why = choose_backend("unsafe_process")
    assert backend == "unsafe_process" and "UNISOLATED" in why
    with open_sandbox(backend, Workspace(room / "code", room / "data"), LIMITS, name="unsafe") as box:
        assert not box.isolates
        assert_in_step(box)


def test_a_relative_workspace_works(room, monkeypatch):
    _ready("process")
    monkeypatch.chdir(room)
    with open_sandbox("process", Workspace(Path("code"), Path("data")), LIMITS, name="relative") as box:
        assert_in_step(box)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_sandbox_that_cannot_start_leaves_nothing_behind(backend, room, tmp_path, monkeypatch):
    _ready(backend)
    ours = f"{SCRATCH_PREFIX}{os.getpid()}-*"
    before = set(Path(tempfile.gettempdir()).glob(ours))
    with pytest.raises(SandboxError, match="does not exist"):
        open_sandbox(backend, Workspace(tmp_path / "missing", room / "data"), LIMITS, name="broken")
    assert not (tmp_path / "missing").exists()
    dying = tmp_path / "worker.py"
    dying.write_text("raise SystemExit('no worker today')\n")
    monkeypatch.setattr(
        "sandbox.process.WORKER_SCRIPT" if backend == "process" else "sandbox.container.WORKER_SCRIPT", dying
    )
    with pytest.raises(SandboxError, match="did not start"):
        open_sandbox(backend, Workspace(room / "code", room / "data"), LIMITS, name="broken")
    assert set(Path(tempfile.gettempdir()).glob(ours)) == before


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_leftovers_of_a_killed_agent_are_removed(backend, room):
    _ready(backend)
    agent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
            from sandbox import Limits, Workspace, open_sandbox
            box = open_sandbox({backend!r}, Workspace({str(room / "code")!r}, {str(room / "data")!r}), Limits())
            print("ready", flush=True)
            time.sleep(600)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert agent.stdout.readline().strip() == "ready"
        leftovers = list(Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}{agent.pid}-*"))
        assert len(leftovers) == 1
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait()
    cleanup = subprocess.run(
        [sys.executable, "-m", "sandbox.container", "--cleanup"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    assert cleanup.returncode == 0, cleanup.stderr
    assert not list(Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}{agent.pid}-*")), cleanup.stdout
    if backend == "docker":
        from sandbox.container import LABEL, OWNER_LABEL, _client

        owner = f"{socket.gethostname()}:{agent.pid}"
        assert not _client().containers.list(all=True, filters={"label": [LABEL, f"{OWNER_LABEL}={owner}"]})
    else:
        from sandbox.cgroup import sandbox_cgroups

        assert not [c for c in sandbox_cgroups() if c.name.startswith(f"{SCRATCH_PREFIX}{agent.pid}-")]
