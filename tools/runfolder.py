"""The run folder: where everything a run makes is written, and its event log.

runs/<name>/
  config.yaml          the resolved configuration
  profile.json         facts about the training split
  plan.json            the planner's decisions and rationale
  code/attempts/      every generated component, attempt by attempt
  code/final/          the verified components that the optimizer used
  reports/             verification reports, one per attempt
  sandbox_data/        what the sandbox may read: the training split only
  sealed/              the test split (and the training target for the host's baselines);
                       never mounted into a sandbox, never in a prompt
  model_inputs.json    the columns (or array shape) the model takes, its classes
  smac/                SMAC's own output (run history, resumable)
  oof/                 the best trials' out-of-fold predictions (.npy), for the ensemble
  trials.csv           every trial: configuration, status, loss, time
  builtin_trials.json  beside an LLM's training function: the built-in portfolio's trials
  model/               the refit model and its configuration
  budget.json          the walltime split: before the search, the search, deploy
  metrics.json         CV and test scores, wall time, trial counts
  report.md            a readable account with plots
  checkpoints.sqlite   LangGraph checkpoints (resume); or run_id, its thread in PostgreSQL
  events.jsonl         what happened, when
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What the sandbox sees, by the names it sees them under: the run's `code/` and
# `sandbox_data/` folders are mounted as its code and data folders.
SANDBOX_TRAIN_DATA = "train.pkl"  # the whole training split
SANDBOX_VERIFY_DATA = "verify.pkl"  # a small sample of it, for verification
SANDBOX_VERIFY_FEATURES = "verify_features.pkl"  # the sample's features alone
SANDBOX_PREDICT_FEATURES = "predict.pkl"  # rows to predict (deploy: the sealed features, then removed)
SANDBOX_FINAL_TRAIN = "final/train.py"  # the verified training function
# The template's own space and training function, run beside an LLM's (nodes/alongside.py).
SANDBOX_BUILTIN_SPACE = "final/builtin/configspace.py"
SANDBOX_BUILTIN_TRAIN = "final/builtin/train.py"
TRAIN_MODULES = (SANDBOX_FINAL_TRAIN, SANDBOX_BUILTIN_TRAIN)  # what a deployed model may be fitted by
SANDBOX_MODEL = "model.pkl"  # the refit model, inside the artifacts folder (an ensemble's: model-<n>.pkl)


@dataclass(frozen=True)
class RunFolder:
    """Every file a node reads or writes, by name: nodes use these, never literals."""

    root: Path

    CONFIG = "config.yaml"
    PROFILE = "profile.json"
    PLAN = "plan.json"
    SEARCH = "search.json"
    TRIALS_TABLE = "trials.csv"
    TRIALS_LOG = "trials.jsonl"
    METRICS = "metrics.json"
    REPORT = "report.md"
    TRIALS_PLOT = "report_trials.png"
    FRONT_PLOT = "report_front.png"  # a multi-objective run's front
    EVENTS = "events.jsonl"
    CHECKPOINTS = "checkpoints.sqlite"
    RUN_ID = "run_id"  # the run's thread when its checkpoints are in PostgreSQL
    USAGE = "usage.json"
    LLM_CALLS = "llm_calls.jsonl"
    MODEL_CONFIG = "model/config.json"
    MODEL_INPUTS = "model_inputs.json"  # what the model takes and predicts (graph.predict reads it)
    BUILTIN_TRIALS = "builtin_trials.json"  # the built-in portfolio's trials beside an LLM's search
    BUDGET = "budget.json"  # the run's walltime split: before the search, the search, deploy
    ENSEMBLE = "model/ensemble.json"  # the deployed ensemble's members and weights, when there is one
    # Folders (the properties below create them when first asked).
    CODE = "code"
    DATA = "sandbox_data"
    SEALED = "sealed"
    MODEL = "model"

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).absolute())

    @property
    def name(self) -> str:
        return self.root.name

    def path(self, *parts: str) -> Path:
        target = self.root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def folder(self, *parts: str) -> Path:
        target = self.root.joinpath(*parts)
        target.mkdir(parents=True, exist_ok=True)
        return target

    @property
    def code(self) -> Path:
        return self.folder(self.CODE)

    @property
    def sandbox_data(self) -> Path:
        return self.folder(self.DATA)

    @property
    def sealed(self) -> Path:
        return self.folder(self.SEALED)

    @property
    def final_code(self) -> Path:
        """The verified components the search and deploy use."""
        return self.folder(self.CODE, "final")

    @property
    def final_space(self) -> Path:
        """The verified configuration space as ConfigSpace JSON (data, not code)."""
        return self.final_code / "configspace.json"

    @property
    def final_scenario(self) -> Path:
        return self.final_code / "scenario.py"

    @property
    def train_data(self) -> Path:
        return self.sandbox_data / SANDBOX_TRAIN_DATA

    @property
    def sealed_test(self) -> Path:
        return self.sealed / "test.pkl"

    @property
    def training_target(self) -> Path:
        """The training target as numbers (class indices in sorted-class order, or values; no
        pickle), for the host's ensemble selection and baselines, in the folder no sandbox sees."""
        return self.sealed / "train_target.npy"

    @property
    def model(self) -> Path:
        return self.folder(self.MODEL)

    @property
    def smac(self) -> Path:
        return self.folder("smac")

    @property
    def checkpoints(self) -> Path:
        return self.path(self.CHECKPOINTS)

    def out_of_fold(self, recodes: int = 0) -> Path:
        """The best trials' out-of-fold predictions (.npy), for the ensemble; one folder per
        training function (a recoded one validates differently)."""
        return self.folder("oof") if not recodes else self.folder("oof", f"recode-{recodes}")

    def attempt(self, component: str, attempt: int) -> str:
        """Where an attempt lives, relative to the code folder (as the sandbox sees it)."""
        return f"attempts/{component}-{attempt}.py"

    def verify_report(self, round_number: int) -> str:
        return f"reports/verify-{round_number}.json"

    def crash_report(self, recode: int) -> str:
        """The crashed trials that sent train back to its coder the `recode`-th time."""
        return f"reports/crashes-{recode}.json"

    def abandoned_trials(self, recode: int) -> str:
        """The trials of a search abandoned for crashes, before the `recode`-th recode."""
        return f"trials-abandoned-{recode}.csv"

    def write_json(self, name: str, data: Any) -> Path:
        target = self.path(name)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=_plain))
        tmp.replace(target)  # atomic: a kill never leaves half a file
        return target

    def read_json(self, name: str, default: Any = None) -> Any:
        target = self.root / name
        return json.loads(target.read_text()) if target.exists() else default

    def event(self, node: str, message: str, **data: Any) -> None:
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "node": node, "message": message, **data}
        with open(self.path(self.EVENTS), "a") as fh:
            fh.write(json.dumps(record, default=_plain) + "\n")

    def events(self) -> list[dict]:
        target = self.root / self.EVENTS
        if not target.exists():
            return []
        return [json.loads(line) for line in target.read_text().splitlines() if line.strip()]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def new_run_dir(runs_dir: str | Path, name: str) -> Path:
    """Create runs/<name>, or runs/<name>-2, -3 ... when that exists: never overwrite a run.
    Created here, atomically (mkdir fails if another run took the name meanwhile)."""
    root = Path(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        candidate = root / (name if n == 1 else f"{name}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1


class RunFolderBusy(RuntimeError):
    """Another process holds the run folder."""


@contextmanager
def exclusive(run_dir: Path):
    """Hold the run folder for this process's life: a second run or resume of the same
    folder is refused (RunFolderBusy names the holder) instead of running trials twice. The
    kernel releases the lock when the process dies, kill -9 included."""
    path = Path(run_dir) / ".lock"
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise RunFolderBusy(f"{run_dir} is in use by {holder}; wait for it to end or stop it") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()
    try:
        yield
    finally:
        handle.close()
