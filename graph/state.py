"""The agent's state: small JSON-able facts; data and code live in the run folder."""

from __future__ import annotations

from typing import Annotated, TypedDict


def merge(left: dict | None, right: dict | None) -> dict:
    """Reducer for per-component maps: parallel coders each add their own key."""
    return {**(left or {}), **(right or {})}


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
    verify_rounds: int
    search: dict  # the SMAC search's outcome: incumbent, loss, trial counts
    deployment: dict  # test metrics and where the model is
    failure: str  # why the run stopped, when it did


class CoderTask(TypedDict):
    """What one coder gets when the graph fans out (LangGraph `Send`)."""

    component: str
    run_dir: str
    config: dict
    profile: dict
    plan: dict
    attempts: dict
    reports: dict
