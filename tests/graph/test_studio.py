"""LangGraph Studio: `langgraph dev` loads the graph from langgraph.json and runs it over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(base: str, method: str, path: str, body: dict | None = None, timeout: float = 30):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture
def studio_server(tmp_path):
    port = free_port()
    log = open(tmp_path / "langgraph-dev.log", "w")  # outside the app folder: no reload loop
    env = {**os.environ, "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "1"}
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "langgraph") if (ROOT / ".venv").exists() else "langgraph",
            "dev",
            "--no-browser",
            "--no-reload",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                call(base, "GET", "/ok", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError((tmp_path / "langgraph-dev.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        log.close()


def test_studio_serves_and_runs_the_graph_on_iris(studio_server, tmp_path):
    assistants = call(studio_server, "POST", "/assistants/search", {"graph_id": "automl_agent"})
    assert assistants and assistants[0]["graph_id"] == "automl_agent"
    thread = call(studio_server, "POST", "/threads", {})
    config = {
        "name": "iris-studio",
        "dataset": {"name": "iris"},
        "optimizer": {"n_trials": 5},
        "sandbox": {"backend": "process"},
        "verify": {"n_configs": 1, "n_samples": 20},
    }
    output = call(
        studio_server,
        "POST",
        f"/threads/{thread['thread_id']}/runs/wait",
        {"assistant_id": "automl_agent", "input": {"config": config, "runs_dir": str(tmp_path / "runs")}},
        timeout=600,
    )
    assert not output.get("failure"), output
    metrics = output["deployment"]["metrics"]
    assert metrics["test"]["accuracy"] >= 0.9
    assert (tmp_path / "runs" / "iris-studio" / "metrics.json").exists()
