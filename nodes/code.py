"""code: write one component (configuration space, training function or scenario).

The graph fans out one `code` task per component that needs writing (LangGraph `Send`),
so the three coders run concurrently and a retry rewrites only what failed. Every
attempt is kept in `code/attempts/` so the run folder shows how the code evolved.
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END
from langgraph.types import Send

from graph.state import CoderTask
from nodes.common import log, run_config, run_folder
from tools.runfolder import RunFolder
from tools.templates import write_component
from tools.vocabulary import COMPONENTS

Written = tuple[str | None, str | None, str | None]  # source, why builtin took over, why stop


def write_with_llm(task: CoderTask, component: str, attempt: int) -> Written:
    """(source, None, None) from the LLM; (None, why, None) when the built-in coder must take
    over; (None, None, why) when the run must stop (a cap with on_cap stop, coder.fallback stop)."""
    from nodes.llm_coder import llm_write
    from tools.llm import BudgetExceeded, LLMConfigError, LLMError

    config = run_config(task)
    try:
        return llm_write(task, component, attempt, config), None, None
    except LLMConfigError as exc:
        return None, None, str(exc)
    except BudgetExceeded as exc:
        return (None, str(exc), None) if exc.on_cap == "builtin" else (None, None, str(exc))
    except LLMError as exc:
        if config.coder.fallback == "stop":
            return None, None, f"the {component} coder's LLM failed: {exc} (coder.fallback is stop)"
        return None, f"the LLM failed: {exc}", None


def code(task: CoderTask) -> dict:
    component, run = task["component"], run_folder(task)
    attempt = task["attempts"].get(component, 0) + 1
    fallbacks = task.get("fallbacks") or {}
    source, fallback, author = None, fallbacks.get(component), "builtin"
    if run_config(task).llm.enabled and fallback is None:
        source, fallback, failure = write_with_llm(task, component, attempt)
        if failure:
            run.event("code", f"{component} stopped", attempt=attempt, error=failure)
            log.error("code: %s: %s", component, failure)
            return {"failure": failure}
        author = "llm" if source is not None else "builtin"
    if source is None:
        source = write_component(component, task["profile"], task["plan"])
    relative = run.attempt(component, attempt)
    run.path(RunFolder.CODE, relative).write_text(source)
    info = {"path": relative, "attempt": attempt, "author": author}
    if fallback:
        info["fallback"] = fallback
    details = {"fallback": fallback} if fallback else {}
    if task.get("crash_report") and component == "train":
        details["after_crashes"] = task["crash_report"]["n_crashed"]
    run.event("code", f"wrote {component}", attempt=attempt, author=author, path=f"code/{relative}", **details)
    how = "LLM" if author == "llm" else "built-in template"
    log.info(
        "code: %s, attempt %d (%s)%s",
        component,
        attempt,
        how,
        f"; the built-in coder took over: {fallback}" if fallback else "",
    )
    update = {"components": {component: info}, "attempts": {component: attempt}}
    if fallback and component not in fallbacks:
        update["fallbacks"] = {component: fallback}
    return update


def coder_tasks(state: dict, components: list[str]) -> list[Send]:
    keys = ("run_dir", "config", "profile", "plan", "attempts", "reports", "fallbacks")
    shared = {key: state.get(key, {}) for key in keys}
    return [Send("code", {"component": c, **shared, "crash_report": {}}) for c in components]


def route_to_coders(state: dict) -> list[Send] | Literal["__end__"]:
    """After planning: every component gets a coder, all at once (unless planning stopped)."""
    if state.get("failure"):
        return END
    return coder_tasks(state, list(COMPONENTS))
