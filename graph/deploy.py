"""Deploy another point of a finished multi-objective run's front, without searching again:

    python -m graph.deploy RUN_DIR --trial N [--backend auto|docker|process]

The trial is refit on the training split in a sandbox, scored once on the sealed test split
and measured (latency on the test rows, size), exactly as deploy does for the rule's pick;
it replaces the run's model, metrics.json and report (the front is unchanged), and the run's
checkpoint records it, so `graph.run --resume` and `graph.predict` use it. The sandbox is
chosen as a run chooses it, never taken from the run folder.

Exit codes: 0 done, 2 bad input (run folder, trial not on the front), 1 the refit failed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from graph.builder import build_graph
from graph.config import load_config
from graph.run import EXIT_BAD_INPUT, EXIT_DONE, EXIT_FAILED, open_checkpoints, summary
from nodes.deploy import deploy
from sandbox import BACKENDS, SandboxError, choose_backend
from tools.errors import ConfigError, RunFailed
from tools.runfolder import RunFolder, RunFolderBusy, exclusive


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m graph.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a finished run's folder (runs/<name>)")
    parser.add_argument("--trial", type=int, required=True, help="the trial of the front to deploy")
    parser.add_argument(
        "--backend", choices=BACKENDS, default="auto", help="sandbox to refit in (never taken from the run folder)"
    )
    return parser.parse_args(argv)


def finished_front(values: dict, run_dir: Path, trial: int) -> None:
    """A ConfigError, in one line, unless the run is deployed and `trial` is on its front."""
    if not values.get("deployment"):
        raise ConfigError(f"{run_dir}: not a finished run; finish it with python -m graph.run CONFIG --resume")
    front = (values.get("search") or {}).get("front")
    if not front:
        raise ConfigError(f"{run_dir}: a single-objective run has no front; set objectives: for a new run")
    trials = [p["trial"] for p in front]
    if trial not in trials:
        raise ConfigError(f"--trial {trial}: not on the run's front; its trials are {', '.join(map(str, trials))}")


def redeploy(run_dir: Path, trial: int, backend_choice: str) -> dict:
    config = load_config(run_dir / RunFolder.CONFIG)
    backend, _ = choose_backend(backend_choice)
    with exclusive(run_dir), open_checkpoints(config, run_dir) as (checkpointer, thread_id):
        graph = build_graph(checkpointer)
        thread = {"configurable": {"thread_id": thread_id}}
        values = graph.get_state(thread).values
        finished_front(values, run_dir, trial)
        # The run folder's own path and a backend chosen here: a copied folder stays usable.
        out = deploy({**values, "run_dir": str(run_dir), "backend": backend, "deploy_trial": trial})
        graph.update_state(thread, out, as_node="deploy")
        return {**values, **out, "run_dir": str(run_dir), "backend": backend}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    run_dir = Path(args.run).absolute()
    try:
        if not (run_dir / RunFolder.CONFIG).is_file():
            raise ConfigError(f"{run_dir}: not a run folder (no {RunFolder.CONFIG})")
        values = redeploy(run_dir, args.trial, args.backend)
    except (ConfigError, RunFolderBusy, SandboxError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RunFailed as exc:
        print(f"deploy failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(summary(values))
    return EXIT_DONE


if __name__ == "__main__":
    sys.exit(main())
