"""The report's forecast section: the deployed forecast beside trivial ones on the sealed steps."""

from __future__ import annotations

from tools.vocabulary import higher_is_better

COLUMNS = ("mae", "rmse", "r2")


def _cv(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def baselines_section(metric: str, cv_score: float, scores: dict, baselines: dict) -> list[str]:
    """The forecast beside the trivial ones, on the same sealed steps and in validation."""
    lines = [
        "## Baselines on the sealed test steps",
        "Fit on the same training history; the test values only score them. The CV column scores "
        "each forecast on the model's forward-chaining origins inside the training history: a model "
        "that validates better than a baseline but loses to it here was flattered by those windows.",
        "",
        f"| forecast | CV {metric} | " + " | ".join(COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
        f"| **this run's model** | {_cv(cv_score)} | " + " | ".join(f"{scores[n]:.4f}" for n in COLUMNS) + " |",
    ]
    for name, values in baselines.items():
        lines.append(
            f"| {name}: {values['description']} | {_cv((values.get('cv') or {}).get(metric))} | "
            + " | ".join(f"{values[n]:.4f}" for n in COLUMNS)
            + " |"
        )
    # Said in words, because a forecast that loses to a trivial one should not go unnoticed.
    sign = 1 if higher_is_better(metric) else -1
    beaten_by = [name for name, values in baselines.items() if sign * (values[metric] - scores[metric]) > 0]
    lines += [
        "",
        f"On {metric}, this run's model is worse than: {', '.join(beaten_by)}."
        if beaten_by
        else f"On {metric}, this run's model beats every baseline.",
    ]
    return lines
