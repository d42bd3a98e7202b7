"""verify: check each generated component statically, then by running it in the sandbox.

Static checks read the source (it parses; the contract's functions exist with the right
parameters) and never execute it. Dynamic checks run it inside the sandbox on a small
sample of the training split under a time limit: the space builds and yields many valid
configurations; `train` returns a finite loss on the default and on random
configurations; `fit` and `predict` produce one prediction per row. A failed component
goes back to its coder with this report; one that cannot be fixed in the allowed number
of attempts stops the run with the report's reason.
"""

from __future__ import annotations

import ast
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Literal

from langgraph.graph import END
from langgraph.types import Send

from graph.config import CoderConfig
from graph.state import Decision
from nodes.code import coder_tasks
from nodes.common import lent_sandbox, log, plan_facts, run_config, run_folder, start_ahead
from sandbox import Sandbox
from tools.results import train_result_problem
from tools.runfolder import SANDBOX_VERIFY_DATA, SANDBOX_VERIFY_FEATURES, RunFolder
from tools.scenario import ScenarioSpecError, hold_to_budget, parse_scenario_source

# The contract: function -> (required leading parameters, parameters that must exist).
CONTRACTS = {
    "configspace": {"get_configspace": ((), ())},
    "train": {
        "train": (("config", "data"), ("seed", "budget")),
        "fit": (("config", "data"), ("seed",)),
        "predict": (("model", "X"), ()),
    },
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class VerificationReport:
    component: str
    attempt: int
    status: Literal["passed", "failed", "skipped"] = "passed"
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        if not ok:
            self.status = "failed"
        return ok

    def error(self) -> str | None:
        """The failures, as the coder (and the user) should read them."""
        failed = [c for c in self.checks if not c.ok]
        return "\n\n".join(f"{c.name}: {c.detail}" for c in failed) or None

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok, "error": self.error()}


def static_check(component: str, source: str, report: VerificationReport) -> bool:
    """The source parses and defines the contract's functions; nothing is executed."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return report.add("parses", False, f"syntax error at line {exc.lineno}: {exc.msg}")
    report.add("parses", True)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    for name, (leading, named) in CONTRACTS.get(component, {}).items():
        fn = functions.get(name)
        if fn is None:
            report.add(f"defines {name}()", False, f"no top-level function {name}() in the module")
            continue
        params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
        every = set(params) | {a.arg for a in fn.args.kwonlyargs}
        problems = []
        if tuple(params[: len(leading)]) != leading:
            wanted, has = ", ".join(leading) or "(none)", ", ".join(params) or "(none)"
            problems.append(f"must start with parameters {wanted}, has {has}")
        missing = [p for p in named if p not in every and fn.args.kwarg is None]
        if missing:
            problems.append(f"lacks parameter(s) {', '.join(missing)}")
        report.add(f"defines {name}()", not problems, "; ".join(problems))
    return report.ok


def verify_configspace(
    sandbox: Sandbox, path: str, n_samples: int, report: VerificationReport, timeout: float
) -> dict | None:
    outcome = sandbox.call("configspace", timeout=timeout, module=path, n_samples=n_samples)
    if not outcome.ok:
        report.add("builds and samples", False, outcome.describe())
        return None
    result = outcome.result
    report.add(
        "builds and samples",
        True,
        f"{result['n_hyperparameters']} hyperparameters; {n_samples} valid configurations sampled",
    )
    return result


def verify_train(
    sandbox: Sandbox, path: str, space: dict, n_configs: int, report: VerificationReport, timeout: float, info: dict
) -> None:
    configs = [("default", space["default"])]
    configs += [(f"random #{i + 1}", c) for i, c in enumerate(space["samples"][:n_configs])]
    for label, config in configs:
        outcome = sandbox.call(
            "train", timeout=timeout, module=path, data=SANDBOX_VERIFY_DATA, config=config, seed=0, info=info
        )
        problem = train_result_problem(outcome.result, info.get("objectives", ())) if outcome.ok else outcome.describe()
        if problem is None:
            report.add(
                f"train on {label} configuration", True, f"loss {outcome.result['loss']:.4f} in {outcome.elapsed:.2f} s"
            )
        else:
            report.add(f"train on {label} configuration", False, f"{problem}\nconfiguration: {json.dumps(config)}")
    outcome = sandbox.call(
        "fit_predict",
        timeout=timeout,
        module=path,
        data=SANDBOX_VERIFY_DATA,
        predict=SANDBOX_VERIFY_FEATURES,
        config=space["default"],
        seed=0,
        info=info,
    )
    report.add("fit and predict", outcome.ok, "one prediction per row" if outcome.ok else outcome.describe())


def check_scenario(source: str, config, report: VerificationReport) -> None:
    """The scenario is a valid literal; what it asks beyond the config's budget is lowered."""
    try:
        opt = config.optimizer
        spec, lowered = hold_to_budget(parse_scenario_source(source), opt.n_trials, opt.walltime, opt.workers)
    except ScenarioSpecError as exc:
        report.add("valid scenario", False, str(exc))
        return
    held = f" ({'; '.join(lowered)})" if lowered else ""
    report.add("valid scenario", True, f"{spec.facade} facade, {spec.n_trials} trials, {spec.walltime:g} s{held}")


def random_configs(components: dict, n_configs: int) -> int:
    """Random configurations to train beside the default. The built-in coder's space and
    training function are the project's tested templates: they are verified on the default
    configuration (does it run on this data and return what the search needs); random ones
    would only cost the search its time (on a 60 s run, 15-25 s of it on a 2,197-row table).
    An LLM's are verified on `n_configs` random ones too."""
    builtin = all(components[c]["author"] == "builtin" for c in ("configspace", "train"))
    return 0 if builtin else n_configs


def check_components(state: dict, config, run: RunFolder) -> tuple[dict[str, VerificationReport], dict | None]:
    """Every component's report (static checks, then runs in the sandbox), and the space
    the sandbox built (None when it did not build)."""
    components = state["components"]
    sources = {c: (run.code / info["path"]).read_text() for c, info in components.items()}
    reports = {c: VerificationReport(c, info["attempt"]) for c, info in components.items()}
    for component, report in reports.items():
        static_check(component, sources[component], report)
    check_scenario(sources["scenario"], config, reports["scenario"])

    space = None
    with lent_sandbox(state, timeout=config.verify.timeout, name="verify") as sandbox:
        started = time.monotonic()
        if reports["configspace"].ok:
            space = verify_configspace(
                sandbox,
                components["configspace"]["path"],
                config.verify.n_samples,
                reports["configspace"],
                config.verify.timeout,
            )
        reports["configspace"].seconds = time.monotonic() - started
        train, started = reports["train"], time.monotonic()
        if space is None:
            if train.ok:
                train.status = "skipped"
                train.checks.append(Check("run in the sandbox", True, "waits for a working configuration space"))
        elif train.ok:
            verify_train(
                sandbox,
                components["train"]["path"],
                space,
                random_configs(components, config.verify.n_configs),
                train,
                config.verify.timeout,
                plan_facts(state),
            )
        train.seconds = time.monotonic() - started
    return reports, space


# The configuration space and the training function share hyperparameter names: when the
# built-in coder takes over one of them, it writes the other too.
PARTNER = {"configspace": "train", "train": "configspace"}


def builtin_takes_over(
    exhausted: list[str], components: dict, fallbacks: dict, reports: dict, policy: str
) -> dict[str, str]:
    """Components the built-in coder writes next (component -> why), new ones only."""
    new: dict[str, str] = {}
    if policy != "builtin":
        return new
    for component in exhausted:
        if components[component]["author"] != "builtin" and component not in fallbacks:
            reason = reports[component]["error"].splitlines()[0]
            new[component] = f"{reports[component]['attempt']} LLM attempts failed verification; last error: {reason}"
    for component, partner in PARTNER.items():
        taken = component in new or component in fallbacks
        if taken and partner not in fallbacks and partner not in new and components[partner]["author"] != "builtin":
            new[partner] = f"written with the built-in {component} (they share hyperparameter names)"
    return new


def decide(
    reports: dict[str, dict], components: dict, attempts: dict, fallbacks: dict, coder: CoderConfig
) -> tuple[Decision, dict[str, str]]:
    """Where the run goes after a verification round, and which components the built-in
    coder takes over: all passed, optimize; failures with attempts left (or taken over),
    back to their coders; a component out of attempts that nobody takes over, stop."""
    failed = [c for c, r in reports.items() if r["status"] == "failed"]
    # A skipped component waits on a failed one, so "no failures" means all passed.
    if not failed:
        return {"step": "optimize"}, {}
    exhausted = [c for c in failed if attempts.get(c, 0) >= coder.max_code_attempts]
    new = builtin_takes_over(exhausted, components, fallbacks, reports, coder.fallback)
    stuck = [c for c in exhausted if c not in new and PARTNER.get(c) not in new]
    if stuck:
        reason = reports[stuck[0]]["error"].splitlines()[0]
        stop = "; coder.fallback is stop" if coder.fallback == "stop" else ""
        return {
            "step": "stop",
            "reason": f"the {stuck[0]} component failed verification "
            f"{coder.max_code_attempts} times; last error: {reason}{stop}",
        }, new
    taken = {**fallbacks, **new}
    pending = [c for c in taken if components[c]["author"] != "builtin"]
    return {"step": "code", "components": sorted(set(failed) | set(pending))}, new


def record(run: RunFolder, round_number: int, reports: dict[str, VerificationReport]) -> dict[str, dict]:
    """The round's reports in reports/, one event and one log line per component."""
    as_dicts = {c: r.to_dict() for c, r in reports.items()}
    run.write_json(run.verify_report(round_number), as_dicts)
    for component, report in reports.items():
        run.event("verify", f"{component} {report.status}", attempt=report.attempt, error=report.error())
        log.info(
            "verify: %s attempt %d %s%s",
            component,
            report.attempt,
            report.status,
            "" if report.ok or report.status == "skipped" else f": {report.error().splitlines()[0]}",
        )
    return as_dicts


def keep_verified(run: RunFolder, components: dict, space: dict, round_number: int) -> None:
    """The verified components (and the space as ConfigSpace JSON) go to code/final/."""
    for component, info in components.items():
        shutil.copyfile(run.code / info["path"], run.final_code / f"{component}.py")
    run.final_space.write_text(json.dumps(space["configspace"], indent=1))
    run.event("verify", "all components verified", round=round_number)


def verify(state: dict) -> dict:
    if state.get("failure"):  # a coder stopped the run (an LLM cap with on_cap: stop)
        return {}
    config, run = run_config(state), run_folder(state)
    round_number = state.get("verify_rounds", 0) + 1
    start_ahead(state)  # the search's sandboxes start with the one this verification runs in
    reports, space = check_components(state, config, run)
    as_dicts = record(run, round_number, reports)
    decision, fallbacks = decide(
        as_dicts, state["components"], state["attempts"], state.get("fallbacks") or {}, config.coder
    )
    for component, why in fallbacks.items():
        run.event("verify", f"{component}: the built-in coder takes over", reason=why)
        log.warning("verify: %s: the built-in coder takes over (%s)", component, why)
    update: dict = {"reports": as_dicts, "verify_rounds": round_number, "decision": decision}
    if fallbacks:
        update["fallbacks"] = fallbacks
    if decision["step"] == "optimize":
        keep_verified(run, state["components"], space, round_number)
    elif decision["step"] == "stop":
        update["failure"] = f"{decision['reason']} (see {run.root / 'reports'})"
    return update


def route_after_verify(state: dict) -> list[Send] | Literal["optimize", "__end__"]:
    """Follow verify's decision: optimize, back to the coders it names, or stop."""
    decision = state.get("decision") or {}
    if state.get("failure") or decision.get("step") == "stop":
        return END
    if decision["step"] == "optimize":
        return "optimize"
    return coder_tasks(state, decision["components"])
