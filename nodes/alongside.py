"""The built-in portfolio alongside an LLM's training function.

An LLM may write a space without the built-in families' strength (one family, narrow ranges,
a weaker pipeline). So that such a run ends no worse than the built-in coder's portfolio, the
template's own space and training function (code/final/builtin/, written as the built-in
planner would plan them) train its default and its portfolio on the search's sandboxes, in
the search's time, before SMAC's trials. Their out-of-fold predictions join the ensemble's
store, and if the best of them beats the search's incumbent on CV, deploy refits that one,
with the template's training function. The results are saved (builtin_trials.json), so a
resumed run does not train them again.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ConfigSpace import ConfigurationSpace

from nodes.common import log, plan_facts, run_config, sandbox_for
from nodes.plan import builtin_plan
from tools.results import train_result_problem
from tools.runfolder import SANDBOX_BUILTIN_SPACE, SANDBOX_BUILTIN_TRAIN, SANDBOX_TRAIN_DATA, RunFolder
from tools.smac_tool import plain, start_configurations
from tools.templates import write_component

SOURCE = "built-in portfolio"


def wanted(state: dict) -> bool:
    """An LLM wrote the space or the training function (the template's are the search itself otherwise)."""
    return any(state["components"][c]["author"] == "llm" for c in ("configspace", "train"))


def configurations(state: dict, run: RunFolder) -> list[dict]:
    """The template's default and portfolio, complete, from its space as built in a sandbox."""
    plan = builtin_plan(state["profile"], run_config(state))
    folder = run.final_code / "builtin"
    folder.mkdir(exist_ok=True)
    for component in ("configspace", "train"):
        (folder / f"{component}.py").write_text(write_component(component, state["profile"], plan))
    with sandbox_for(state, name="builtin-space") as sandbox:
        outcome = sandbox.call("configspace", module=SANDBOX_BUILTIN_SPACE, n_samples=1)
    if not outcome.ok:  # the template failed on this data: the LLM's search goes on alone
        log.warning("optimize: the built-in space failed (%s); no portfolio alongside", outcome.describe())
        return []
    space = ConfigurationSpace.from_serialized_dict(outcome.result["configspace"])
    return [plain(c) for c in start_configurations(space, plan["portfolio"])]


def run_portfolio(state: dict, run: RunFolder, run_trial, workers: int, keep, seconds: float) -> list:
    """Each configuration trained once with the template's training function (on `workers`
    sandboxes, within `seconds`), its out-of-fold predictions given to `keep(outcome, config,
    module)`; returns the trials, saved or loaded from builtin_trials.json."""
    saved = run.read_json(RunFolder.BUILTIN_TRIALS)
    if saved is not None:
        return saved
    configs, deadline = configurations(state, run), time.monotonic() + seconds
    free = list(range(workers))

    def trial(config: dict) -> dict:
        worker = free.pop()
        try:
            return _one(state, run_trial, worker, config, keep, deadline - time.monotonic())
        finally:
            free.append(worker)

    with ThreadPoolExecutor(workers) as pool:
        trials = list(pool.map(trial, configs))
    run.write_json(RunFolder.BUILTIN_TRIALS, trials)
    run.event("optimize", f"{SOURCE} trained alongside", trials=len(trials), best=best(trials))
    return trials


def _one(state: dict, run_trial, worker: int, config: dict, keep, seconds_left: float) -> dict:
    if seconds_left < 1:
        return {"config": config, "status": "skipped", "loss": None, "seconds": 0.0}
    request = {
        "module": SANDBOX_BUILTIN_TRAIN,
        "data": SANDBOX_TRAIN_DATA,
        "config": config,
        "seed": run_config(state).seed,
        "budget": None,
        "info": plan_facts(state),
    }
    outcome = run_trial(worker, request, min(run_config(state).sandbox.trial_timeout, seconds_left))
    keep(outcome, config, SANDBOX_BUILTIN_TRAIN)
    problem = train_result_problem(outcome.result) if outcome.ok else outcome.error
    loss = float(outcome.result["loss"]) if outcome.ok and not problem else None
    log.info(
        "optimize: %s %s: %s", SOURCE, config.get("model", ""), f"loss {loss:.4f}" if loss is not None else problem
    )
    return {"config": config, "status": outcome.status, "loss": loss, "seconds": round(outcome.elapsed, 3)}


def best(trials: list[dict]) -> dict | None:
    done = [t for t in trials if t["loss"] is not None]
    return min(done, key=lambda t: t["loss"]) if done else None


def better_incumbent(summary: dict, trials: list[dict]) -> dict:
    """The search summary, with the portfolio's best as its incumbent when it beats the search's."""
    winner = best(trials)
    if winner is None or (summary["incumbent_loss"] is not None and summary["incumbent_loss"] <= winner["loss"]):
        return summary
    log.info("optimize: the %s's best (loss %.4f) beats the search's incumbent", SOURCE, winner["loss"])
    return {
        **summary,
        "incumbent": winner["config"],
        "incumbent_loss": winner["loss"],
        "incumbent_module": SANDBOX_BUILTIN_TRAIN,
        "search_incumbent_loss": summary["incumbent_loss"],
    }


def as_rows(trials: list[dict]) -> list[dict]:
    """The portfolio's trials as rows of trials.csv (after the search's)."""
    return [
        {
            "trial": f"builtin-{n}",
            "status": t["status"],
            "loss": t["loss"],
            "seconds": t["seconds"],
            "source": SOURCE,
            **{f"config.{k}": v for k, v in t["config"].items()},
        }
        for n, t in enumerate(trials, start=1)
    ]
