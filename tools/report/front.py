"""The report's front section: a multi-objective run's trade-off, plotted, and its choice."""

from __future__ import annotations

import csv

from tools.metrics import loss_to_score
from tools.pareto import UNITS, models
from tools.runfolder import RunFolder


def _successful_trials(run: RunFolder, extras: list[str]) -> list[dict]:
    path = run.root / RunFolder.TRIALS_TABLE
    if not path.exists():
        return []
    with open(path) as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] == "success"]
    return [{"loss": float(r["loss"]), **{k: float(r[k]) for k in extras}} for r in rows]


def plot_front(run: RunFolder, metrics: dict) -> str:
    """The metric against each other objective: every successful trial faint, the front
    joined up, the chosen point marked. Returns the image's file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric, *extras = metrics["objectives"]
    trials, front = _successful_trials(run, extras), metrics["front"]
    chosen = next(p for p in front if p["trial"] == metrics["chosen"]["trial"])
    fig, axes = plt.subplots(1, len(extras), figsize=(5 * len(extras), 3.8), squeeze=False)
    for ax, name in zip(axes[0], extras, strict=True):
        ax.scatter(
            [t[name] for t in trials],
            [loss_to_score(metric, t["loss"]) for t in trials],
            s=14,
            color="grey",
            alpha=0.25,
            label="trial",
        )
        ordered = sorted(front, key=lambda p: p[name])
        ax.plot(
            [p[name] for p in ordered],
            [loss_to_score(metric, p["loss"]) for p in ordered],
            "o-",
            color="tab:blue",
            markersize=5,
            label="front (all objectives)",
        )
        ax.scatter(
            [chosen[name]], [loss_to_score(metric, chosen["loss"])], marker="*", s=220, color="tab:red", label="chosen"
        )
        ax.set_xscale("log")
        ax.tick_params(axis="x", which="minor", labelbottom=False)  # log minor labels overlap
        ax.set_xlabel(f"{name} ({UNITS[name]})")
        ax.set_ylabel(f"CV {metric}")
        ax.legend(fontsize=8)
    fig.suptitle(f"Front of {models(len(front))}; chosen by {metrics['select']}")
    fig.tight_layout()
    target = run.path(RunFolder.FRONT_PLOT)
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target.name


def front_section(run: RunFolder, metrics: dict) -> list[str]:
    """The front as a table and a plot, the rule's choice in one sentence, and the chosen
    model's latency and size measured on the test rows."""
    if "front" not in metrics:
        return []
    metric, *extras = metrics["objectives"]
    chosen = metrics["chosen"]
    measured = chosen["test_measured"]
    lines = [
        "## Front",
        f"The search traded {metric} against {', '.join(extras)}. The front holds {models(len(metrics['front']))}: "
        "the trials no other trial beats on every objective at once (CV figures below)."
        + (f" Objectives and rule: {metrics['objectives_reason']}." if metrics.get("objectives_reason") else ""),
        "",
        f"{chosen['why']}",
        "",
        f"Deployed alone (no ensemble, so its costs are the chosen point's): trial {chosen['trial']}, "
        f"test {metric} {chosen['test'][metric]:.4f}; on the test rows it predicts 1,000 rows in "
        f"{measured['predict_latency']:.3g} ms and weighs {measured['model_size']:.0f} bytes pickled.",
        "",
        f"| trial | model | CV {metric} | " + " | ".join(f"{n} ({UNITS[n]})" for n in extras) + " |",
        "|---|---|---|" + "---|" * len(extras),
    ]
    for point in metrics["front"]:
        mark = " **chosen**" if point["trial"] == chosen["trial"] else ""
        figures = " | ".join(f"{point[n]:.4g}" for n in extras)
        score = loss_to_score(metric, point["loss"])
        lines.append(f"| {point['trial']}{mark} | {point['config'].get('model', '-')} | {score:.4f} | {figures} |")
    return [*lines, "", f"![front]({plot_front(run, metrics)})", ""]
