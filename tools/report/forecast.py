"""The report's forecast section: the deployed forecast beside trivial ones on the sealed steps,
over the full horizon and one step ahead."""

from __future__ import annotations

from tools.vocabulary import higher_is_better

COLUMNS = ("mae", "rmse", "r2")
ONE_STEP_TEXT = (
    "Each sealed step forecast from the true values before it, with everything fitted on the "
    "training history kept (no refit): the model is handed the true past one step at a time, in "
    "one sandbox call per step that sees no value it forecasts; naive repeats the previous "
    "value, seasonal naive takes the value one season back, AR applies its coefficients to the "
    "true lags, ETS smooths the true past with its fitted parameters, Theta updates its level "
    "with its fitted alpha, drift and seasonal indices."
)


def _cv(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _cells(values: dict) -> str:
    return " | ".join(f"{values[n]:.4f}" for n in COLUMNS)


def _verdict(metric: str, scores: dict, baselines: dict, how: str) -> str:
    """Said in words, because a forecast that loses to a trivial one should not go unnoticed."""
    sign = 1 if higher_is_better(metric) else -1
    beaten_by = [name for name, values in baselines.items() if sign * (values[metric] - scores[metric]) > 0]
    if beaten_by:
        return f"{how}, on {metric}, this run's model is worse than: {', '.join(beaten_by)}."
    return f"{how}, on {metric}, this run's model beats every baseline."


def _full_horizon(metric: str, cv_score: float, scores: dict, baselines: dict) -> list[str]:
    lines = [
        "### Full horizon",
        "One forecast of every sealed step from the end of the training years (the model's "
        "recursive forecast: the run's test scores). The CV column scores each forecast on the "
        "model's forward-chaining origins inside the training history: a model that validates "
        "better than a baseline but loses to it here was flattered by those windows.",
        "",
        f"| forecast | CV {metric} | " + " | ".join(COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
        f"| **this run's model** | {_cv(cv_score)} | {_cells(scores)} |",
    ]
    for name, values in baselines.items():
        lines.append(
            f"| {name}: {values['description']} | {_cv((values.get('cv') or {}).get(metric))} | {_cells(values)} |"
        )
    return [*lines, "", _verdict(metric, scores, baselines, "Over the full horizon"), ""]


def _one_step(metric: str, one_step: dict, baselines: dict) -> list[str]:
    if "unavailable" in one_step:
        reason = one_step["unavailable"].splitlines()[0]
        return ["### One step ahead", f"Not computed for the model: {reason}", ""]
    others = {name: values["one_step_ahead"] for name, values in baselines.items() if values.get("one_step_ahead")}
    lines = [
        "### One step ahead",
        ONE_STEP_TEXT,
        "",
        "| forecast | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
        f"| **this run's model** | {_cells(one_step)} |",
        *(f"| {name} | {_cells(values)} |" for name, values in others.items()),
    ]
    return [*lines, "", _verdict(metric, one_step, others, "One step ahead"), ""]


def baselines_section(
    metric: str, cv_score: float, scores: dict, baselines: dict, one_step: dict | None = None
) -> list[str]:
    """The forecast beside the trivial ones on the same sealed steps: over the full horizon
    (and in validation) and, when the run has them, one step ahead."""
    lines = [
        "## Baselines on the sealed test steps",
        "Fit on the same training history; the test values only score them (and, one step "
        "ahead, are the past each step is forecast from).",
        "",
        *_full_horizon(metric, cv_score, scores, baselines),
    ]
    return lines + (_one_step(metric, one_step, baselines) if one_step else [])
