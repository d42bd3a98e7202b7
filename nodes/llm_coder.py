"""The LLM coders: one prompt per component, retried with the verifier's report.

Each coder's prompt (a file in `nodes/prompts/`) carries the training split's profile, the
plan, the component's contract and the ConfigSpace / SMAC API reference. On a retry it also
carries the previous attempt's source and why it failed: the verifier's report (error,
traceback tail, failing configuration), or, for a training function sent back by the
optimizer, the crashed trials' errors and configurations. The answer is parsed defensively
(the longest ```python block, syntax-checked on the host, never run there) and written as the
next attempt; the verifier runs it in the sandbox.
"""

from __future__ import annotations

import json

from graph.config import RunConfig
from nodes.common import plan_objectives
from nodes.llm_common import (
    api_reference,
    client_for,
    load_prompt,
    plan_for_prompt,
    profile_for_prompt,
)
from tools.llm.redaction import redact
from tools.runfolder import RunFolder
from tools.vocabulary import OBJECTIVES

MAX_CRASHES_SHOWN = 4
# Sandbox output in a prompt is clipped and redacted (tools/llm/redaction.py): it may hold
# anything the generated code could read or print.
REPORT_CHARS = 4000
CRASH_CHARS = 1500


def _previous_source(run: RunFolder, component: str, attempt: int) -> str:
    path = run.code / run.attempt(component, attempt)
    return path.read_text() if path.exists() else "(not found)"


def retry_section(task: dict, component: str, attempt: int, run: RunFolder) -> str:
    """Why the last attempt failed and its source, or nothing on a first attempt."""
    crash = task.get("crash_report") or {}
    if component == "train" and crash:
        shown = crash["crashes"][:MAX_CRASHES_SHOWN]
        crashes = "\n\n".join(
            f"- error: {redact(c['error'], CRASH_CHARS, task['run_dir'])}\n  configuration: {json.dumps(c['config'])}"
            for c in shown
        )
        return load_prompt(
            "crash",
            crashed=str(crash["n_crashed"]),
            trials=str(crash["n_trials"]),
            attempt=str(attempt - 1),
            crashes=crashes,
            source=_previous_source(run, component, attempt - 1),
        )
    report = (task.get("reports") or {}).get(component)
    if attempt == 1 or not report or report.get("status") != "failed":
        return ""
    why = redact(report.get("error"), REPORT_CHARS, task["run_dir"])
    return load_prompt(
        "retry", attempt=str(attempt - 1), report=why, source=_previous_source(run, component, attempt - 1)
    )


# What each extra objective means to the training function that must measure it.
MEASURES = {
    "train_seconds": "seconds the cross-validation took",
    "predict_latency": "milliseconds to predict 1,000 rows, timed with predict() on held-out fold rows",
    "model_size": "bytes of the fitted model as pickle.dumps gives them",
}
assert set(MEASURES) == set(OBJECTIVES), "every objective needs its measure in the prompt"


def objectives_section(plan: dict) -> str:
    """The contract's extra keys when the run trades its metric against other objectives."""
    extras = plan_objectives(plan)
    if not extras:
        return ""
    keys = "; ".join(f'"{name}": {MEASURES[name]}' for name in extras)
    return (
        "- This run has several objectives: train() must ALSO return, as finite numbers >= 0 "
        f"measured inside train() (data.info['objectives'] lists them): {keys}. "
        "A result without one fails verification.\n"
    )


def messages(task: dict, component: str, attempt: int, config: RunConfig) -> list[tuple[str, str]]:
    run = RunFolder(task["run_dir"])
    common = dict(plan=plan_for_prompt(task["plan"]), retry=retry_section(task, component, attempt, run))
    if component == "configspace":
        user = load_prompt(
            "configspace",
            profile=profile_for_prompt(task["profile"]),
            n_samples=str(config.verify.n_samples),
            api_reference=api_reference(),
            **common,
        )
    elif component == "train":
        written = (task.get("attempts") or {}).get("configspace")
        space = "(being written at the same time by another agent from the same plan and naming rule; follow the rule)"
        if written and (attempt > 1 or task.get("crash_report")):
            space = "```python\n" + _previous_source(run, "configspace", written) + "```"
        user = load_prompt(
            "train",
            profile=profile_for_prompt(task["profile"]),
            n_configs=str(config.verify.n_configs),
            configspace=space,
            objectives=objectives_section(task["plan"]),
            api_reference=api_reference(),
            **common,
        )
    elif component == "scenario":
        opt = config.optimizer
        user = load_prompt(
            "scenario",
            max_trials=str(opt.n_trials),
            max_walltime=f"{opt.walltime:g}",
            workers=str(opt.workers),
            seed=str(config.seed),
            **common,
        )
    else:
        raise ValueError(f"no LLM coder for component {component!r}")
    return [("system", load_prompt("system")), ("human", user)]


def llm_write(task: dict, component: str, attempt: int, config: RunConfig) -> str:
    """The LLM's source for this attempt. Raises LLMError (BudgetExceeded at a cap)."""
    client = client_for(config, task["run_dir"])
    return client.code(
        f"code:{component}",
        messages(task, component, attempt, config),
        meta={"component": component, "attempt": attempt},
    )
