"""The agent's state: small JSON-able facts; data and code live in the run folder.

The pieces several nodes read are typed here, once: `Profile` (initialize), `Plan` (plan),
`Component` and the verification reports (code, verify), `Decision` (verify and optimize
say where the run goes next), `SearchSummary` (optimize) and `Deployment` (deploy).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict


def merge(left: dict | None, right: dict | None) -> dict:
    """Reducer for per-component maps: parallel coders each add their own key."""
    return {**(left or {}), **(right or {})}


def first(left: str | None, right: str | None) -> str | None:
    """Reducer for `failure`: parallel coders may both stop the run; the first reason stays."""
    return left or right


class Profile(TypedDict, total=False):
    """Facts about the training split (never the test split beyond its size and how it was cut)."""

    modality: str  # tabular | image | text | timeseries
    task: str  # classification | regression | forecasting
    metric: str  # the default or configured metric (the plan may choose another)
    n_rows: int
    n_test_rows: int
    test_split: str  # how the sealed split came about, in words
    n_columns: int
    numeric_columns: list[str]
    categorical_columns: list[str]
    text_columns: list[str]  # free text: TF-IDF features, or the text template when alone
    date_columns: list[str]  # dates or times written as text: their parts become numbers
    date_formats: dict[str, str]  # each date column's strftime format
    missing_share: dict[str, float]
    rows_with_missing: int
    cardinality: dict[str, int]
    shape: list[int]  # arrays: one row's shape
    dtype: str
    n_classes: int
    class_counts: dict[str, int]
    minority_share: float
    target_summary: dict[str, float]
    season_length: int  # a series' cycle


class Plan(TypedDict, total=False):
    author: str  # builtin, builtin (LLM fallback), or llm (<model>)
    task: str
    metric: str
    modality: str
    template: str  # the task template (tools/templates/<name>) that serves the data
    template_parameters: dict[str, Any]
    families: list[str]
    facade: str
    scenario: dict[str, Any]  # a ScenarioSpec's fields
    portfolio: list[dict[str, Any]]  # configurations tried right after the default, in order
    validation: str
    rationale: str
    corrections: list[str]  # where an LLM's plan was held to the config
    proposal: dict[str, Any]
    fallback: str
    objectives: list[str]  # what the metric is traded against (tools/vocabulary.py OBJECTIVES) ...
    select: Any  # ... the rule that picks the deployed model from the front (tools/pareto.py) ...
    objectives_reason: str  # ... and why: the config's, or the LLM planner's reading of the objective


class Component(TypedDict, total=False):
    path: str  # relative to the run's code folder
    attempt: int
    author: str  # builtin | llm
    fallback: str  # why the built-in coder took it over


class Decision(TypedDict, total=False):
    """Where the run goes after verify or optimize, decided by that node's `decide`."""

    step: Literal["code", "optimize", "deploy", "stop"]
    components: list[str]  # with step "code": the components to (re)write
    reason: str


class SearchSummary(TypedDict, total=False):
    incumbent: dict[str, Any] | None
    incumbent_loss: float | None
    n_trials: int
    status_counts: dict[str, int]
    walltime: float
    stopped_by: str
    failed_share: float
    workers: list[str]
    # When the built-in portfolio trained beside an LLM's search beat its incumbent
    # (nodes/alongside.py): the training function that fits the incumbent, and the search's own loss.
    incumbent_module: str
    search_incumbent_loss: float | None
    objectives: list[str]  # several objectives: what the loss was traded against
    front: list[dict[str, Any]]  # ... and the non-dominated trials (tools/pareto.py)


class Deployment(TypedDict):
    metrics: dict[str, Any]  # as written to metrics.json
    report: str
    model: str


class InputState(TypedDict, total=False):
    """What a caller gives: a config file or a config mapping, optionally a run folder."""

    config_path: str
    config: dict
    overrides: list[str]
    run_dir: str
    runs_dir: str
    started: float  # when the run began (epoch seconds): its walltime counts from here (tools/budget.py)


class AgentState(InputState, total=False):
    backend: str  # the sandbox backend this run uses
    profile: Profile
    plan: Plan
    components: Annotated[dict[str, Component], merge]
    attempts: Annotated[dict[str, int], merge]  # component -> attempts used
    reports: Annotated[dict[str, dict], merge]  # component -> latest verification report
    fallbacks: Annotated[dict[str, str], merge]  # component -> why the built-in coder took it over
    verify_rounds: int
    decision: Decision
    search: SearchSummary
    crash_report: dict  # crashed trials of the last search, when they sent train back to code
    recodes: int  # times crashing trials sent the training function back to its coder
    deployment: Deployment
    deploy_trial: int  # a point of the front to deploy instead of the rule's pick (graph.deploy)
    failure: Annotated[str, first]  # why the run stopped, when it did


class CoderTask(TypedDict):
    """What one coder gets when the graph fans out (LangGraph `Send`)."""

    component: str
    run_dir: str
    config: dict
    profile: Profile
    plan: Plan
    attempts: dict[str, int]
    reports: dict[str, dict]
    fallbacks: dict[str, str]  # components the built-in coder writes (the LLM's attempts are used up)
    crash_report: dict  # train after a search whose trials crashed: their errors, configurations
