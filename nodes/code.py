"""code: write one component (configuration space, training function or scenario).

The graph fans out one `code` task per component that needs writing (LangGraph `Send`),
so the three coders run concurrently and a retry rewrites only what failed. Every
attempt is kept in `code/attempts/` so the run folder shows how the code evolved.
"""

from __future__ import annotations

from langgraph.types import Send

from graph.state import CoderTask
from nodes.common import log, run_folder
from tools.templates import COMPONENTS, write_component


def attempt_path(component: str, attempt: int) -> str:
    """Where an attempt lives, relative to the run's code folder (as the sandbox sees it)."""
    return f"attempts/{component}-{attempt}.py"


def code(task: CoderTask) -> dict:
    component, run = task["component"], run_folder(task)
    attempt = task["attempts"].get(component, 0) + 1
    source = write_component(component, task["profile"], task["plan"])
    relative = attempt_path(component, attempt)
    run.path("code", relative).write_text(source)
    run.event("code", f"wrote {component}", attempt=attempt, author="builtin", path=f"code/{relative}")
    log.info("code: %s, attempt %d (built-in template)", component, attempt)
    return {
        "components": {component: {"path": relative, "attempt": attempt, "author": "builtin"}},
        "attempts": {component: attempt},
    }


def coder_tasks(state: dict, components: list[str]) -> list[Send]:
    shared = {key: state.get(key, {}) for key in ("run_dir", "config", "profile", "plan", "attempts", "reports")}
    return [Send("code", {"component": c, **shared}) for c in components]


def route_to_coders(state: dict) -> list[Send]:
    """After planning: every component gets a coder, all at once."""
    return coder_tasks(state, list(COMPONENTS))
