"""The run's walltime split (tools/budget.py) and an ensemble fitted to the time left for refits."""

from __future__ import annotations

import time

import numpy as np
import pytest

from nodes.deploy import affordable_members
from tools import budget
from tools.ensemble import Member


def test_the_search_gets_what_the_set_up_and_the_deploy_reserve_leave():
    split = budget.split(60, before_search=8.0)
    assert split == {"walltime": 60, "before_search": 8.0, "search": 46.0, "deploy": 6.0}
    assert split["before_search"] + split["search"] + split["deploy"] == 60
    assert budget.split(600, 20)["deploy"] == 60  # a tenth of a long run
    # A set-up that used the whole budget still leaves a short search (the run overruns) ...
    assert budget.split(30, before_search=40)["search"] == budget.MIN_SEARCH
    # ... but never more search than the walltime itself.
    assert budget.split(3, before_search=0)["search"] == 3


def test_deploy_gets_what_the_search_left():
    assert budget.deploy_seconds(60, before_search=8, search_seconds=40) == 12
    assert budget.deploy_seconds(60, before_search=8, search_seconds=58) == 3  # overran: half the reserve


def test_the_search_ends_early_enough_to_refit_the_best_trials():
    # 60 s run, 5 folds, 2 sandboxes: refits of 2 x trial / 5 s; the reserve already holds 6 s.
    cheap = [1.0] * 10  # refits of 0.4 s: the reserve is enough
    assert budget.ensemble_reserve(60, cheap, folds=5, sandboxes=2) == 0
    slow = [5.0] * 10  # the best 8: refits of 2 s on 2 sandboxes, 8 s, plus 3 fixed, less the 6 kept
    assert budget.ensemble_reserve(60, slow, folds=5, sandboxes=2) == pytest.approx(5)
    assert budget.ensemble_reserve(60, [100.0] * 10, folds=5, sandboxes=2) == 9  # at most 15%
    assert budget.ensemble_reserve(60, [None] * 10, folds=5, sandboxes=2) == 0  # unknown costs count 0
    assert budget.ensemble_reserve(60, [], folds=5, sandboxes=2) == 0


def test_a_resumed_process_counts_only_its_own_set_up():
    long_ago = time.time() - 86_400  # the run began yesterday and was killed
    assert budget.before_search(long_ago) <= budget.process_age() + 0.1
    just_now = time.time() - 2
    assert budget.before_search(just_now) == pytest.approx(2, abs=0.5)
    assert budget.before_search(None) == 0


def test_refits_are_scheduled_longest_first_on_parallel_sandboxes():
    assert budget.makespan([4, 3, 3, 2], sandboxes=2) == 6
    assert budget.makespan([4, 3, 3, 2], sandboxes=1) == 12
    assert budget.refit_seconds(10.0, folds=5) == 4.0 and budget.refit_seconds(None, 5) is None


def _member(loss: float, seconds: float) -> Member:
    return Member({"loss": loss}, loss, np.zeros(3), seconds)


def test_an_ensemble_keeps_the_members_whose_refits_fit_heaviest_weight_first():
    # Refit estimates (5 folds): 2 s, 40 s, 4 s, 8 s.
    members = [_member(0.10, 5), _member(0.11, 100), _member(0.12, 10), _member(0.13, 20)]
    weights = np.array([0.4, 0.3, 0.2, 0.1])
    everything = affordable_members(members, weights, folds=5, seconds=1000, sandboxes=1)
    assert [m.loss for m in everything] == [0.10, 0.11, 0.12, 0.13]
    # 20 s on one sandbox: the best (2 s) first, then by weight: member 2 (40 s) does not fit,
    # and the selection stops there rather than skipping to lighter ones.
    assert [m.loss for m in affordable_members(members, weights, 5, seconds=20, sandboxes=1)] == [0.10]
    # 45 s: one sandbox fits 2 + 40 s and stops at the next; two run the 40 s refit beside
    # all the others.
    assert [m.loss for m in affordable_members(members, weights, 5, seconds=45, sandboxes=1)] == [0.10, 0.11]
    assert len(affordable_members(members, weights, 5, seconds=45, sandboxes=2)) == 4
    # The best single trial is kept even when its own refit does not fit: a model is due.
    assert [m.loss for m in affordable_members(members, weights, 5, seconds=0.5, sandboxes=1)] == [0.10]
