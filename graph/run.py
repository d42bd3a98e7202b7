"""The command line: python -m graph.run CONFIG [--resume] [--runs-dir DIR] [--set key=value ...]

Exit codes: 0 done, 2 bad input (config, data set, missing dependency), 1 the run
failed, 130 interrupted (resume it with --resume).
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import time
import uuid
from contextlib import closing, contextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.errors import InvalidUpdateError

from graph.builder import build_graph
from graph.config import RunConfig, load_config
from nodes.common import close_started_ahead
from sandbox import BACKENDS, SandboxError, choose_backend, isolates
from tools import budget, inputs
from tools.dask_trials import DaskError, connect
from tools.datasets import DatasetError
from tools.errors import ConfigError, RunFailed, first_line
from tools.llm import LLMConfigError, read_api_key
from tools.metrics import loss_to_score
from tools.pareto import models
from tools.runfolder import RunFolder, RunFolderBusy, exclusive, new_run_dir

EXIT_DONE, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m graph.run", description=__doc__.splitlines()[0])
    parser.add_argument("config", help="run configuration (YAML), e.g. configs/iris.yaml")
    parser.add_argument("--resume", action="store_true", help="continue the run of this config")
    parser.add_argument("--runs-dir", default="runs", help="where run folders go (default: runs)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field for this run, e.g. optimizer.n_trials=20",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only the summary")
    return parser.parse_args(argv)


SQLITE = RunFolder.CHECKPOINTS  # a run's checkpoints in its own folder (the default)
RUN_ID = RunFolder.RUN_ID  # or its thread in the PostgreSQL database of `checkpoints:`


def find_run(runs_dir: Path, name: str) -> Path | None:
    """The run to resume: runs/<name>, or its newest numbered sibling with checkpoints."""
    candidates = [runs_dir / name, *runs_dir.glob(f"{name}-*")]
    candidates = [c for c in candidates if (c / SQLITE).exists() or (c / RUN_ID).exists()]

    def last_activity(run: Path) -> float:
        return max(p.stat().st_mtime for p in (run / SQLITE, run / RUN_ID, run / RunFolder.EVENTS) if p.exists())

    return max(candidates, key=last_activity, default=None)


# Fields a --resume may change (printed, applied); any other change is refused, naming it.
SAFE_ON_RESUME = (
    "optimizer.n_trials",
    "optimizer.walltime",
    "optimizer.workers",
    "llm.max_tokens",
    "llm.max_cost_usd",
    "llm.max_output_tokens",
    "sandbox.trial_timeout",
    "sandbox.memory_mb",
)
EXTENDS_SEARCH = ("optimizer.n_trials", "optimizer.walltime")


def _flat(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_changes(stored: dict, given: dict) -> dict[str, tuple]:
    """Fields whose value differs between a run's stored config and the one given now."""
    old, new = _flat(stored), _flat(given)
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def check_postgres(url: str) -> None:
    """A ConfigError, in one line, unless the PostgreSQL database at `url` takes a connection."""
    import psycopg  # here, not at the top: 0.6 s of every run's start, for runs that use it

    try:
        psycopg.connect(url).close()
    except psycopg.OperationalError as exc:
        raise ConfigError(f"checkpoints: cannot connect to {url}: {first_line(exc)}") from None


@contextmanager
def open_checkpoints(config: RunConfig, run_dir: Path):
    """(checkpointer, thread id): SQLite in the run folder, or the PostgreSQL database the
    config names, where the run's thread is a random id kept in the run folder (run names
    repeat across machines that share the database)."""
    in_postgres, in_sqlite = (run_dir / RUN_ID).exists(), (run_dir / SQLITE).exists()
    if config.checkpoints and in_sqlite:
        raise ConfigError(
            f"{run_dir}: its checkpoints are in {SQLITE}, not PostgreSQL; resume it with checkpoints unset"
        )
    if not config.checkpoints and in_postgres:
        raise ConfigError(f"{run_dir}: its checkpoints are in PostgreSQL; resume it with the same checkpoints URL")
    if not config.checkpoints:
        with closing(sqlite3.connect(run_dir / SQLITE, check_same_thread=False)) as connection:
            yield SqliteSaver(connection), run_dir.name
        return
    check_postgres(config.checkpoints)  # on --resume too: the pool would wait 30 s, then raise
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    # A pool that checks each connection before lending it: a search runs for hours, and a
    # connection cut meanwhile (a server restart, an idle reaper) is replaced, not fatal.
    with ConnectionPool(
        config.checkpoints,
        min_size=1,
        max_size=2,
        open=True,
        check=ConnectionPool.check_connection,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    ) as pool:
        saver = PostgresSaver(pool)
        saver.setup()  # creates or migrates LangGraph's tables; a no-op when they are current
        if not in_postgres:
            (run_dir / RUN_ID).write_text(uuid.uuid4().hex + "\n")
        yield saver, (run_dir / RUN_ID).read_text().strip()


def llm_usage_line(values: dict) -> str | None:
    """Tokens and cost of the run's LLM calls (usage.json), or None without an LLM."""
    usage = RunFolder(values["run_dir"]).read_json(RunFolder.USAGE) if values.get("run_dir") else None
    if not usage:
        return None
    run = usage["run"]
    line = (
        f"  LLM        {usage['endpoint']['model']}: {run['calls']} calls, {run['input_tokens']} "
        f"tokens in, {run['output_tokens']} out, {run['cost_usd']:.4f} USD"
    )
    if usage.get("budget_exceeded"):
        line += " (budget reached)"
    return line


def sandbox_line(backend: str) -> str:
    if backend in BACKENDS and not isolates(backend):
        return f"{backend}: WARNING, UNISOLATED: generated code ran on this machine as this user"
    return backend


def model_line(metrics: dict) -> str:
    ensemble = metrics.get("ensemble")
    if not ensemble:
        return str(metrics["incumbent"].get("model", "?"))
    families = ", ".join(dict.fromkeys(str(m["config"].get("model", "?")) for m in ensemble["members"]))
    return (
        f"an ensemble of {len(ensemble['members'])} trials ({families}); the single best has CV "
        f"{ensemble['single_cv']:.4f}"
    )


def front_lines(metrics: dict) -> list[str]:
    """A multi-objective run's front (CV figures) and the point its rule chose."""
    if "front" not in metrics:
        return []
    metric, *extras = metrics["objectives"]
    chosen = metrics["chosen"]
    lines = [f"  front      {models(len(metrics['front']))}: trial, CV {metric}, {', '.join(extras)}"]
    for point in metrics["front"]:
        mark = "  <- chosen" if point["trial"] == chosen["trial"] else ""
        figures = ", ".join(f"{point[name]:.4g}" for name in extras)
        score, model = loss_to_score(metric, point["loss"]), point["config"].get("model", "?")
        lines.append(f"             {point['trial']:>4}  {score:.4f}  {figures}  {model}{mark}")
    measured = chosen["test_measured"]
    lines.append(
        f"  chosen     trial {chosen['trial']} by {metrics['select']}; on the test rows "
        f"{measured['predict_latency']:.3g} ms per 1,000 rows, {measured['model_size']:.0f} bytes"
    )
    return [*lines, f"             {chosen['why']}"]


def time_line(spent: dict | None) -> list[str]:
    if not spent:
        return []
    return [
        f"  time       {spent['seconds']:.0f} s of the {spent['walltime']:g} s walltime "
        f"({spent['before_search']:.0f} s before the search, {spent['search']:.0f} s search, "
        f"{spent['deploy']:.0f} s deploy)"
    ]


def summary(values: dict) -> str:
    llm = llm_usage_line(values)
    if values.get("failure"):
        return f"run failed: {values['failure']}" + (f"\n{llm}" if llm else "")
    metrics = values["deployment"]["metrics"]
    metric = metrics["metric"]
    test = metrics["test"].get(metric)
    trials = metrics["trials"]
    statuses = ", ".join(f"{k} {v}" for k, v in trials.items() if k != "finished")
    lines = [
        "",
        f"  run        {values['run_dir']}",
        f"  task       {metrics['task']} ({values['profile']['n_rows']} training rows, "
        f"{metrics['test_rows']} sealed test rows)",
        f"  trials     {trials['finished']} ({statuses}) in {metrics['search_seconds']:.0f} s",
        *time_line(metrics.get("time")),
        f"  model      {model_line(metrics)}",
        *front_lines(metrics),
        f"  sandbox    {sandbox_line(values.get('backend', '?'))}",
        f"  CV score   {metric} {metrics['cv'][metric]:.4f}",
        f"  test score {metric} {test:.4f}" if test is not None else f"  test score {metric} n/a",
        "  test       " + ", ".join(f"{k} {v:.4f}" for k, v in metrics["test"].items() if v is not None),
        f"  saved      {metrics['model']}",
        f"  report     {values['deployment']['report']}",
        f"  predict    python -m graph.predict {values['run_dir']} rows.csv -o predictions.csv",
    ]
    if llm:
        lines.append(llm)
    return "\n".join(lines)


def configure_logging(quiet: bool) -> None:
    """Progress lines on stderr. The agent's logger has its own handler because SMAC
    reconfigures the root logger when it is imported."""
    agent = logging.getLogger("automl")
    agent.handlers[:] = [logging.StreamHandler(sys.stderr)]
    agent.handlers[0].setFormatter(logging.Formatter("%(message)s"))
    agent.setLevel(logging.WARNING if quiet else logging.INFO)
    agent.propagate = False


def preflight(config: RunConfig) -> None:
    """Fail fast on bad input, before a run folder exists: the data loads, the target and
    the metric fit, the families asked for exist for this data (`initialize` reuses the data
    this loaded); the sandbox, checkpoint database, Dask scheduler and LLM key are there."""
    inputs.check(config)
    choose_backend(config.sandbox.backend)
    if config.checkpoints:
        check_postgres(config.checkpoints)
    if config.optimizer.dask not in (None, "local"):
        try:
            connect(config.optimizer.dask, config.optimizer.workers)[0].close()
        except DaskError as exc:
            raise ConfigError(str(exc)) from None
    if config.llm.enabled:
        try:
            read_api_key(config.llm.resolve())
        except LLMConfigError as exc:
            raise ConfigError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.quiet)
    runs_dir = Path(args.runs_dir)
    try:
        config = load_config(args.config, args.overrides)
        run_dir = find_run(runs_dir, config.name) if args.resume else None
        if args.resume and run_dir is None:
            raise ConfigError(f"--resume: no run of '{config.name}' in {runs_dir}; start one without --resume")
        if run_dir is None:
            preflight(config)
            try:
                run_dir = new_run_dir(runs_dir, config.name)
            except OSError as exc:  # a file, under a file, read-only, ...
                raise ConfigError(
                    f"--runs-dir {runs_dir}: cannot make a run folder there ({exc.strerror or first_line(exc)})"
                ) from None
    except (ConfigError, DatasetError, SandboxError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ImportError as exc:
        print(f"error: a dependency is missing ({exc}); run `make setup`", file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        with exclusive(run_dir), open_checkpoints(config, run_dir) as (checkpointer, thread_id):
            return run_graph(build_graph(checkpointer), thread_id, run_dir, config, args.config)
    except (ConfigError, RunFolderBusy) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def apply_resume_changes(graph, thread: dict, existing, config: RunConfig):
    """The config given on --resume against the run's own: safe changes are applied (and a
    raised trial count or walltime reopens a finished search for a new deploy); any other
    change is a ConfigError naming the fields. Returns the state to go on from."""
    given = config.model_dump(mode="json")
    changes = config_changes(existing.values["config"], given)
    refused = [key for key in changes if key not in SAFE_ON_RESUME]
    if refused:
        raise ConfigError(
            f"--resume: {', '.join(refused)} differ from the run's config and cannot change on a "
            "resume; change them back, or start a new run without --resume"
        )
    if not changes:
        return existing
    for key, (old, new) in changes.items():
        print(f"resume: {key} {old} -> {new}", file=sys.stderr)
    update: dict = {"config": given}
    extend = [k for k in EXTENDS_SEARCH if k in changes and changes[k][1] > changes[k][0]]
    if extend and existing.values.get("deployment") and not existing.values.get("failure"):
        print("resume: the finished search goes on, then the model is deployed again", file=sys.stderr)
        graph.update_state(thread, {**update, "decision": {"step": "optimize"}, "deployment": None}, as_node="verify")
    else:
        try:
            graph.update_state(thread, update)
        except InvalidUpdateError:  # mid fan-out: no single node to attribute the change to
            raise ConfigError(
                f"--resume: {', '.join(changes)} cannot change at this point of the run; change "
                "them back and resume, then change them on a later resume"
            ) from None
    return graph.get_state(thread)


def run_graph(graph, thread_id: str, run_dir: Path, config: RunConfig, config_path: str) -> int:
    """Start, resume or just summarise the run in `run_dir`; returns the exit code."""
    thread = {"configurable": {"thread_id": thread_id}, "recursion_limit": 100}
    existing = graph.get_state(thread)
    # Begun means initialize's input reached the state. A kill before that checkpoint leaves
    # only the input's own (its values are the reducers' empty defaults): start afresh.
    begun = "config" in existing.values
    if begun:
        existing = apply_resume_changes(graph, thread, existing, config)
    # Finished means deployed or stopped, read from the state: a kill right after a node's
    # writes were saved can leave `next` empty before the next step's checkpoint exists.
    if existing.values.get("deployment") or existing.values.get("failure"):
        print(summary(existing.values))
        return EXIT_FAILED if existing.values.get("failure") else EXIT_DONE
    if begun:
        where = ", ".join(existing.next) or "the step after the last finished node"
        print(f"resuming {run_dir} at {where}", file=sys.stderr)
        inputs = None
    else:
        # The walltime counts from this process's start: its imports are the user's time too.
        started = time.time() - budget.process_age()
        inputs = {"config": config.model_dump(mode="json"), "run_dir": str(run_dir), "started": started}
    try:
        # Each step's checkpoint is committed before the next step starts: 17 writes took
        # 0.12-0.25 s of a whole iris run here, and a kill then never finds a step done but
        # unsaved (the state-based checks above stay, for checkpoints written before this).
        graph.invoke(inputs, thread, durability="sync")
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: python -m graph.run {config_path} --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ConfigError, DatasetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (RunFailed, SandboxError) as exc:
        print(f"run failed: {exc}\nfix the cause, then continue with --resume", file=sys.stderr)
        return EXIT_FAILED
    finally:
        close_started_ahead()  # a run that stopped before its search leaves them idle
    values = graph.get_state(thread).values
    if not values.get("deployment") and not values.get("failure"):
        print(
            f"run failed: the graph stopped before deploying; continue with: python -m graph.run {config_path} "
            "--resume",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(summary(values))
    return EXIT_FAILED if values.get("failure") else EXIT_DONE


if __name__ == "__main__":
    sys.exit(main())
