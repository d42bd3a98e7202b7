"""The sandbox worker: runs generated code on the far side of the sandbox boundary.

This file is self-contained on purpose (standard library plus the packages of the sandbox
image) because it runs inside the container as well as in a child process on the host.

Protocol: one JSON request per line in, one JSON response per line out.

    {"id": 3, "op": "train", "timeout": 60, "memory_mb": 2048,
     "module": "attempt-1/train.py", "data": "train.pkl",
     "config": {...}, "seed": 0, "budget": null}
    -> {"id": 3, "status": "success", "result": {"loss": 0.04, ...}, "elapsed": 0.31}

Statuses are SMAC's language: success, timeout, memoryout, crashed. The worker is warm:
heavy packages are imported once, the data is loaded once, and every call runs in a
child forked from this warm parent, so a call that leaks, hangs, crashes or eats memory
takes nothing with it. The child gets its own process group, wall-clock timeout, CPU
limit and address-space limit; after each call every descendant of the worker is killed,
including those that left the group with setsid (the worker is their child subreaper).

The answer channel belongs to this parent alone: a call's child closes it before generated
code runs, and the parent is not dumpable, so no process of a call can reopen it through
/proc/<pid>/fd. A child reports to the parent over a pipe of its own, size-capped.

Only data crosses back: JSON results, never pickles the host would load.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib
import importlib.util
import json
import math
import os
import pickle
import resource
import select
import signal
import sys
import time
import traceback
from pathlib import Path

GRACE_SECONDS = 2.0
OUTPUT_TAIL = 2000  # characters of a failed call's stdout/stderr sent back
# The host reads no answer line longer than this (sandbox/base.py MAX_ANSWER_BYTES; this
# file is self-contained, so the figure is repeated here). A bigger result is a crash.
MAX_ANSWER_BYTES = 64 * 2**20
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
# Where the kernel counts OOM kills of this sandbox's cgroup (v2, then v1), when the backend
# shows the cgroup to the worker (read-only): a SIGKILL is memoryout only if this count rose.
OOM_COUNTERS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")


class ContractError(Exception):
    """Generated code broke its written contract (wrong return type, missing function)."""


class TrainingData:
    """What `train(config, data, ...)` receives: features, target and facts about them.

    `X` is a pandas DataFrame (tabular, text) or a numpy array (images); `y` a numpy
    array; `info` holds the task, metric, CV folds, column types and class labels.
    """

    def __init__(self, X, y, info: dict):
        self.X, self.y, self.info = X, y, info

    def __repr__(self) -> str:
        shape = getattr(self.X, "shape", None)
        return f"TrainingData(X shape={shape}, info keys={list(self.info)})"


def _to_json(value):
    """json.dumps default: numpy scalars and arrays become plain Python."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _load_module(path: Path, name: str):
    if not path.exists():
        raise ContractError(f"generated module not found: {path.name}")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _require(module, name: str):
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ContractError(f"{module.__name__} must define a function {name}()")
    return fn


# ---- operations (run in the forked child) -------------------------------------------


def op_configspace(req: dict, roots: dict, data) -> dict:
    from ConfigSpace import ConfigurationSpace

    module = _load_module(roots["code"] / req["module"], "generated_configspace")
    space = _require(module, "get_configspace")()
    if not isinstance(space, ConfigurationSpace):
        raise ContractError(
            f"get_configspace() must return a ConfigSpace.ConfigurationSpace, got {type(space).__name__}"
        )
    if len(space) == 0:
        raise ContractError("get_configspace() returned an empty configuration space")
    space.seed(req.get("seed", 0))
    n = int(req.get("n_samples", 50))
    samples = space.sample_configuration(n) if n > 1 else [space.sample_configuration()]
    for config in samples:
        space.check_configuration(config)
    default = space.get_default_configuration()
    space.check_configuration(default)
    return {
        "configspace": space.to_serialized_dict(),
        "n_hyperparameters": len(space),
        "default": dict(default),
        "samples": [dict(c) for c in samples],
    }


def op_train(req: dict, roots: dict, data) -> dict:
    module = _load_module(roots["code"] / req["module"], "generated_train")
    train = _require(module, "train")
    seed, budget = int(req.get("seed", 0)), req.get("budget")
    result = train(dict(req["config"]), data, seed=seed, budget=budget)
    if not isinstance(result, dict) or "loss" not in result:
        raise ContractError(f"train() must return a dict with a 'loss' key, got {type(result).__name__}")
    try:
        loss = float(result["loss"])
    except (TypeError, ValueError) as exc:
        raise ContractError(f"train() returned a non-numeric loss: {result['loss']!r}") from exc
    if not math.isfinite(loss):
        raise ContractError(f"train() returned a non-finite loss: {loss}")
    clean = {}
    for key, value in result.items():
        try:
            clean[key] = json.loads(json.dumps(value, default=_to_json))
        except (TypeError, ValueError):
            continue  # drop what cannot be data; the loss is what matters
    clean["loss"] = loss
    return clean


def _predict(module, model, roots: dict, features_file: str) -> dict:
    """The model's predictions (and class probabilities, where it has them) for the
    features in `features_file`, a pickle of {"X": ...} in the data folder."""
    import numpy as np

    predict = _require(module, "predict")
    with open(roots["data"] / features_file, "rb") as fh:
        features = pickle.load(fh)["X"]
    y_pred = np.asarray(predict(model, features))
    if len(y_pred) != len(features):
        raise ContractError(f"predict() returned {len(y_pred)} predictions for {len(features)} rows")
    out = {"y_pred": y_pred.tolist(), "y_proba": None}
    predict_proba = getattr(module, "predict_proba", None)
    if callable(predict_proba):
        proba = predict_proba(model, features)
        if proba is not None:
            out["y_proba"] = np.asarray(proba, dtype=float).tolist()
    return out


def _measure(module, model, roots: dict, features_file: str) -> dict:
    """The fitted model's costs, measured here: milliseconds to predict 1,000 of the rows in
    `features_file` (repeated to 1,000 when fewer; the fastest of three timings) and the
    bytes of the pickled model. The host checks both before it uses them."""
    import numpy as np

    with open(roots["data"] / features_file, "rb") as fh:
        features = pickle.load(fh)["X"]
    batch = np.resize(np.arange(len(features)), 1000)
    rows = features.iloc[batch] if hasattr(features, "iloc") else features[batch]
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        module.predict(model, rows)
        timings.append(time.perf_counter() - started)
    return {"predict_latency": min(timings) * 1000, "model_size": len(pickle.dumps(model))}


def op_fit_predict(req: dict, roots: dict, data) -> dict:
    """Fit the final model on all of `data`, save it, predict the features in `predict`
    (and, with `measure`, time those predictions and weigh the model: see _measure)."""
    module = _load_module(roots["code"] / req["module"], "generated_train")
    _require(module, "predict")  # before the fit: a missing predict() should not cost a refit
    model = _require(module, "fit")(dict(req["config"]), data, seed=int(req.get("seed", 0)))
    if req.get("artifact"):
        if roots.get("artifacts") is None:
            raise ContractError("this sandbox has no artifacts folder to save the model in")
        with open(roots["artifacts"] / req["artifact"], "wb") as fh:
            pickle.dump(model, fh)
    measured = _measure(module, model, roots, req["predict"]) if req.get("measure") else {}
    return {**_predict(module, model, roots, req["predict"]), **measured}


def _load_model(roots: dict, artifact: str):
    if roots.get("artifacts") is None:
        raise ContractError("this sandbox has no artifacts folder to load the model from")
    with open(roots["artifacts"] / artifact, "rb") as fh:
        return pickle.load(fh)


def op_predict(req: dict, roots: dict, data) -> dict:
    """Load a saved model from the artifacts folder and predict the features in `predict`."""
    module = _load_module(roots["code"] / req["module"], "generated_train")
    return _predict(module, _load_model(roots, req["artifact"]), roots, req["predict"])


def op_update_predict(req: dict, roots: dict, data) -> dict:
    """Load a saved model, condition it on `data` (a longer true history than it was fitted
    on) with the module's optional update(model, data), no refit, and predict the features
    in `predict`: one step of a forecast's one-step-ahead evaluation. The host puts into
    the data folder only the history before the step it asks about (nodes/one_step.py)."""
    module = _load_module(roots["code"] / req["module"], "generated_train")
    update = getattr(module, "update", None)
    if not callable(update):
        raise ContractError("train.py defines no update(model, data): no refit-free one-step-ahead forecasts")
    model = update(_load_model(roots, req["artifact"]), data)
    return _predict(module, model, roots, req["predict"])


def op_probe(req: dict, roots: dict, data) -> dict:
    """Facts about the sandbox itself, for the isolation tests and the run log."""
    return {
        "uid": os.getuid(),
        "cwd": os.getcwd(),
        "env": sorted(os.environ),
        "python": sys.version.split()[0],
        "pid": os.getpid(),
    }


OPS = {
    "configspace": op_configspace,
    "train": op_train,
    "fit_predict": op_fit_predict,
    "predict": op_predict,
    "update_predict": op_update_predict,
    "probe": op_probe,
}


# ---- isolation of one call -----------------------------------------------------------


def _limit_child(req: dict) -> None:
    timeout = float(req.get("timeout", 60))
    cpus = max(1, int(req.get("cpus", 1)))
    cpu_seconds = int(math.ceil(timeout * cpus + 5))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    memory_mb = req.get("memory_mb")
    if memory_mb:
        # Address space is what the kernel lets us cap per process: allow the warm
        # parent's current mapping plus the trial's own allowance.
        with open("/proc/self/statm") as fh:
            current = int(fh.read().split()[0]) * resource.getpagesize()
        limit = current + int(memory_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _child(req: dict, roots: dict, data, write_fd: int, log_path: str) -> None:
    me = os.getpid()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    try:
        _limit_child(req)
        if isinstance(data, Exception):
            raise data
        payload = {"ok": True, "result": OPS[req["op"]](req, roots, data)}
    except MemoryError:
        payload = {
            "ok": False,
            "kind": "memoryout",
            "error": "MemoryError: out of memory",
            "traceback": traceback.format_exc()[-OUTPUT_TAIL:],
        }
    except BaseException as exc:  # noqa: BLE001 - everything generated code raises is data
        payload = {
            "ok": False,
            "kind": "crashed",
            "error": f"{type(exc).__name__}: {exc}"[:500],
            "traceback": traceback.format_exc()[-OUTPUT_TAIL:],
        }
    if os.getpid() != me:
        # A process the generated code forked (and that returned from train) must not
        # write a second answer into the result pipe.
        os._exit(1)
    try:
        body = json.dumps(payload, default=_to_json).encode()
    except (TypeError, ValueError) as exc:
        failure = {"ok": False, "kind": "crashed", "error": f"result is not JSON: {exc}"}
        body = json.dumps(failure).encode()
    # Newline-terminated, so the parent need not wait for EOF: that comes only after this
    # process's memory is torn down, or never if the code left a process holding the pipe.
    view = memoryview(body + b"\n")
    while view:
        written = os.write(write_fd, view)
        view = view[written:]
    os._exit(0)


class ResultTooLarge(Exception):
    pass


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Read a pipe until the answer's newline, EOF or the deadline; returns (bytes, done).
    Raises ResultTooLarge past MAX_ANSWER_BYTES, so a huge result cannot fill this parent."""
    body = bytearray()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(body), False
        if not poller.poll(remaining * 1000):
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return bytes(body), True
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise ResultTooLarge
        if chunk.endswith(b"\n"):
            return bytes(body), True


def _tail(path: str) -> str:
    """The end of a call's log; only the end is read, however much the call printed."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4 * OUTPUT_TAIL))
            return fh.read().decode(errors="replace")[-OUTPUT_TAIL:]
    except OSError:
        return ""


def _oom_kills() -> int | None:
    """How many processes the kernel's OOM killer has killed in this sandbox's cgroup."""
    for path in OOM_COUNTERS:
        try:
            with open(path) as fh:
                for line in fh:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


class Spare:
    """A child forked ahead of its call (forking a warm parent costs ~10 ms): it waits
    for its request on a pipe, then runs it as `_child`."""

    def __init__(self, roots: dict, cache: DataCache):
        request_read, self.request_fd = os.pipe()
        self.result_fd, result_write = os.pipe()
        # Move the warm parent's objects out of the collector's sight: a collection in the
        # child would otherwise write to every object and copy the whole heap page by page.
        gc.freeze()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.request_fd)
            os.close(self.result_fd)
            _spare_child(request_read, result_write, roots, cache)
        os.close(request_read)
        os.close(result_write)

    def discard(self) -> None:
        os.close(self.request_fd)
        os.close(self.result_fd)
        _kill_group(self.pid)
        os.waitpid(self.pid, 0)


def _spare_child(request_fd: int, result_fd: int, roots: dict, cache: DataCache) -> None:
    os.setsid()  # its own process group, so a call and everything it forks die together
    for fd in _protocol_fds:  # generated code must not talk to the host directly
        os.close(fd)
    with os.fdopen(request_fd, "rb") as fh:
        line = fh.readline()
    if not line:
        os._exit(0)  # the worker went away or discarded this spare
    req = json.loads(line)
    log_path = os.path.join(roots["tmp"], f"call-{req.get('id', 0)}.log")
    try:
        data = cache.get(req.get("data"))  # in the cache unless new since this fork
        if req.get("info") and isinstance(data, TrainingData):  # the plan's facts (e.g. its metric) win
            data = TrainingData(data.X, data.y, {**data.info, **req["info"]})
    except Exception as exc:  # noqa: BLE001 - reported like any failure of the call
        data = exc
    _child(req, roots, data, result_fd, log_path)


_spare: Spare | None = None
_protocol_fds: list[int] = []  # the worker's request and response fds, closed in children


def prepare_next_call(roots: dict, cache: DataCache) -> None:
    """Fork the next call's child now, while the host is busy with the last answer."""
    global _spare
    if _spare is None:
        _spare = Spare(roots, cache)


def run_isolated(req: dict, roots: dict, cache: DataCache) -> dict:
    global _spare
    timeout = float(req.get("timeout", 60))
    log_path = os.path.join(roots["tmp"], f"call-{req.get('id', 0)}.log")
    spare, _spare = _spare or Spare(roots, cache), None
    pid, read_fd = spare.pid, spare.result_fd
    oom_before = _oom_kills()
    start = time.monotonic()
    try:
        os.write(spare.request_fd, json.dumps(req, default=_to_json).encode() + b"\n")
    except BrokenPipeError:
        pass  # the spare died (e.g. killed from outside): reported below as a crash
    os.close(spare.request_fd)
    too_large = False
    try:
        body, finished = _read_until(read_fd, start + timeout)
    except ResultTooLarge:
        body, finished, too_large = b"", True, True
    os.close(read_fd)
    if not finished or too_large:
        _kill_group(pid)
    if finished and body:
        # The child answered: it and every other process of the call are killed and
        # reaped after the response is sent (kill_call_processes), so the host does not
        # wait for the teardown of a copy of the warm parent.
        wait_status = 0
    else:
        _, wait_status = os.waitpid(pid, 0)
        _kill_group(pid)  # stray grandchildren of the call go too
    elapsed = time.monotonic() - start
    response = {"elapsed": elapsed, "result": None, "error": None, "traceback": None}
    output = _tail(log_path)
    try:
        os.unlink(log_path)
    except OSError:
        pass
    if too_large:
        return {
            **response,
            "status": "crashed",
            "output": output,
            "error": f"the result is larger than {MAX_ANSWER_BYTES // 2**20} MiB",
        }
    if not finished:
        return {
            **response,
            "status": "timeout",
            "output": output,
            "error": f"exceeded the wall-clock limit of {timeout:g} s",
        }
    if body:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"ok": False, "kind": "crashed", "error": "the call sent back a garbled result"}
        if payload["ok"]:
            return {**response, "status": "success", "result": payload["result"]}
        status = "memoryout" if payload["kind"] == "memoryout" else "crashed"
        return {
            **response,
            "status": status,
            "error": payload["error"],
            "traceback": payload.get("traceback"),
            "output": output,
        }
    # The child died before it could answer: a signal or os._exit.
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        name = signal.Signals(sig).name
        if sig == signal.SIGKILL:
            # Not ours (we did not time out). Out of memory only if the kernel says so: a
            # call that kills itself, or is killed by another process of the call, crashed.
            oom_after = _oom_kills()
            if oom_before is not None and oom_after is not None and oom_after > oom_before:
                return {
                    **response,
                    "status": "memoryout",
                    "output": output,
                    "error": "killed by the kernel's OOM killer (out of memory)",
                }
            return {
                **response,
                "status": "crashed",
                "output": output,
                "error": "killed by signal SIGKILL (not by the OOM killer)",
            }
        if sig == signal.SIGXCPU:
            return {**response, "status": "timeout", "output": output, "error": "exceeded the CPU-time limit (SIGXCPU)"}
        if sig == signal.SIGXFSZ:
            return {
                **response,
                "status": "crashed",
                "output": output,
                "error": "wrote a file beyond the sandbox's file size limit (SIGXFSZ)",
            }
        return {**response, "status": "crashed", "output": output, "error": f"killed by signal {name}"}
    code = os.WEXITSTATUS(wait_status)
    return {
        **response,
        "status": "crashed",
        "output": output,
        "error": f"the process exited with code {code} before returning a result",
    }


def _descendants() -> tuple[list[int], list[int]]:
    """(living, zombie) processes below this one, from /proc (the sandbox's own /proc in
    the isolating backends, so the scan is short)."""
    children: dict[int, list[int]] = {}
    zombies = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
        if fields[0] == b"Z":
            zombies.add(int(entry))
    found, frontier = [], [os.getpid()]
    while frontier:
        below = children.get(frontier.pop(), [])
        found += below
        frontier += below
    return [p for p in found if p not in zombies], [p for p in found if p in zombies]


def kill_call_processes() -> None:
    """Kill and reap every descendant of the worker: the answered child and whatever the
    call left behind. Processes that called setsid (daemons) are found too: this parent is
    a child subreaper, so orphans of a call become its children rather than init's. Killed
    processes cannot fork, so the rounds end; a fork bomb is also held by RLIMIT_NPROC."""
    for _ in range(1000):
        living, _zombies = _descendants()
        for pid in living:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap()
        if not living:
            return
        time.sleep(0.001)  # let the killed ones finish exiting


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# ---- the warm parent -------------------------------------------------------------------


class DataCache:
    def __init__(self, root: Path):
        self.root, self.loaded = root, {}

    def get(self, name: str | None):
        if not name:
            return None
        if name not in self.loaded:
            with open(self.root / name, "rb") as fh:
                raw = pickle.load(fh)
            self.loaded[name] = TrainingData(raw["X"], raw["y"], raw.get("info", {}))
        return self.loaded[name]


def _warm_imports() -> dict:
    """Import what generated code uses, once, before any fork."""
    versions = {}
    for name in ("numpy", "pandas", "scipy", "sklearn", "ConfigSpace"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", "?")
        except ImportError:
            versions[name] = None
    # Pull in what the templates (and most generated code) use, so a child's imports are
    # dictionary lookups instead of ~100 ms of module loading per call.
    for name in (
        "sklearn.compose",
        "sklearn.ensemble",
        "sklearn.impute",
        "sklearn.linear_model",
        "sklearn.metrics",
        "sklearn.model_selection",
        "sklearn.neighbors",
        "sklearn.neural_network",
        "sklearn.pipeline",
        "sklearn.preprocessing",
        "sklearn.svm",
        "sklearn.tree",
    ):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    return versions


def _warm_code_paths() -> None:
    """Run a tiny scikit-learn cross-validation on a DataFrame once in the parent.

    Library code only. A child forked from a parent that never fitted a model pays on
    every call for lazy imports (scikit-learn's DataFrame support loads narwhals' pandas
    backend on first use) and first-use set-up: 50-150 ms. Paid here, once, every child
    inherits it. One thread only, so that no BLAS/OpenMP thread pool exists at fork time.
    """
    try:
        import numpy as np
        import pandas as pd
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_validate
        from sklearn.pipeline import Pipeline, make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"a": rng.normal(size=60), "b": rng.normal(size=60), "c": np.array(["x", "y", "z"] * 20, dtype=object)}
    )
    y = np.arange(60) % 3
    columns = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(), StandardScaler()), ["a", "b"]),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), ["c"]),
        ]
    )
    model = Pipeline([("columns", columns), ("model", LogisticRegression())])
    with threadpool_limits(1):
        cross_validate(model, X, y, cv=StratifiedKFold(3, shuffle=True, random_state=0), scoring="accuracy")
        model.fit(X, y).predict_proba(X)


def serve(requests, responses, roots: dict, quiet_after_start: bool = False) -> None:
    versions = _warm_imports()
    _warm_code_paths()
    data = DataCache(roots["data"])
    _protocol_fds[:] = [requests.fileno(), responses.fileno()]
    prepare_next_call(roots, data)

    def send(message: dict) -> None:
        line = (json.dumps(message, default=_to_json) + "\n").encode()
        if len(line) > MAX_ANSWER_BYTES:  # JSON escaping can grow a result past the cap
            line = (
                json.dumps(
                    {
                        "id": message.get("id"),
                        "status": "crashed",
                        "result": None,
                        "error": f"the answer is larger than {MAX_ANSWER_BYTES // 2**20} MiB",
                    }
                )
                + "\n"
            ).encode()
        responses.write(line)
        responses.flush()

    send({"id": 0, "status": "ready", "versions": versions, "pid": os.getpid()})
    if quiet_after_start:
        # From now on the worker's own output stays inside the sandbox: the descriptors it
        # was started with lead to the host, and a process of a call could reopen them
        # through the PID 1 that holds copies (/proc/1/fd). The host caps what it reads there.
        log = os.open(os.path.join(roots["tmp"], "worker.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
    for line in requests:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
        except json.JSONDecodeError as exc:
            send({"id": None, "status": "crashed", "error": f"bad request: {exc}"})
            continue
        op = req.get("op")
        if op == "shutdown":
            if _spare is not None:
                _spare.discard()
            send({"id": req.get("id"), "status": "success", "result": None})
            return
        if op == "ping":
            send({"id": req.get("id"), "status": "success", "result": {"versions": versions}})
            continue
        if op not in OPS:
            send({"id": req.get("id"), "status": "crashed", "error": f"unknown op {op!r}"})
            continue
        try:
            data.get(req.get("data"))  # loaded once, here; every later child inherits it
        except Exception as exc:  # noqa: BLE001 - a missing or bad data file is a crash
            send({"id": req.get("id"), "status": "crashed", "error": f"cannot load data {req.get('data')!r}: {exc}"})
            continue
        send({"id": req.get("id"), **run_isolated(req, roots, data)})
        kill_call_processes()
        prepare_next_call(roots, data)
    if _spare is not None:
        _spare.discard()


def harden_parent(max_file_mb: int | None, max_processes: int | None) -> None:
    """Before anything else: close this process to the calls it forks, and set the limits
    every process of the sandbox inherits. Fails loudly: a worker that cannot do this must
    not serve."""
    libc = ctypes.CDLL(None, use_errno=True)

    def prctl(option: int, value: int, name: str) -> None:
        if libc.prctl(option, value, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl({name}) failed")

    # Not dumpable: /proc/<pid>/fd (the answer channel) and ptrace of this process are
    # closed to the processes of a call, which run as the same uid. Children inherit it.
    prctl(PR_SET_DUMPABLE, 0, "PR_SET_DUMPABLE")
    # Orphans of a call (a setsid daemon) become children of this process, not of init,
    # so that kill_call_processes finds them.
    prctl(PR_SET_CHILD_SUBREAPER, 1, "PR_SET_CHILD_SUBREAPER")
    if max_file_mb:  # no file (a call's log, a model) larger than this: EFBIG past it
        size = max_file_mb * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    if max_processes:  # counted per user namespace: only where the sandbox has its own
        resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", required=True, help="folder of generated modules (read-only)")
    parser.add_argument("--data", required=True, help="folder of data files (read-only)")
    parser.add_argument("--artifacts", help="folder where fit_predict saves the model")
    parser.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"))
    parser.add_argument("--io", help="folder with 'requests' and 'responses' FIFOs (else stdin/stdout)")
    parser.add_argument("--max-file-mb", type=int, help="largest file any process may write")
    parser.add_argument(
        "--max-processes", type=int, help="RLIMIT_NPROC (only in a user namespace of the sandbox's own)"
    )
    args = parser.parse_args(argv)
    harden_parent(args.max_file_mb, args.max_processes)
    roots = {
        "code": Path(args.code),
        "data": Path(args.data),
        "artifacts": Path(args.artifacts) if args.artifacts else None,
        "tmp": args.tmp,
    }
    if args.io:
        responses = open(Path(args.io) / "responses", "wb")  # noqa: SIM115
        requests = open(Path(args.io) / "requests", "rb")  # noqa: SIM115
    else:
        # The protocol owns the real stdout; stray prints of imported code go to stderr.
        responses = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        requests = sys.stdin.buffer
    serve(requests, responses, roots, quiet_after_start=bool(args.io))


if __name__ == "__main__":
    main()
