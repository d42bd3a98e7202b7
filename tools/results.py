"""What comes back from the sandbox is data, and the host checks it before using it.

The worker checks a training result too, but inside the generated code's own process,
where the code can patch the check away. So the host checks again: a loss that is not a
finite number within sane bounds, or a score that is not a number (a likely slip: the fold
scores as a list), makes the trial crashed, with a short, quoted reason. Nothing raw from
the sandbox is formatted as a number before it passed here.
"""

from __future__ import annotations

import math
from typing import Any

MAX_LOSS = 1e12  # beyond this a loss is garbage, not a bad model (crash costs are 2 and 1e6)
SHOWN = 80  # characters of a bad value quoted in the reason


def _number(value: Any) -> float | None:
    """`value` as a float if it is a real number (bool is not), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _quoted(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def train_result_problem(result: Any, objectives: list[str] | tuple = ()) -> str | None:
    """Why a training result cannot be used (one line), or None when it can. `objectives`:
    the run's extra objectives (tools/vocabulary.py OBJECTIVES), each a number >= 0 it must hold."""
    if not isinstance(result, dict) or "loss" not in result:
        return "train() must return a dict with a 'loss' key"
    loss = _number(result["loss"])
    if loss is None or not -1e-9 <= loss <= MAX_LOSS:
        return f"train() returned an unusable loss {_quoted(result['loss'])}: a finite number from 0 to {MAX_LOSS:g}"
    for key in ("score", "score_std"):
        if result.get(key) is not None and _number(result[key]) is None:
            return f"train() returned an unusable {key} {_quoted(result[key])}: a finite number or nothing"
    return objectives_problem(result, objectives, "train()")


def objectives_problem(result: dict, objectives: list[str] | tuple, who: str) -> str | None:
    """Why `result` lacks a usable value of one of `objectives` (one line), or None."""
    for name in objectives:
        if name not in result:
            return f"{who} did not return {name!r}, an objective of this run: measure it and return it"
        value = _number(result[name])
        if value is None or not 0 <= value <= MAX_LOSS:
            shown = _quoted(result[name])
            return f"{who} returned an unusable {name} {shown}: a finite number from 0 to {MAX_LOSS:g}"
    return None
