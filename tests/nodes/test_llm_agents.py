"""The LLM agents end to end: the real ChatOpenAI over HTTP against a scripted loopback server,
the real sandbox and the real SMAC, with tiny budgets.

The scripted "model" answers by role (planner, configspace, train and scenario coder), so the
concurrent coders get their own answers whatever order their requests arrive in. Correct code
answers are the built-in templates' text in ```python fences: a realistic answer.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_iris

from graph.config import parse_config
from tests.conftest import ROOT, read_json, run_agent, run_predict
from tests.llm_server import Reply, ScriptedLLMServer
from tools.templates import fill_parameters

KEY_ENV = "AUTOML_TEST_LLM_KEY"
KEY = "sk-test-agent-secret-4242"
TEMPLATES = ROOT / "tools" / "templates" / "tabular"
FAMILIES = ["linear", "knn"]  # fast on iris
CANARY = 9.87654  # a value only the sealed test split holds


# ---- scripted answers ---------------------------------------------------------------------


def fenced(source: str, before: str = "Here is the module.") -> str:
    return f"{before}\n\n```python\n{source.strip()}\n```\n"


def plan_answer(n_trials: int = 4, **changes) -> str:
    proposal = {
        "task": "classification",
        "metric": "accuracy",
        "families": FAMILIES,
        "facade": "hpo",
        "n_trials": n_trials,
        "walltime": 120,
        "fidelity": None,
        "rationale": "Iris is small and clean: a linear model and k-NN on scaled "
        "features are strong and fast; a few SMAC trials suffice.",
    }
    return json.dumps({**proposal, **changes})


def configspace_source(n_rows: int = 120) -> str:
    return fill_parameters(
        (TEMPLATES / "configspace.py").read_text(),
        {
            "TASK": "classification",
            "FAMILIES": FAMILIES,
            "HAS_CATEGORICAL": False,
            "HAS_MISSING": False,
            "N_ROWS": n_rows,
        },
    )


def train_source(first_lines: str = "", header: str = "") -> str:
    """The template's training function, with code put at the start of train() (and on top)."""
    source = (TEMPLATES / "train.py").read_text()
    marker = "def train(config, data, seed=0, budget=None):\n"
    assert marker in source
    body = "".join(f"    {line}\n" for line in first_lines.strip().splitlines())
    return header + source.replace(marker, marker + body)


def scenario_source(n_trials: int = 4) -> str:
    return (
        '"""SMAC scenario."""\n\n# Few trials: iris is small.\nSCENARIO = {\n'
        f'    "facade": "hpo",\n    "n_trials": {n_trials},\n    "walltime": 120.0,\n'
        '    "n_workers": 1,\n    "deterministic": True,\n    "objectives": ["loss"],\n'
        '    "seed": 0,\n}\n'
    )


BROKEN_SPACE = """
from ConfigSpace import Categorical, ConfigurationSpace, Float, ParentCondition


def get_configspace():
    cs = ConfigurationSpace(seed=0)
    model = Categorical("model", ["linear", "knn"], default="linear")
    c = Float("linear:C", (1e-4, 1e4), log=True, default=1.0)
    cs.add(model, c, ParentCondition(c, model, "linear"))
    return cs
"""

# Crashes on every configuration but the default, on the full training split only (the
# verifier trains on a smaller sample, so this passes verification and fails in the search).
CRASHING = """
if len(data.y) > 100 and (config.get("model") != "linear" or config.get("linear:C") != 1.0):
    raise ValueError("solver diverged on this configuration")
"""


class Agents:
    """The scripted model: answers per role, the last answer of a role repeats."""

    ROLES = {
        "Plan the hyperparameter search": "plan",
        "(component: configspace)": "configspace",
        "(component: train)": "train",
        "(component: scenario)": "scenario",
    }

    def __init__(self, **answers: list) -> None:
        self.answers = {role: list(items) for role, items in answers.items()}
        self.requests: dict[str, list[dict]] = {}
        self._lock = threading.Lock()

    def role(self, body: dict) -> str:
        first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        return next(role for marker, role in self.ROLES.items() if marker in first_user)

    def __call__(self, body: dict) -> Reply:
        role = self.role(body)
        with self._lock:
            self.requests.setdefault(role, []).append(body)
            queue = self.answers[role]
            item = queue.pop(0) if len(queue) > 1 else queue[0]
        return item if isinstance(item, Reply) else Reply.text(item)

    def prompt(self, role: str, number: int) -> str:
        """The whole prompt of a role's request (1-based), as the model received it."""
        return "\n".join(str(m["content"]) for m in self.requests[role][number - 1]["messages"])


def correct_agents(n_trials: int = 4, **overrides) -> Agents:
    answers = {
        "plan": [plan_answer(n_trials)],
        "configspace": [fenced(configspace_source())],
        "train": [fenced(train_source())],
        "scenario": [fenced(scenario_source(n_trials))],
    }
    return Agents(**{**answers, **overrides})


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


def llm_settings(server: ScriptedLLMServer, **changes) -> dict:
    return {
        "provider": "openai_compatible",
        "base_url": server.base_url,
        "model": "scripted-coder",
        "api_key_env": KEY_ENV,
        "timeout": 30,
        "retry_backoff_s": 0.01,
        "retry_backoff_max_s": 0.05,
        "prices": {"input": 1.0, "output": 2.0},
        **changes,
    }


# ---- in-process runs of single nodes --------------------------------------------------------


def start_run(tmp_path: Path, server: ScriptedLLMServer, backend: str = "process", **changes) -> dict:
    from nodes.initialize import initialize

    data = {
        "name": "iris",
        "dataset": {"name": "iris"},
        "sandbox": {"backend": backend},
        "optimizer": {"n_trials": 4},
        "verify": {"n_configs": 2, "n_samples": 30},
        "llm": llm_settings(server, **changes.pop("llm", {})),
        **changes,
    }
    state = {"config": parse_config(data).model_dump(mode="json"), "run_dir": str(tmp_path / "iris")}
    return {**state, **initialize(state)}


def apply(state: dict, update: dict) -> dict:
    """Merge a node's update the way the graph's reducers do."""
    merged = dict(state)
    for key, value in update.items():
        if key in ("components", "attempts", "reports", "fallbacks"):
            merged[key] = {**state.get(key, {}), **value}
        else:
            merged[key] = value
    return merged


def code_all(state: dict) -> dict:
    from nodes.code import code, route_to_coders

    for send in route_to_coders(state):
        state = apply(state, code(send.arg))
    return state


def calls(run_dir: str) -> list[dict]:
    path = Path(run_dir) / "llm_calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_planner_answer_that_is_not_json_is_asked_again(tmp_path, api_key):
    from nodes.plan import plan

    agents = correct_agents(
        plan=[
            "Sure! The plan: {task: classification, metric: accuracy, families: [linear, knn]}",
            plan_answer(n_trials=3, families=["linear", "knn", "gaussian_process"], metric="r2"),
        ]
    )
    with ScriptedLLMServer(agents) as server:
        state = start_run(tmp_path, server, llm={"structured_output": "json_schema"})
        decided = plan(state)["plan"]
    assert decided["author"] == "llm (scripted-coder)"
    schema = agents.requests["plan"][0]["response_format"]["json_schema"]
    assert schema["name"] == "PlanProposal" and "rationale" in schema["schema"]["properties"]
    assert decided["families"] == FAMILIES and decided["scenario"]["n_trials"] == 3
    # Held to the configuration: unknown family dropped, a regression metric refused.
    assert decided["metric"] == "accuracy" and len(decided["corrections"]) == 2
    assert "gaussian_process" in decided["rationale"] and decided["template"] == "tabular"
    assert len(agents.requests["plan"]) == 2
    second = agents.prompt("plan", 2)
    assert "could not be used" in second and "no valid JSON" in second
    logged = calls(state["run_dir"])
    assert [c.get("parse_error") is not None for c in logged] == [False, True, False]
    usage = read_json(Path(state["run_dir"]) / "usage.json")
    assert usage["nodes"]["plan"]["calls"] == 2 and usage["nodes"]["plan"]["input_tokens"] > 0
    assert read_json(Path(state["run_dir"]) / "plan.json")["author"].startswith("llm")


def test_a_rate_limit_is_retried_then_the_plan_succeeds(tmp_path, api_key):
    from nodes.plan import plan

    agents = correct_agents(plan=[Reply.error(429, "rate limited", headers={"Retry-After": "0"}), plan_answer()])
    with ScriptedLLMServer(agents) as server:
        state = start_run(tmp_path, server)
        decided = plan(state)["plan"]
    assert decided["author"].startswith("llm") and len(agents.requests["plan"]) == 2
    logged = calls(state["run_dir"])
    assert logged[0]["status"] == 429 and "answer" in logged[1]
    assert read_json(Path(state["run_dir"]) / "usage.json")["nodes"]["plan"]["failed_calls"] == 1


def test_an_unreachable_planner_falls_back_to_the_builtin_plan(tmp_path, api_key):
    from nodes.plan import plan

    agents = correct_agents(plan=[Reply.error(503, "overloaded")])
    with ScriptedLLMServer(agents) as server:
        state = start_run(tmp_path, server, llm={"max_retries": 1})
        decided = plan(state)["plan"]
    assert decided["author"] == "builtin (LLM fallback)" and "HTTP 503" in decided["fallback"]
    events = [e for e in (Path(state["run_dir"]) / "events.jsonl").read_text().splitlines()]
    assert any('"llm fallback"' in e and "503" in e for e in events)


def test_a_page_instead_of_json_is_retried_then_the_builtin_plan_decides(tmp_path, api_key):
    """A proxy's login page answered with HTTP 200: not a traceback, an unavailable endpoint."""
    from nodes.plan import plan

    agents = correct_agents(plan=[Reply.page()])
    with ScriptedLLMServer(agents) as server:
        state = start_run(tmp_path, server, llm={"max_retries": 2})
        decided = plan(state)["plan"]
    assert decided["author"] == "builtin (LLM fallback)" and "not a chat completion" in decided["fallback"]
    assert len(agents.requests["plan"]) == 3  # the first call and two retries


def test_reasoning_model_answers_with_a_think_block(tmp_path, api_key):
    """A DeepSeek-R1-like preset: <think> blocks are stripped, the code inside fences is used."""
    from nodes.plan import plan
    from nodes.verify import verify

    think = "<think>The user wants iris. ConfigSpace has ParentCondition? No: EqualsCondition.</think>\n"
    agents = correct_agents(
        plan=[think + plan_answer()],
        configspace=[think + fenced(configspace_source())],
        train=[think + fenced(train_source())],
        scenario=[think + fenced(scenario_source())],
    )
    with ScriptedLLMServer(agents) as server:
        state = start_run(tmp_path, server, llm={"provider": "deepseek-r1", "model": None})
        state = apply(state, plan(state))
        state = code_all(state)
        state = apply(state, verify(state))
    assert all(r["status"] == "passed" for r in state["reports"].values()), state["reports"]
    assert all(info["author"] == "llm" for info in state["components"].values())
    written = (Path(state["run_dir"]) / "code" / "attempts" / "configspace-1.py").read_text()
    assert "<think>" not in written and "ParentCondition" not in written
    logged = calls(state["run_dir"])
    assert all("ParentCondition" in c["reasoning"] for c in logged)
    assert {c["model"] for c in logged} == {"deepseek-ai/DeepSeek-R1"}  # the preset's model


def test_a_cap_with_on_cap_stop_stops_the_coders(tmp_path, api_key):
    from nodes.plan import plan
    from nodes.verify import route_after_verify, verify

    with ScriptedLLMServer(correct_agents()) as server:
        state = start_run(tmp_path, server, llm={"max_tokens": 10, "on_cap": "stop"})
        state = apply(state, plan(state))  # the call that crosses the cap completes
        assert state["plan"]["author"].startswith("llm")
        state = code_all(state)
    assert "llm.max_tokens" in state["failure"] and "components" not in state
    assert verify(state) == {} and route_after_verify(state) == "__end__"


def test_generated_code_cannot_read_the_api_key(tmp_path, api_key):
    """The key is in this process's environment; the sandbox's workers start with an empty one."""
    from nodes.plan import plan
    from nodes.verify import verify

    reads_key = """
import os
leaked = {k: v for k, v in os.environ.items() if "KEY" in k or "TOKEN" in k}
if leaked:
    raise RuntimeError("read the host environment: " + repr(leaked))
"""
    assert os.environ[KEY_ENV] == KEY  # the code below would see it, were it run on the host
    agents = correct_agents(train=[fenced(train_source(reads_key))])
    with ScriptedLLMServer(agents) as server:
        state = start_run(tmp_path, server)
        state = apply(state, plan(state))
        state = code_all(state)
        state = apply(state, verify(state))
    assert "read the host environment" in train_source(reads_key)
    assert state["reports"]["train"]["status"] == "passed", state["reports"]["train"]["error"]
    for path in Path(state["run_dir"]).rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".md", ".py"):
            assert KEY not in path.read_text(errors="replace"), path


class Listener:
    """A TCP server that counts who connects (on all interfaces of the host by default)."""

    def __init__(self, host: str = "0.0.0.0") -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def host_address() -> str:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))  # no packet is sent; picks the outgoing interface
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


@pytest.mark.docker
def test_generated_code_cannot_open_a_socket_in_docker(tmp_path, api_key, docker_ready):
    """The training function phones home to a listener on this host: from the docker sandbox it
    cannot (no network); the same code in the unsafe_process sandbox can, which shows the probe works."""
    from nodes.common import sandbox_for
    from nodes.plan import plan
    from nodes.verify import verify

    with Listener() as listener:
        address = host_address()
        phones_home = f"""
import socket
try:
    socket.create_connection(({address!r}, {listener.port}), timeout=2).close()
    reached = True
except OSError:
    reached = False
"""
        agents = correct_agents(train=[fenced(train_source(phones_home))])
        with ScriptedLLMServer(agents) as server:
            state = start_run(tmp_path, server, backend="docker")
            assert state["backend"] == "docker"
            state = apply(state, plan(state))
            state = code_all(state)
            state = apply(state, verify(state))
        assert state["reports"]["train"]["status"] == "passed", state["reports"]["train"]["error"]
        assert listener.connections == 0  # three train calls in docker, none got out
        control = {**state, "backend": "unsafe_process"}  # the one backend that does not isolate
        with sandbox_for(control, name="control") as sandbox:
            default = {"model": "linear", "linear:C": 1.0, "scaler": "standard", "class_weight": "none"}
            outcome = sandbox.call("train", module="attempts/train-1.py", data="verify.pkl", config=default)
        assert outcome.ok, outcome.describe()
        assert listener.connections >= 1, "the probe never reached the host from the unsafe_process sandbox"


# ---- whole runs through the command line (slow: they run SMAC) --------------------------------


def iris_files(tmp_path: Path) -> tuple[Path, Path]:
    """Iris as the user's train and test files; the test file holds a canary value."""
    iris = load_iris(as_frame=True)
    frame = iris.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["target"] = iris.target_names[iris.target]
    test = frame.iloc[::5].copy()
    train = frame.drop(test.index)
    test.iloc[0, 0] = CANARY
    paths = tmp_path / "iris_train.csv", tmp_path / "iris_test.csv"
    train.to_csv(paths[0], index=False)
    test.to_csv(paths[1], index=False)
    return paths


def write_config(tmp_path: Path, server: ScriptedLLMServer, n_trials: int = 4, **sections) -> Path:
    train, test = iris_files(tmp_path)
    config = {
        "name": "iris-llm",
        "objective": "classify the species; explain the choice",
        "dataset": {"path": str(train), "test_path": str(test), "target": "target"},
        "optimizer": {"n_trials": n_trials, "walltime": 120},
        "sandbox": {"backend": "process"},
        "verify": {"n_configs": 2, "n_samples": 50, "subsample": 60},
        "llm": llm_settings(server, **sections.pop("llm", {})),
    }
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value}
    path = tmp_path / "iris-llm.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def run(tmp_path: Path, runs_dir: Path, server: ScriptedLLMServer, **sections):
    config = write_config(tmp_path, server, **sections)
    result = run_agent(str(config), runs_dir=runs_dir, env={KEY_ENV: KEY})
    return result, runs_dir / "iris-llm"


def all_prompts(server: ScriptedLLMServer) -> str:
    return "\n".join(r.prompt_text for r in server.requests)


@pytest.mark.slow
def test_clean_llm_run_deploys_a_model_and_records_every_call(tmp_path, runs_dir):
    agents = correct_agents()
    with ScriptedLLMServer(agents) as server:
        result, run_dir = run(tmp_path, runs_dir, server)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["test"]["accuracy"] >= 0.85 and metrics["trials"]["finished"] == 4
    plan = read_json(run_dir / "plan.json")
    assert plan["author"] == "llm (scripted-coder)" and plan["families"] == FAMILIES
    assert {len(agents.requests[r]) for r in ("plan", "configspace", "train", "scenario")} == {1}
    for component in ("configspace", "train", "scenario"):
        assert (run_dir / "code" / "attempts" / f"{component}-1.py").exists()
    # The model saw the profile, the plan, the contract and the API reference...
    train_prompt = agents.prompt("train", 1)
    assert '"n_rows": 120' in train_prompt and "predict_proba(model, X)" in train_prompt
    assert "ParentCondition" in agents.prompt("configspace", 1)  # the reference's warning
    assert '"families": [' in agents.prompt("scenario", 1)
    # ... and never the sealed test split: only its row count.
    prompts = all_prompts(server)
    assert '"n_test_rows": 30' in prompts
    assert str(CANARY) not in prompts and "9.8765" not in prompts
    # Tokens and cost per node, prompts and answers in the run folder, the summary and report.
    usage = read_json(run_dir / "usage.json")
    assert set(usage["nodes"]) == {"plan", "code:configspace", "code:train", "code:scenario"}
    assert all(n["input_tokens"] > 0 and n["cost_usd"] > 0 for n in usage["nodes"].values())
    logged = [json.loads(line) for line in (run_dir / "llm_calls.jsonl").read_text().splitlines()]
    assert {c["node"] for c in logged} == set(usage["nodes"]) and all(c["answer"] for c in logged)
    report = (run_dir / "report.md").read_text()
    assert "## LLM" in report and "| code:train | 1 |" in report
    assert (run_dir / "llm" / "code-train-1.md").exists()
    assert "LLM        scripted-coder: 4 calls" in result.stdout and "USD" in result.stdout


@pytest.mark.slow
def test_a_coder_learns_from_the_verifiers_error(tmp_path, runs_dir):
    agents = correct_agents(configspace=[fenced(BROKEN_SPACE), fenced(configspace_source())])
    with ScriptedLLMServer(agents) as server:
        result, run_dir = run(tmp_path, runs_dir, server)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(agents.requests["configspace"]) == 2
    assert len(agents.requests["train"]) == 1  # the passing/skipped components are kept
    retry = agents.prompt("configspace", 2)
    first_report = read_json(run_dir / "reports" / "verify-1.json")["configspace"]
    assert first_report["status"] == "failed" and "ParentCondition" in first_report["error"]
    assert "YOUR PREVIOUS ATTEMPT (attempt 1) FAILED" in retry
    assert "cannot import name 'ParentCondition'" in retry  # the verifier's error, traceback
    assert "ParentCondition(c, model" in retry  # and the previous source
    report = (run_dir / "report.md").read_text()
    assert "| configspace | 1 | llm | failed | builds and samples: crashed" in report
    assert "| configspace | 2 | llm | passed |" in report


@pytest.mark.slow
def test_trials_that_crash_are_recorded_and_the_run_goes_on(tmp_path, runs_dir):
    agents = correct_agents(n_trials=5, train=[fenced(train_source(CRASHING))])
    with ScriptedLLMServer(agents) as server:
        result, run_dir = run(tmp_path, runs_dir, server, n_trials=5, optimizer={"max_crash_share": 1.0})
    assert result.returncode == 0, result.stderr[-3000:]
    search = read_json(run_dir / "search.json")
    assert search["status_counts"]["crashed"] >= 3 and search["status_counts"]["success"] >= 1
    assert search["stopped_by"] == "n_trials" and len(agents.requests["train"]) == 1
    trials = (run_dir / "trials.csv").read_text()
    assert "solver diverged on this configuration" in trials
    assert read_json(run_dir / "model" / "config.json")  # the default configuration was deployed


@pytest.mark.slow
def test_too_many_crashed_trials_send_train_back_to_its_coder(tmp_path, runs_dir):
    agents = correct_agents(n_trials=5, train=[fenced(train_source(CRASHING)), fenced(train_source())])
    with ScriptedLLMServer(agents) as server:
        result, run_dir = run(
            tmp_path, runs_dir, server, n_trials=5, optimizer={"max_crash_share": 0.5, "crash_check_after": 3}
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(agents.requests["train"]) == 2 and len(agents.requests["configspace"]) == 1
    recode = agents.prompt("train", 2)
    assert "THE SEARCH STOPPED" in recode and "solver diverged on this configuration" in recode
    assert '"linear:C"' in recode  # a crashed trial's configuration
    crashes = read_json(run_dir / "reports" / "crashes-1.json")
    assert crashes["n_crashed"] == 2 and crashes["n_trials"] == 3  # stopped early, not 5
    assert (run_dir / "trials-abandoned-1.csv").exists()
    # A fresh SMAC run history for the new training function: all its trials succeed.
    assert list((run_dir / "smac" / "recode-1").rglob("runhistory.json"))
    search = read_json(run_dir / "search.json")
    assert search["status_counts"] == {"success": 5}
    report = (run_dir / "report.md").read_text()
    assert "crashed in search" in report and "went back to its coder 1 time" in report


def test_builtin_takes_over_a_component_and_its_partner():
    from nodes.verify import VerificationReport, builtin_takes_over

    report = VerificationReport("configspace", 2)
    report.add("builds and samples", False, "crashed: ImportError: ParentCondition")
    report = report.to_dict()
    components = {c: {"author": "llm"} for c in ("configspace", "train", "scenario")}
    taken = builtin_takes_over(["configspace"], components, {}, {"configspace": report}, "builtin")
    assert set(taken) == {"configspace", "train"} and "ParentCondition" in taken["configspace"]
    assert builtin_takes_over(["configspace"], components, {}, {"configspace": report}, "stop") == {}
    # Once taken over, never again: a built-in component that still fails stops the run.
    components["configspace"]["author"] = "builtin"
    assert builtin_takes_over(["configspace"], components, taken, {"configspace": report}, "builtin") == {}


@pytest.mark.slow
def test_used_up_attempts_hand_the_component_to_the_builtin_coder(tmp_path, runs_dir):
    agents = correct_agents(configspace=[fenced(BROKEN_SPACE)])
    with ScriptedLLMServer(agents) as server:
        result, run_dir = run(tmp_path, runs_dir, server, coder={"max_code_attempts": 2})
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(agents.requests["configspace"]) == 2  # the cap, then no more LLM calls for it
    state = read_json(run_dir / "reports" / "verify-3.json")
    assert all(r["status"] == "passed" for r in state.values())
    final = (run_dir / "code" / "final" / "configspace.py").read_text()
    assert "ParentCondition" not in final and "Written by the built-in coder" in final
    report = (run_dir / "report.md").read_text()
    assert "| configspace | 3 | builtin (took over: 2 LLM attempts failed verification" in report
    # The training function shares the space's names: the built-in coder wrote it too.
    assert "| train | 2 | builtin (took over: written with the built-in configspace" in report


@pytest.mark.slow
def test_a_cost_cap_mid_run_falls_back_to_the_builtin_coder(tmp_path, runs_dir):
    agents = correct_agents()
    with ScriptedLLMServer(agents) as server:
        # Only the planner's call fits: it crosses the cap, every later call is refused.
        result, run_dir = run(
            tmp_path, runs_dir, server, llm={"max_cost_usd": 0.0001, "prices": {"input": 1.0, "output": 1.0}}
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(agents.requests) == {"plan"}
    assert read_json(run_dir / "plan.json")["author"].startswith("llm")
    usage = read_json(run_dir / "usage.json")
    assert "llm.max_cost_usd" in usage["budget_exceeded"]
    report = (run_dir / "report.md").read_text()
    assert "**Budget reached**" in report
    assert report.count("builtin (took over: LLM budget reached") == 3
    assert "(budget reached)" in result.stdout
    assert read_json(run_dir / "metrics.json")["test"]["accuracy"] >= 0.85


def test_every_provider_preset_has_an_example_config(monkeypatch):
    from graph.config import load_config
    from tools.llm import PRESETS, read_api_key

    examples = {p.stem: p for p in (ROOT / "configs" / "llm").glob("*.yaml")}
    assert set(examples) == set(PRESETS)
    for name, path in examples.items():
        config = load_config(path)
        assert config.llm.provider == name and config.llm.enabled
        resolved = config.llm.resolve()  # every field the endpoint needs is there
        if resolved.api_key_env:
            monkeypatch.setenv(resolved.api_key_env, "k")
        assert read_api_key(resolved)


# A space that lacks the built-in families' strength: one linear model, regularised to uselessness.
WEAK_SPACE = """
from ConfigSpace import Categorical, ConfigurationSpace, Float


def get_configspace():
    cs = ConfigurationSpace(seed=0)
    cs.add(Categorical("model", ["linear"], default="linear"), Float("linear:C", (1e-5, 1e-4), log=True))
    return cs
"""


@pytest.mark.slow
def test_a_weak_llm_space_ends_no_worse_than_the_builtin_portfolio(tmp_path, runs_dir):
    """The template's default and portfolio train beside the LLM's search; their best is
    deployed (with the template's training function) when it beats the LLM's incumbent."""
    agents = correct_agents(configspace=[fenced(WEAK_SPACE)])
    with ScriptedLLMServer(agents) as server:
        result, run_dir = run(tmp_path, runs_dir, server)
    assert result.returncode == 0, result.stderr[-3000:]
    portfolio = read_json(run_dir / "builtin_trials.json")
    assert len(portfolio) >= 3 and (run_dir / "code" / "final" / "builtin" / "train.py").exists()
    best_builtin = min(t["loss"] for t in portfolio if t["loss"] is not None)
    search = read_json(run_dir / "search.json")
    assert search["incumbent_module"] == "final/builtin/train.py"
    assert search["search_incumbent_loss"] > best_builtin  # the weak space's best was worse
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["cv"]["loss"] <= best_builtin and metrics["test"]["accuracy"] >= 0.85
    assert metrics["trials"]["finished"] == 4  # the LLM's search still ran its trials
    # The deployed model predicts through the template's training function, in the sandbox.
    rows = tmp_path / "rows.csv"
    pd.read_csv(tmp_path / "iris_test.csv").drop(columns="target").head(5).to_csv(rows, index=False)
    predicted = run_predict(run_dir, rows, "--backend", "process")
    assert predicted.returncode == 0, predicted.stderr[-2000:]


def test_the_planner_proposes_objectives_from_the_users_words(tmp_path, api_key):
    """ "Must predict in under 10 ms" becomes a latency objective and a bound, recorded with its
    reason; an invalid proposal is dropped with a note; objectives in the config win."""
    from nodes.plan import plan

    bounded = plan_answer(
        objectives=["predict_latency"],
        select={"max": {"predict_latency": 10}},
        objectives_reason="The user needs predictions in under 10 ms.",
    )
    invalid = plan_answer(objectives=["latency"], select="knee")
    agents = correct_agents(plan=[bounded, invalid, bounded])
    with ScriptedLLMServer(agents) as server:
        state = start_run(tmp_path / "a", server, objective="classify iris; it must predict in under 10 ms")
        decided = plan(state)["plan"]
        assert "objectives" in agents.prompt("plan", 1) and "under 10 ms" in agents.prompt("plan", 1)
        dropped = plan(start_run(tmp_path / "b", server))["plan"]
        fixed = plan(start_run(tmp_path / "c", server, objectives=["accuracy", "model_size"]))["plan"]
    assert decided["objectives"] == ["predict_latency"] and decided["select"] == {"max": {"predict_latency": 10}}
    assert decided["objectives_reason"] == "LLM planner: The user needs predictions in under 10 ms."
    assert read_json(Path(state["run_dir"]) / "plan.json")["objectives"] == ["predict_latency"]
    assert "objectives" not in dropped and "the proposed objectives were dropped" in dropped["rationale"]
    assert "'latency' is not an objective" in dropped["rationale"]
    assert fixed["objectives"] == ["model_size"] and fixed["select"] == "best"
    assert "objectives are the config's" in fixed["corrections"]
