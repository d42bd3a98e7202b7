"""The SMAC tool on its own: statuses, resume, and a changed scenario that must not prompt."""

from __future__ import annotations

import json

import pytest
from ConfigSpace import Categorical, ConfigurationSpace, Float

from sandbox.base import CallOutcome
from tools.scenario import ScenarioSpec
from tools.smac_tool import SearchStateError, SmacSearch


@pytest.fixture
def space() -> ConfigurationSpace:
    cs = ConfigurationSpace(seed=0)
    cs.add(Float("x", (-5.0, 5.0), default=3.0), Categorical("mode", ["ok", "slow", "boom"], default="ok"))
    return cs


def evaluate(worker: int, config: dict, seed: int, budget: float | None, seconds_left: float) -> CallOutcome:
    """A stand-in for a sandbox call: the outcome a sandbox would report for this config."""
    if config["mode"] == "slow":
        return CallOutcome("timeout", error="exceeded 1 s", elapsed=1.0)
    if config["mode"] == "boom":
        return CallOutcome("crashed", error="ValueError: boom", elapsed=0.01)
    return CallOutcome("success", result={"loss": (config["x"] - 1) ** 2, "score": 0.0}, elapsed=0.01)


def test_statuses_reach_smac_and_the_incumbent_is_a_success(space, tmp_path):
    search = SmacSearch(space, ScenarioSpec(n_trials=12, facade="random"), tmp_path, crash_cost=100.0)
    seen = []
    result = search.run(evaluate, on_trial=seen.append)
    assert result.n_trials == 12 and len(seen) == 12
    assert sum(result.status_counts.values()) == 12
    assert {"success", "timeout", "crashed"} <= set(result.status_counts)
    assert result.incumbent["mode"] == "ok" and result.incumbent_loss < 100
    rows = search.trials()
    assert [r["status"] for r in rows] == [r["status"] for r in seen]
    assert all(r["loss"] == 100.0 for r in rows if r["status"] != "success")


def test_a_new_process_continues_the_same_search(space, tmp_path):
    spec = ScenarioSpec(n_trials=5)
    first = SmacSearch(space, spec, tmp_path, crash_cost=100.0)
    first.run(evaluate)
    again = SmacSearch(space, spec, tmp_path, crash_cost=100.0)
    assert again.finished == 5
    assert again.run(evaluate).n_trials == 5, "nothing more to do, nothing repeated"
    assert not list((tmp_path / "search").glob("*-previous-*"))


def test_more_trials_on_resume_replays_the_old_run_without_a_prompt(space, tmp_path):
    SmacSearch(space, ScenarioSpec(n_trials=4), tmp_path, crash_cost=100.0).run(evaluate)
    bigger = SmacSearch(space, ScenarioSpec(n_trials=7), tmp_path, crash_cost=100.0)
    assert bigger.finished == 4, "the old trials were replayed into the new scenario"
    assert bigger.run(evaluate).n_trials == 7
    assert list((tmp_path / "search").glob("*-previous-*")), "the old run is kept beside the new"


def test_a_trial_running_at_the_walltime_is_stopped_there(space, tmp_path):
    """The walltime bounds the search, not just the start of the last trial."""
    import time

    given = []

    def slow(worker, config, seed, budget, seconds_left):
        given.append(seconds_left)
        needs = 30.0  # every trial would take far longer than the whole search may
        time.sleep(min(needs, seconds_left))
        return CallOutcome("timeout", error=f"exceeded {seconds_left:g} s", elapsed=seconds_left)

    started = time.monotonic()
    result = SmacSearch(space, ScenarioSpec(n_trials=5, walltime=1.5, facade="random"), tmp_path, crash_cost=100.0).run(
        slow
    )
    assert time.monotonic() - started < 5, "the search ended near its walltime"
    assert result.stopped_by == "walltime" and result.n_trials == 1
    assert 0 < given[0] <= 1.5
    assert result.status_counts == {"timeout": 1}


REPEAT = """
import json, sys, tempfile
from ConfigSpace import Categorical, ConfigurationSpace, Float
from sandbox.base import CallOutcome
from tools.scenario import ScenarioSpec
from tools.smac_tool import SearchStateError, SmacSearch

space = ConfigurationSpace(seed=0)
space.add(Float("x", (-5.0, 5.0)), Float("y", (-5.0, 5.0)), Categorical("c", ["a", "b", "c"]))

def evaluate(worker, config, seed, budget, seconds_left):
    loss = (config["x"] - 1) ** 2 + (config["y"] + 2) ** 2 + "abc".index(config["c"])
    return CallOutcome("success", result={"loss": loss}, elapsed=0.01)

search = SmacSearch(space, ScenarioSpec(n_trials=int(sys.argv[1]), facade=sys.argv[2]), tempfile.mkdtemp(),
                    crash_cost=1e6)
search.run(evaluate)
print(json.dumps([{k: round(v, 9) if isinstance(v, float) else v for k, v in r.items() if k.startswith("config.")}
                  for r in search.trials()]))
"""


@pytest.mark.parametrize(("facade", "n_trials"), [("hpo", 16)])
def test_the_same_seed_proposes_the_same_trials_in_every_process(facade, n_trials):
    """Python salts string hashes per process; the search must not depend on that salt."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    def trials(hash_seed: str) -> list:
        out = subprocess.run(
            [sys.executable, "-c", REPEAT, str(n_trials), facade],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    first, second = trials("1"), trials("2")
    assert len(first) == n_trials and first == second


def test_the_default_runs_first_then_the_start_portfolio_in_its_order(space, tmp_path):
    # A portfolio names what differs from the default: {"x": 1.0} is {"x": 1.0, "mode": "ok"}.
    portfolio = [{"x": 1.0}, {"x": 9.0, "mode": "ok"}, {"unknown": 1}, {"x": -2.0, "mode": "slow"}]
    search = SmacSearch(space, ScenarioSpec(n_trials=8), tmp_path, crash_cost=100.0, start=portfolio)
    search.run(evaluate)
    tried = [(row["config.x"], row["config.mode"]) for row in search.trials()]
    # x = 9 is outside the space and the unknown name is not in it: both skipped.
    assert tried[:3] == [(3.0, "ok"), (1.0, "ok"), (-2.0, "slow")]
    assert len(tried) == 8 and len(set(tried)) == 8


@pytest.mark.parametrize("n_trials", [1, 2, 3, 6])
def test_a_portfolio_larger_than_the_budget_is_cut_to_fit(space, tmp_path, n_trials):
    """SMAC refuses an initial design larger than the trials; the search shrinks it instead."""
    portfolio = [{"x": x / 2} for x in range(-8, 9)]
    search = SmacSearch(space, ScenarioSpec(n_trials=n_trials), tmp_path, crash_cost=100.0, start=portfolio)
    result = search.run(evaluate)
    assert result.n_trials == n_trials
    assert search.trials()[0]["config.x"] == 3.0  # the default first, always


@pytest.mark.parametrize("torn", ["runhistory.json", "intensifier.json", "optimization.json"])
def test_a_torn_state_file_falls_back_to_its_last_complete_copy(space, tmp_path, torn):
    spec = ScenarioSpec(n_trials=5)
    SmacSearch(space, spec, tmp_path, crash_cost=100.0).run(evaluate)
    state = tmp_path / "search" / "0"
    (state / torn).write_text((state / torn).read_text()[:40])  # a kill in the middle of a write
    again = SmacSearch(space, spec, tmp_path, crash_cost=100.0)
    assert again.finished == 5 and again.run(evaluate).n_trials == 5
    (state / torn).write_text("{")
    (state / f"{torn}.saved").unlink()
    with pytest.raises(SearchStateError, match=f"{torn} is unreadable .* has no saved copy; remove "):
        SmacSearch(space, spec, tmp_path, crash_cost=100.0)
