"""What every node needs: the run folder, the config, the sandbox, a logger."""

from __future__ import annotations

import logging

from graph.config import RunConfig
from sandbox import Limits, Sandbox, Workspace, open_sandbox
from tools.runfolder import RunFolder

log = logging.getLogger("automl")


class RunFailed(RuntimeError):
    """The run cannot go on; the message says why and what to do."""


def run_folder(state: dict) -> RunFolder:
    return RunFolder(state["run_dir"])


def run_config(state: dict) -> RunConfig:
    return RunConfig.model_validate(state["config"])


def sandbox_limits(config: RunConfig, timeout: float | None = None) -> Limits:
    """What one sandbox call of this run may use (the trial timeout unless given)."""
    return Limits(
        timeout=timeout or config.sandbox.trial_timeout,
        memory_mb=config.sandbox.memory_mb,
        cpus=config.sandbox.cpus,
        pids=config.sandbox.pids,
    )


def sandbox_recipe(state: dict, *, timeout: float | None = None, artifacts: bool = False,
                   name: str = "sandbox") -> dict:
    """open_sandbox's arguments for a sandbox that sees the run's code and training data
    (and model folder); plain data, so a Dask worker can open it too."""
    config, run = run_config(state), run_folder(state)
    workspace = Workspace(code=run.code, data=run.sandbox_data,
                          artifacts=run.folder("model") if artifacts else None)
    return {"backend": state["backend"], "workspace": workspace, "limits": sandbox_limits(config, timeout),
            "name": f"{run.name}-{name}"}


def sandbox_for(state: dict, *, timeout: float | None = None, artifacts: bool = False,
                name: str = "sandbox") -> Sandbox:
    """A started sandbox that sees the run's code and training data (and model folder)."""
    return open_sandbox(**sandbox_recipe(state, timeout=timeout, artifacts=artifacts, name=name))
