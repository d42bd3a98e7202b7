"""The run configuration: YAML validated by pydantic, with one-line errors.

    python -m graph.run configs/iris.yaml --set optimizer.n_trials=20

Every section forbids unknown keys, so a typo is an error that names the field and what
is allowed instead of a silently ignored setting.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sandbox import BACKENDS, Limits
from tools.errors import ConfigError
from tools.llm import LLMSettings
from tools.machine import usable_cores, usable_memory_mb
from tools.pareto import Rule, check_objectives, parse_rule
from tools.templates import all_families
from tools.vocabulary import FACADES, METRICS, TASKS, metric_misfit

__all__ = ["ConfigError", "RunConfig", "load_config", "parse_config"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatasetConfig(Section):
    name: str | None = Field(None, description="a bundled data set (iris, wine, diabetes, ...)")
    path: str | None = Field(None, description="your own CSV or Parquet file")
    target: str | None = Field(None, description="the target column of your file")
    test_path: str | None = Field(None, description="your own test split (then none is cut)")
    task: Literal[("auto", *TASKS)] = Field("auto", description="inferred from the target when auto")
    test_size: float = Field(0.2, gt=0, lt=1, description="share of rows sealed as the test split")
    options: dict[str, Any] = Field(default_factory=dict, description="options for the loader")

    @model_validator(mode="after")
    def _one_source(self) -> DatasetConfig:
        if bool(self.name) == bool(self.path):
            raise ValueError("give either dataset.name (a bundled data set) or dataset.path (your file)")
        if self.path and not self.target:
            raise ValueError("dataset.target: name the target column of your file")
        return self


class OptimizerConfig(Section):
    facade: Literal[("auto", *FACADES)] = "auto"
    # On most data the walltime ends a search first. On small data (a few hundred rows) 200
    # trials take a fraction of a 300 s budget, and they stop the search by design: using
    # the rest (up to 743 trials) did not raise the development sets' test scores
    # (bench/automl_benchmark.md, "The trial bound at 300 s").
    n_trials: int = Field(200, ge=1, description="SMAC trials (configurations evaluated), at most")
    walltime: float = Field(
        600.0, gt=0, description="wall-clock budget of the whole run, start to deployed model, seconds"
    )
    workers: int = Field(
        "auto",
        ge=1,
        le=64,
        validate_default=True,
        description="parallel trials, one warm sandbox each; auto: one per usable core",
    )
    dask: str | None = Field(
        None,
        description="run the trials on Dask: 'local' starts a LocalCluster of `workers` processes, "
        "tcp://host:port uses the workers of a running scheduler (they need the run "
        "folder at the same path); default: threads in this process",
    )
    cv_folds: int = Field(5, ge=2, le=20, description="cross-validation folds inside the training split")
    families: list[Literal[all_families()]] | None = Field(
        None, description="restrict the model families (those that serve the data are kept)"
    )
    max_crash_share: float = Field(0.5, ge=0, le=1, description="stop and recode above this share of crashed trials")
    crash_check_after: int = Field(
        5, ge=1, description="trials of a training function before its crash share is judged"
    )

    @field_validator("workers", mode="before")
    @classmethod
    def _auto_workers(cls, workers):
        # Resolved here, so the run folder's config.yaml says how many workers the run had.
        if workers == "auto":
            return usable_cores()
        if isinstance(workers, str) and not workers.strip().isdigit():
            raise ValueError(f"optimizer.workers: a whole number of parallel trials, or auto (got {workers!r})")
        return workers

    @field_validator("dask")
    @classmethod
    def _dask_address(cls, address: str | None) -> str | None:
        if address is None or address == "local":
            return address
        parts = urlsplit(address)
        if parts.scheme not in ("tcp", "tls") or not parts.port:
            raise ValueError(
                f"optimizer.dask: expected 'local' or a scheduler address such as tcp://host:8786, got {address!r}"
            )
        return address


class CoderConfig(Section):
    max_code_attempts: int = Field(3, ge=1, le=20, description="attempts per component before giving up")
    fallback: Literal["builtin", "stop"] = Field(
        "builtin",
        description="when an LLM coder's attempts are used up: builtin = the template "
        "coder writes that component once more, stop = the run stops with the verifier's report",
    )
    max_recodes: int = Field(
        2, ge=0, le=10, description="times an LLM training function whose trials crash goes back to its coder"
    )


class VerifyConfig(Section):
    n_configs: int = Field(
        4,
        ge=1,
        le=100,
        description="random configurations an LLM's training function is verified on (beside the default; "
        "the built-in one is verified on its default only)",
    )
    n_samples: int = Field(200, ge=10, description="configurations sampled from the space")
    subsample: int = Field(300, ge=20, description="training rows used to verify")
    timeout: float = Field(120.0, gt=0, description="seconds per verification call")


class SandboxConfig(Section):
    backend: Literal[BACKENDS] = "auto"
    trial_timeout: float = Field(300.0, gt=0, description="wall-clock seconds per trial")
    memory_mb: int = Field(4096, ge=256, description="memory per trial")
    cpus: float = Field(1.0, gt=0, description="CPU share per sandbox")
    pids: int = Field(256, ge=16, description="process limit per sandbox (docker)")

    def limits(self, timeout: float | None = None) -> Limits:
        """What one sandbox call may use (the trial timeout unless given)."""
        return Limits(timeout=timeout or self.trial_timeout, memory_mb=self.memory_mb, cpus=self.cpus, pids=self.pids)


class RunConfig(Section):
    name: str | None = Field(None, description="run folder name; defaults to the config file's name")
    objective: str = Field("", description="what you want, in words (given to the planner)")
    metric: Literal[("auto", *METRICS)] = "auto"
    objectives: list[str] | None = Field(
        None,
        description="several objectives: the metric first, then any of train_seconds, predict_latency, "
        "model_size (tools/vocabulary.py); default: the metric alone",
    )
    select: str | dict[str, Any] = Field(
        "best",
        description="which model of the front deploy takes: best, knee, {fastest_within: D}, "
        "{max: {OBJECTIVE: BOUND}} (tools/pareto.py)",
    )
    seed: int = 0
    dataset: DatasetConfig
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    coder: CoderConfig = Field(default_factory=CoderConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    checkpoints: str | None = Field(
        None,
        description="PostgreSQL URL for the LangGraph checkpoints (postgresql://user@host:port/db); "
        "default: SQLite in the run folder",
    )

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str | None) -> str | None:
        # The run folder is runs/<name>: a path in the name would put it elsewhere.
        if name is not None and (not name.strip() or name.startswith(".") or re.search(r"[/\\\x00]", name)):
            raise ValueError(f"name: a plain folder name, without '/' and not starting with '.', got {name!r}")
        return name

    @field_validator("checkpoints")
    @classmethod
    def _postgres_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(f"checkpoints: expected a postgresql:// URL, got {url!r}")
        if parts.password:
            # The resolved config is saved in the run folder; libpq reads passwords elsewhere.
            raise ValueError(
                "checkpoints: keep the password out of the URL (it is saved in the run folder); "
                "set PGPASSWORD or use ~/.pgpass"
            )
        return url

    @model_validator(mode="after")
    def _memory_fits_workers(self) -> RunConfig:
        """Parallel sandboxes share the machine: each gets at most its share of the memory
        this process may use (a quarter kept for the agent and the system)."""
        share = int(usable_memory_mb() * 0.75) // self.optimizer.workers
        if self.sandbox.memory_mb > share >= 256:
            object.__setattr__(self.sandbox, "memory_mb", share)
        return self

    @model_validator(mode="after")
    def _objectives_and_rule(self) -> RunConfig:
        """The first objective is the run's metric; the rule must fit the others."""
        if self.objectives is not None:
            check_objectives(self.objectives, METRICS)
            first = self.objectives[0]
            if self.metric not in ("auto", first):
                raise ValueError(
                    f"objectives: the first, {first!r}, must be the run's metric {self.metric!r}; "
                    f"put {self.metric} first or set metric: {first}"
                )
            object.__setattr__(self, "metric", first)
        if self.extra_objectives and self.optimizer.facade == "multi_fidelity":
            raise ValueError(
                "optimizer.facade: multi_fidelity cannot search several objectives (SMAC's successive "
                "halving would rank a front's models on different budgets); use auto, hpo or random"
            )
        parse_rule(self.select, self.extra_objectives)
        return self

    @property
    def extra_objectives(self) -> list[str]:
        """What the metric is traded against (none for a single-objective run)."""
        return list(self.objectives[1:]) if self.objectives else []

    def rule(self) -> Rule:
        return parse_rule(self.select, self.extra_objectives)

    @model_validator(mode="after")
    def _metric_fits_task(self) -> RunConfig:
        if "auto" not in (self.metric, self.dataset.task):
            misfit = metric_misfit(self.dataset.task, self.metric)
            if misfit:
                raise ValueError(misfit)
        return self


def _describe(error: dict, model: type[BaseModel]) -> str:
    """One line for one pydantic error: the dotted field, what is wrong, what is allowed."""
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        section: Any = model
        for part in error["loc"][:-1]:
            section = section.model_fields[part].annotation
        allowed = ", ".join(getattr(section, "model_fields", {}))
        return f"{where}: unknown field; allowed here: {allowed}"
    if error["type"] == "missing":
        return f"{where}: required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    if not where:
        return message
    if message.startswith(where.split(".")[0]):
        return message
    if error["type"] == "value_error":
        return f"{where}: {message}"
    return f"{where}: {message} (got {error.get('input')!r})"


MAX_YAML_VALUES = 10_000  # a config is small; more values than this means an alias bomb


def read_yaml(text: str, where: str) -> Any:
    """YAML as data, safely: no tags that build objects, and aliases that may not expand past
    MAX_YAML_VALUES values (a few lines can otherwise expand to billions)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        sizes: dict[int, int] = {}

        def expanded(node) -> int:  # aliases share a node: count each once, multiply by uses
            if id(node) not in sizes:
                sizes[id(node)] = 0  # a recursive alias counts as empty while being sized
                children = node.value if isinstance(node.value, list) else []
                parts = [v for pair in children for v in (pair if isinstance(pair, tuple) else (pair,))]
                sizes[id(node)] = min(1 + sum(expanded(p) for p in parts), MAX_YAML_VALUES + 1)
            return sizes[id(node)]

        if root is not None and expanded(root) > MAX_YAML_VALUES:
            raise ConfigError(
                f"{where}: expands to more than {MAX_YAML_VALUES} values (YAML aliases); write the config out plainly"
            )
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"{where}: not valid YAML{line} ({reason})") from None


def _set_dotted(data: dict, dotted: str, raw: str) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: '{key}' is not a section")
    node[keys[-1]] = read_yaml(raw, f"--set {dotted}")


def parse_config(data: Any, overrides: list[str] | None = None, default_name: str | None = None) -> RunConfig:
    if not isinstance(data, dict):
        raise ConfigError("the config must be a YAML mapping (key: value lines)")
    data = dict(data)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item}: write it as dotted.key=value")
        key, raw = item.split("=", 1)
        _set_dotted(data, key.strip(), raw)
    if default_name and not data.get("name"):
        data["name"] = default_name
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0], RunConfig)) from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the config as UTF-8") from None
    return parse_config(read_yaml(text, str(path)), overrides, default_name=path.stem)
