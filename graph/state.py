"""The agent's state: small JSON-able facts; data and code live in the run folder."""

from __future__ import annotations

from typing import Annotated, TypedDict


def merge(left: dict | None, right: dict | None) -> dict:
    """Reducer for per-component maps: parallel coders each add their own key."""
    return {**(left or {}), **(right or {})}


def first(left: str | None, right: str | None) -> str | None:
    """Reducer for `failure`: parallel coders may both stop the run; the first reason stays."""
    return left or right


class InputState(TypedDict, total=False):
    """What a caller gives: a config file or a config mapping, optionally a run folder."""

    config_path: str
    config: dict
    overrides: list[str]
    run_dir: str
    runs_dir: str


class AgentState(InputState, total=False):
    backend: str  # the sandbox backend this run uses: docker | process
    profile: dict  # facts about the training split (never the test split)
    plan: dict  # task, metric, families, facade, scenario, rationale
    components: Annotated[dict, merge]  # component -> {path, attempt, author}
    attempts: Annotated[dict, merge]  # component -> attempts used
    reports: Annotated[dict, merge]  # component -> latest verification report
    fallbacks: Annotated[dict, merge]  # component -> why the built-in coder took it over
    verify_rounds: int
    search: dict  # the SMAC search's outcome: incumbent, loss, trial counts
    crash_report: dict  # crashed trials of the last search, when they sent train back to code
    recodes: int  # times crashing trials sent the training function back to its coder
    deployment: dict  # test metrics and where the model is
    failure: Annotated[str, first]  # why the run stopped, when it did


class CoderTask(TypedDict):
    """What one coder gets when the graph fans out (LangGraph `Send`)."""

    component: str
    run_dir: str
    config: dict
    profile: dict
    plan: dict
    attempts: dict
    reports: dict
    fallbacks: dict  # components the built-in coder writes (the LLM's attempts are used up)
    crash_report: dict  # train after a search whose trials crashed: their errors, configurations
