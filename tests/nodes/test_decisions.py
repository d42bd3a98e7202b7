"""Where the run goes next: verify's and optimize's decisions, as pure functions (no sandbox)."""

from __future__ import annotations

import pytest

from graph.config import CoderConfig, OptimizerConfig
from nodes.optimize import SearchBook, ShareWatch, too_many_crashes, trial_timeout
from nodes.optimize import decide as after_search
from nodes.verify import decide as after_verify

LLM = {c: {"author": "llm"} for c in ("configspace", "train", "scenario")}


def reports(**statuses: str) -> dict:
    out = {c: {"status": "passed", "error": None, "attempt": 1} for c in ("configspace", "train", "scenario")}
    for component, status in statuses.items():
        out[component] = {
            "status": status,
            "attempt": 3,
            "error": f"{component} failed: bad hyperparameter name" if status == "failed" else None,
        }
    return out


def test_all_passed_goes_to_the_search():
    assert after_verify(reports(), LLM, {}, {}, CoderConfig()) == ({"step": "optimize"}, {})


def test_a_failure_with_attempts_left_goes_back_to_its_coder_alone():
    decision, taken = after_verify(reports(train="failed"), LLM, {"train": 1}, {}, CoderConfig(max_code_attempts=3))
    assert decision == {"step": "code", "components": ["train"]} and taken == {}


def test_used_up_llm_attempts_hand_the_component_and_its_partner_to_the_builtin_coder():
    decision, taken = after_verify(
        reports(configspace="failed", train="skipped"),
        LLM,
        {"configspace": 3, "train": 3},
        {},
        CoderConfig(max_code_attempts=3),
    )
    assert set(taken) == {"configspace", "train"}
    assert "bad hyperparameter name" in taken["configspace"] and "share hyperparameter names" in taken["train"]
    assert decision == {"step": "code", "components": ["configspace", "train"]}


def test_used_up_attempts_with_fallback_stop_end_the_run_naming_the_component():
    decision, taken = after_verify(
        reports(train="failed"), LLM, {"train": 3}, {}, CoderConfig(max_code_attempts=3, fallback="stop")
    )
    assert decision["step"] == "stop" and taken == {}
    assert decision["reason"].startswith("the train component failed verification 3 times")
    assert decision["reason"].endswith("coder.fallback is stop")


def test_a_builtin_component_that_still_fails_stops_the_run():
    builtin = {**LLM, "train": {"author": "builtin"}, "configspace": {"author": "builtin"}}
    taken_before = {"train": "LLM attempts failed", "configspace": "written with the built-in train"}
    decision, taken = after_verify(
        reports(train="failed"), builtin, {"train": 3}, taken_before, CoderConfig(max_code_attempts=3)
    )
    assert decision["step"] == "stop" and taken == {}


def summary(**fields) -> dict:
    return {
        "incumbent": {"model": "hgb"},
        "n_trials": 10,
        "status_counts": {"success": 10},
        "stopped_by": "n_trials",
        "failed_share": 0.0,
        **fields,
    }


def test_a_search_with_an_incumbent_deploys():
    assert after_search(summary(), max_crash_share=0.5) == {"step": "deploy"}


def test_a_search_stopped_for_crashes_recodes_train():
    assert after_search(summary(stopped_by="crashes"), 0.5)["components"] == ["train"]


def test_a_search_without_a_successful_trial_stops_the_run():
    decision = after_search(summary(incumbent=None, status_counts={"crashed": 10}, failed_share=1.0), 0.5)
    assert decision["step"] == "stop" and decision["reason"].startswith("all 10 trials failed")


def test_many_failed_trials_still_deploy_the_incumbent_but_say_so():
    decision = after_search(summary(failed_share=0.7), 0.5)
    assert decision["step"] == "deploy" and "70% of trials failed" in decision["reason"]


@pytest.mark.parametrize(
    ("trials", "crashed", "can_recode", "expected"),
    [
        (4, 4, True, False),  # too early to judge (crash_check_after 5)
        (5, 3, True, True),
        (5, 2, True, False),
        (10, 10, False, False),
    ],  # nobody to send it back to: the search goes on
)
def test_the_crash_rule(trials, crashed, can_recode, expected):
    opt = OptimizerConfig(crash_check_after=5, max_crash_share=0.5)
    assert too_many_crashes(trials, crashed, opt, can_recode) is expected


@pytest.mark.parametrize(
    ("limit", "seconds_left", "expected"),
    [
        (300, 600, 300),  # the configured trial timeout
        (300, 100, 50),  # half of what remains: one slow family cannot eat the search
        (300, 15, 10),  # never less than 10 s ...
        (300, 4, 4),  # ... unless the search ends sooner
        (300, 0.2, 1.0),
    ],  # at least a second
)
def test_a_trial_gets_at_most_half_of_the_remaining_search(limit, seconds_left, expected):
    assert trial_timeout(limit, seconds_left) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("limit", "seconds_left", "expected"),
    [
        (300, 31, 31),  # nothing has succeeded yet: the rest of the search, not half of it
        (20, 31, 20),  # still within the configured trial timeout
        (300, 0.2, 1.0),
    ],
)
def test_until_a_trial_succeeds_a_trial_may_use_the_rest_of_the_search(limit, seconds_left, expected):
    assert trial_timeout(limit, seconds_left, first=True) == pytest.approx(expected)


def test_a_first_trial_is_held_to_its_share_once_another_trial_succeeds():
    # Two workers start their first trials unbounded; when one succeeds, the other (still
    # running) may use only the share a trial gets, not the rest of the search.
    import time

    book = SearchBook(run=None, metric="accuracy", n_trials=10, train_attempt=1)
    watch = ShareWatch(book, share=0.3)
    time.sleep(0.4)
    assert not watch(), "nothing has succeeded yet: the first trial may run on"
    book.succeeded = 1
    assert watch() and watch.fired
    early = ShareWatch(book, share=30)
    assert not early(), "within its share a trial runs on"
