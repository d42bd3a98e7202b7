"""The run's wall-clock budget: `optimizer.walltime` is the whole run, start to deployed model.

A user who gives an AutoML tool 60 seconds expects a model after 60 seconds, and FLAML's
`time_budget` and AutoGluon's `time_limit` are read that way. So the budget is split in three:

  before the search   start-up, profiling, planning, coding, verification: measured when the
                      search first starts (from this process's start, so imports count too);
  the search          what remains, less the deploy reserve;
  deploy              the reserve (a share of the budget, at least a few seconds), plus what
                      the search left unused: deploy fits its ensemble to it (see
                      `refit_seconds` and nodes/deploy.py). Where the best trials' refits
                      need more than the reserve, the search ends that much earlier
                      (`ensemble_reserve`): at 60 s the fixed reserve refit a single model on
                      4 of the 9 development data sets whose ensemble was better held out.

The split is saved in the run folder (`budget.json`) when the search first starts, so a
resumed run keeps it; time lost to a kill is not counted. A budget too small for its set-up
still searches MIN_SEARCH seconds, so every run has trials to deploy (it then overruns, and
the summary shows it).
"""

from __future__ import annotations

import os
import time

DEPLOY_SHARE = 0.1  # of the run's walltime, kept for deploy ...
DEPLOY_MIN = 6.0  # ... but never less: a sandbox start, one refit, scoring, the report
DEPLOY_FIXED = 3.0  # of deploy's time, what is not refitting (sandbox start, scoring, report)
MIN_SEARCH = 10.0  # seconds the search gets even when the set-up used the whole budget
ENSEMBLE_MEMBERS = 8  # the best trials whose refits deploy should have time for ...
ENSEMBLE_SHARE = 0.15  # ... the search giving up at most this share of the walltime for them


def process_age() -> float:
    """Seconds since this process started (the interpreter's start and imports included)."""
    try:
        with open(f"/proc/{os.getpid()}/stat") as fh:
            started_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.process_time()  # no /proc: at least this process's CPU time


def before_search(started: float | None) -> float:
    """Seconds the run spent before its search: since `started`, or, in a process that
    resumed the run (it started after the run did), since this process started."""
    now = time.time()
    if started is None:
        return 0.0
    return max(0.0, now - max(started, now - process_age()))


def deploy_reserve(walltime: float) -> float:
    return max(DEPLOY_MIN, DEPLOY_SHARE * walltime)


def split(walltime: float, before_search: float) -> dict:
    """The run's budget split: {"walltime", "before_search", "search", "deploy"} in seconds."""
    reserve = deploy_reserve(walltime)
    search = max(min(MIN_SEARCH, walltime), walltime - before_search - reserve)
    return {
        "walltime": walltime,
        "before_search": round(before_search, 2),
        "search": round(search, 2),
        "deploy": round(reserve, 2),
    }


def deploy_seconds(walltime: float, before_search: float, search_seconds: float) -> float:
    """What deploy may spend: the run's budget less what came before (at least the reserve,
    so a search that overran still leaves deploy time to refit one model)."""
    return max(deploy_reserve(walltime) / 2, walltime - before_search - search_seconds)


def refit_seconds(trial_seconds: float | None, folds: int) -> float | None:
    """A configuration's refit on the whole training split, estimated from its trial: the
    trial fitted `folds` models on (folds-1)/folds of the rows each, the refit fits one on
    all of them. Twice one fold's time, to allow for models that grow faster than the rows."""
    if trial_seconds is None:
        return None
    return 2.0 * trial_seconds / max(1, folds)


def makespan(costs: list[float], sandboxes: int) -> float:
    """Seconds to run the costs on `sandboxes` in parallel, longest first (Graham's LPT)."""
    loads = [0.0] * max(1, sandboxes)
    for cost in sorted(costs, reverse=True):
        loads[loads.index(min(loads))] += cost
    return max(loads)


def ensemble_reserve(walltime: float, trial_seconds: list, folds: int, sandboxes: int) -> float:
    """Seconds the search should end before its share, so deploy can refit an ensemble of the
    best trials (`trial_seconds`, best first): their refits' makespan on the sandboxes plus
    deploy's fixed part, beyond the deploy reserve already kept; at most ENSEMBLE_SHARE of
    the walltime (an ensemble is worth a little search, not much)."""
    costs = [refit_seconds(s, folds) or 0.0 for s in trial_seconds[:ENSEMBLE_MEMBERS]]
    need = DEPLOY_FIXED + makespan(costs, sandboxes)
    return min(ENSEMBLE_SHARE * walltime, max(0.0, need - deploy_reserve(walltime)))
