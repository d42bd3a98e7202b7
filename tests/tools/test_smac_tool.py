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


def test_a_reserve_ends_the_search_that_much_before_its_walltime(space, tmp_path):
    """Deploy's reserve (asked before each trial) shortens the search and every trial's time."""
    import time

    given = []

    def steady(worker, config, seed, budget, seconds_left):
        given.append(seconds_left)
        time.sleep(0.2)
        return CallOutcome("success", result={"loss": 0.5}, elapsed=0.2)

    reserve = [0.0]
    started = time.monotonic()

    def growing() -> float:  # grows as trials come in, as the best trials' refits do
        reserve[0] = min(1.0, 0.25 * len(given))
        return reserve[0]

    spec = ScenarioSpec(n_trials=100, walltime=3.0, facade="random")
    result = SmacSearch(space, spec, tmp_path, crash_cost=100.0).run(steady, reserve=growing)
    assert result.stopped_by == "walltime"
    assert 1.8 <= time.monotonic() - started < 2.8, "ended about the reserve's 1 s before the walltime"
    assert given[-1] <= 3.0 - 1.0


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


STATE_FILES = ["runhistory.json", "intensifier.json", "optimization.json"]


def tried(search: SmacSearch) -> list[tuple]:
    return [(r["config.x"], r["config.mode"], r["status"], r["loss"]) for r in search.trials()]


@pytest.mark.parametrize("torn", STATE_FILES)
def test_a_torn_state_file_is_rebuilt_from_the_journal(space, tmp_path, torn):
    spec = ScenarioSpec(n_trials=5)
    first = SmacSearch(space, spec, tmp_path, crash_cost=100.0)
    first.run(evaluate)
    state = tmp_path / "search" / "0"
    (state / torn).write_text((state / torn).read_text()[:40])  # a kill in the middle of a write
    again = SmacSearch(space, spec, tmp_path, crash_cost=100.0)
    assert again.finished == 5 and tried(again) == tried(first)
    assert again.result().incumbent == first.result().incumbent
    assert again.run(evaluate).n_trials == 5
    assert (state / f"{torn}.torn").exists(), "the torn file is kept aside, not deleted"


def test_trials_told_after_smacs_last_write_are_told_again_from_the_journal(space, tmp_path):
    """SMAC's files are written every so often; a kill between two writes loses no trial."""
    spec = ScenarioSpec(n_trials=6)
    state = tmp_path / "search" / "0"
    first = SmacSearch(space, spec, tmp_path, crash_cost=100.0)

    def snapshot_at_3(record: dict) -> None:
        if record["trial"] == 3:
            first._save()
            for name in STATE_FILES:
                (state / f"{name}.at3").write_bytes((state / name).read_bytes())

    first.run(evaluate, on_trial=snapshot_at_3)
    for name in STATE_FILES:  # as if killed after trial 6 with SMAC's files last written at 3
        (state / f"{name}.at3").replace(state / name)
    again = SmacSearch(space, spec, tmp_path, crash_cost=100.0)
    assert again.finished == 6 and tried(again) == tried(first)
    assert again.run(evaluate).n_trials == 6, "nothing run twice"


def test_a_torn_last_journal_line_is_dropped_and_the_journal_goes_on(space, tmp_path):
    SmacSearch(space, ScenarioSpec(n_trials=5), tmp_path, crash_cost=100.0).run(evaluate)
    journal = tmp_path / "search" / "0" / SmacSearch.JOURNAL
    with open(journal, "a") as fh:
        fh.write('{"config": {"x": 1.0, "mo')  # a kill in the middle of an append
    again = SmacSearch(space, ScenarioSpec(n_trials=5), tmp_path, crash_cost=100.0)
    assert again.finished == 5 and len(journal.read_text().splitlines()) == 5
    assert again.run(evaluate).n_trials == 5
    more = SmacSearch(space, ScenarioSpec(n_trials=7), tmp_path, crash_cost=100.0)
    assert more.run(evaluate).n_trials == 7
    assert [json.loads(line)["cost"] for line in journal.read_text().splitlines()] == [r["loss"] for r in more.trials()]


def test_a_run_from_before_the_journal_keeps_its_trials(space, tmp_path):
    """Runs saved by earlier versions have SMAC's files and `.saved` copies, no journal."""
    spec = ScenarioSpec(n_trials=5)
    first = SmacSearch(space, spec, tmp_path, crash_cost=100.0)
    first.run(evaluate)
    state = tmp_path / "search" / "0"
    (state / SmacSearch.JOURNAL).unlink()
    again = SmacSearch(space, spec, tmp_path, crash_cost=100.0)
    assert again.finished == 5 and tried(again) == tried(first)
    assert len((state / SmacSearch.JOURNAL).read_text().splitlines()) == 5, "a journal is written from SMAC's files"
    (state / SmacSearch.JOURNAL).unlink()
    (state / "intensifier.json.saved").write_bytes((state / "intensifier.json").read_bytes())
    (state / "intensifier.json").write_text("{")
    assert SmacSearch(space, spec, tmp_path, crash_cost=100.0).finished == 5, "the copy an old run kept is used"
    (state / SmacSearch.JOURNAL).unlink()
    (state / "runhistory.json").write_text("{")
    with pytest.raises(SearchStateError, match="runhistory.json is unreadable .* has no saved copy; remove "):
        SmacSearch(space, spec, tmp_path, crash_cost=100.0)


def test_smacs_files_are_not_rewritten_after_every_cheap_trial(space, tmp_path):
    """Rewriting the whole run history after every trial costs O(trials) each time."""
    search = SmacSearch(space, ScenarioSpec(n_trials=40, facade="random"), tmp_path, crash_cost=100.0)
    saves = []
    original = search.smac.optimizer.save
    search.smac.optimizer.save = lambda: saves.append(1) or original()
    assert search.run(evaluate).n_trials == 40
    assert len(saves) < 20
    journal = tmp_path / "search" / "0" / SmacSearch.JOURNAL
    assert len(journal.read_text().splitlines()) == 40


KILLED = """
import json, sys
from ConfigSpace import Categorical, ConfigurationSpace, Float
from sandbox.base import CallOutcome
from tools.scenario import ScenarioSpec
from tools.smac_tool import SmacSearch

space = ConfigurationSpace(seed=0)
space.add(Float("x", (-5.0, 5.0)), Categorical("c", ["a", "b"]))

def evaluate(worker, config, seed, budget, seconds_left):
    return CallOutcome("success", result={"loss": (config["x"] - 1) ** 2 + (config["c"] == "b")}, elapsed=0.0)

def reported(record):
    print(json.dumps([record["config"]["x"], record["loss"]]), flush=True)

SmacSearch(space, ScenarioSpec(n_trials=int(sys.argv[2]), facade=sys.argv[3]), sys.argv[1], crash_cost=1e6).run(
    evaluate, on_trial=reported)
"""


@pytest.mark.parametrize(("facade", "kill_after"), [("random", 7), ("random", 23), ("hpo", 11), ("hpo", 31)])
def test_a_kill_at_any_moment_loses_no_reported_trial(tmp_path, facade, kill_after):
    """kill -9 a search of instant trials (so the kill may land while SMAC's files or the journal
    are being written); every trial it reported is in the resumed run history, none twice."""
    import signal
    import subprocess
    import sys

    from ConfigSpace import Categorical, ConfigurationSpace, Float

    from tests.conftest import ROOT

    n_trials = 40
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(tmp_path), str(n_trials), facade],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    reported = [json.loads(proc.stdout.readline()) for _ in range(kill_after)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    space = ConfigurationSpace(seed=0)
    space.add(Float("x", (-5.0, 5.0)), Categorical("c", ["a", "b"]))
    again = SmacSearch(space, ScenarioSpec(n_trials=n_trials, facade=facade), tmp_path, crash_cost=1e6)
    kept = [[r["config.x"], r["loss"]] for r in again.trials()]
    assert again.finished >= kill_after and kept[:kill_after] == reported
    assert again.run(lambda *a: CallOutcome("success", result={"loss": 0.5}, elapsed=0.0)).n_trials == n_trials


def test_the_surrogate_is_smacs_but_for_two_settings_that_cost_time(space, tmp_path):
    from smac import HyperparameterOptimizationFacade

    from tools.smac_tool import surrogate

    search = SmacSearch(space, ScenarioSpec(n_trials=5), tmp_path, crash_cost=100.0)
    ours, smacs = surrogate(search.scenario).meta, HyperparameterOptimizationFacade.get_model(search.scenario).meta
    changed = {k for k in smacs if ours[k] != smacs[k]}
    assert changed == {"max_leaf_nodes", "n_jobs"} and ours["n_jobs"] == 1 and ours["max_leaf_nodes"] is None
    assert search.smac.meta["model"] == ours
    fidelity = ScenarioSpec(n_trials=5, facade="multi_fidelity", min_budget=0.1, max_budget=1.0)
    assert SmacSearch(space, fidelity, tmp_path / "mf", crash_cost=100.0).smac.meta["model"]["n_jobs"] == 1
