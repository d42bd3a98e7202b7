"""What every node needs: the run folder, the config, the sandbox, a logger."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

from graph.config import RunConfig
from sandbox import Sandbox, Workspace, open_sandbox
from sandbox.warm import POOL
from tools.pareto import Rule, parse_rule
from tools.runfolder import RunFolder

log = logging.getLogger("automl")


def run_folder(state: dict) -> RunFolder:
    return RunFolder(state["run_dir"])


def run_config(state: dict) -> RunConfig:
    return RunConfig.model_validate(state["config"])


def sandbox_recipe(
    state: dict, *, timeout: float | None = None, artifacts: bool = False, name: str = "sandbox"
) -> dict:
    """open_sandbox's arguments for a sandbox that sees the run's code and training data
    (and model folder); plain data, so a Dask worker can open it too."""
    config, run = run_config(state), run_folder(state)
    workspace = Workspace(code=run.code, data=run.sandbox_data, artifacts=run.model if artifacts else None)
    return {
        "backend": state["backend"],
        "workspace": workspace,
        "limits": config.sandbox.limits(timeout),
        "name": f"{run.name}-{name}",
    }


def sandbox_for(
    state: dict, *, timeout: float | None = None, artifacts: bool = False, name: str = "sandbox"
) -> Sandbox:
    """A started sandbox that sees the run's code and training data (and model folder): one
    started ahead (start_ahead) where there is one, else a new one. The caller closes it."""
    recipe = sandbox_recipe(state, timeout=timeout, artifacts=artifacts, name=name)
    return open_sandbox(**recipe) if artifacts else POOL.take(recipe)


def start_ahead(state: dict) -> None:
    """Start the search's sandboxes in the background (sandbox/warm.py): one per search
    worker, or one for verification where the trials run on Dask."""
    config = run_config(state)
    POOL.prestart(sandbox_recipe(state, name="worker"), 1 if config.optimizer.dask else config.optimizer.workers)


def close_started_ahead() -> None:
    """Close the sandboxes started ahead that nobody took (the search has its own)."""
    POOL.close_idle()


@contextmanager
def lent_sandbox(state: dict, *, timeout: float | None = None, name: str = "sandbox") -> Iterator[Sandbox]:
    """sandbox_for's sandbox, given back to the pool afterwards for the search to take."""
    recipe = sandbox_recipe(state, timeout=timeout, name=name)
    sandbox = POOL.take(recipe)
    try:
        yield sandbox
    finally:
        POOL.give_back(recipe, sandbox)


def open_sandboxes(stack: ExitStack, state: dict, names: list[str], artifacts: bool = False) -> list[Sandbox]:
    """Started sandboxes, one per name, started at once (each start imports scikit-learn, a
    few seconds); each that started closes with `stack`, even if another failed to start."""
    with ThreadPoolExecutor(max(1, len(names))) as pool:
        starting = [pool.submit(sandbox_for, state, artifacts=artifacts, name=name) for name in names]
        started = [stack.enter_context(f.result()) for f in starting if f.exception() is None]
    for future in starting:
        future.result()  # the first failure, if any
    return started


def plan_facts(state: dict) -> dict:
    """Facts a call's `data.info` takes from the plan rather than from initialize's data files
    (the plan may choose another metric; no node rewrites an earlier node's files), and the
    extra objectives the training function must measure, when the run has any."""
    extras = plan_objectives(state["plan"])
    return {"metric": state["plan"]["metric"], **({"objectives": extras} if extras else {})}


def plan_objectives(plan: dict) -> list[str]:
    """What the plan trades its metric against (none for a single-objective run)."""
    return list(plan.get("objectives") or [])


def plan_rule(plan: dict) -> Rule:
    """The plan's rule for picking the deployed model from the front."""
    return parse_rule(plan.get("select", "best"), plan_objectives(plan))
