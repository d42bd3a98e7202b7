"""Checkpoints in PostgreSQL (`checkpoints: postgresql://...`), against a real server.

`make test` starts one on loopback (scripts/postgres.sh); AUTOML_TEST_POSTGRES_URL points
the tests at another. In CI (CI=true) a missing server fails the tests instead of skipping.
"""

from __future__ import annotations

import csv
import os
import subprocess

import psycopg
import pytest

from tests.conftest import FAST, kill_mid_search, read_json, run_agent, start_agent, wait_for_trials

URL = os.environ.get("AUTOML_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:54329/automl")


@pytest.fixture(scope="module")
def postgres_url() -> str:
    try:
        psycopg.connect(URL, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        reason = f"no PostgreSQL server at {URL} ({str(exc).strip().splitlines()[0]}); run `make postgres`"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the PostgreSQL tests must run in CI, but {reason}")
        pytest.skip(reason)
    return URL


def checkpoints_of(url: str, thread_id: str) -> int:
    with psycopg.connect(url) as connection:
        return connection.execute("SELECT count(*) FROM checkpoints WHERE thread_id = %s", (thread_id,)).fetchone()[0]


@pytest.mark.slow
def test_killed_run_resumes_from_postgres_checkpoints(postgres_url, runs_dir):
    args = ["configs/iris.yaml", "--set", "optimizer.n_trials=12", *FAST, "--set", f"checkpoints={postgres_url}"]
    before = kill_mid_search(args, runs_dir, "iris", after_trials=4)
    assert 4 <= len(before) < 12
    run = runs_dir / "iris"
    assert not (run / "checkpoints.sqlite").exists()
    thread_id = (run / "run_id").read_text().strip()
    saved = checkpoints_of(postgres_url, thread_id)
    assert saved > 0, "the nodes before optimize were checkpointed in PostgreSQL"

    # The database out of reach at --resume: one line, and nothing of the run is touched.
    unreachable = "postgresql://postgres@127.0.0.1:9/automl"
    gone = run_agent(*args[:-1], f"checkpoints={unreachable}", "--resume", runs_dir=runs_dir, timeout=120)
    assert gone.returncode == 2
    assert gone.stderr.strip().startswith(f"error: checkpoints: cannot connect to {unreachable}: ")
    assert len(gone.stderr.strip().splitlines()) == 1 and checkpoints_of(postgres_url, thread_id) == saved

    result = run_agent(*args, "--resume", runs_dir=runs_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming" in result.stderr and "optimize" in result.stderr
    assert len(list(csv.DictReader(open(run / "trials.csv")))) == 12
    assert read_json(run / "metrics.json")["test"]["accuracy"] >= 0.9
    assert checkpoints_of(postgres_url, thread_id) > saved
    assert not (run / "checkpoints.sqlite").exists()

    # Resuming it without the URL would start over in SQLite: refused, in one line.
    plain = run_agent("configs/iris.yaml", *FAST, "--resume", runs_dir=runs_dir)
    assert plain.returncode == 2
    assert plain.stderr.strip() == (
        f"error: {run}: its checkpoints are in PostgreSQL; resume it with the same checkpoints URL"
    )


def test_an_unreachable_database_stops_before_the_run_starts(runs_dir):
    result = run_agent(
        "configs/iris.yaml",
        *FAST,
        "--set",
        "checkpoints=postgresql://postgres@127.0.0.1:9/automl",
        runs_dir=runs_dir,
        timeout=120,
    )
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith("error: checkpoints: cannot connect to postgresql://postgres@127.0.0.1:9/automl: ")
    assert "\n" not in line and not runs_dir.exists()


@pytest.mark.slow
def test_run_rides_out_dropped_database_connections(postgres_url, runs_dir):
    # A long search outlives server restarts and idle-connection reapers: the run's
    # connections are cut mid-search, and the run still checkpoints and finishes.
    args = ["configs/iris.yaml", "--set", "optimizer.n_trials=10", *FAST, "--set", f"checkpoints={postgres_url}"]
    proc = start_agent(args, runs_dir, stderr=subprocess.PIPE)
    wait_for_trials(proc, runs_dir, "iris", 3, "the run ended before its connections were cut")
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        cut = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert cut >= 1
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    run = runs_dir / "iris"
    assert read_json(run / "metrics.json")["trials"]["finished"] == 10
    thread_id = (run / "run_id").read_text().strip()
    with psycopg.connect(postgres_url) as connection:
        deployed = connection.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = %s AND checkpoint->'channel_versions' ? 'deployment'",
            (thread_id,),
        ).fetchone()[0]
    assert deployed >= 1, "deploy's result was checkpointed after the cut"
