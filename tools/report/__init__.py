"""The run report: a person reading report.md understands what happened without the code.

`write_report` is its one author; the sections it puts together live beside it (the
agents' attempts and LLM use in `agents.py`, a forecast's baselines in `forecast.py`, a
multi-objective run's front in `front.py`).
"""

from __future__ import annotations

import csv
import json

from sandbox import isolates
from tools.report.agents import attempts_section, llm_section
from tools.report.forecast import baselines_section
from tools.report.front import front_section
from tools.runfolder import RunFolder


def _plot_trials(run: RunFolder, metric: str) -> str | None:
    path = run.root / RunFolder.TRIALS_TABLE
    if not path.exists():
        return None
    rows = list(csv.DictReader(open(path)))
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = [float(r["loss"]) for r in rows]
    ok = [r["status"] == "success" for r in rows]
    best, best_so_far = float("inf"), []
    for loss, good in zip(losses, ok, strict=True):
        if good:
            best = min(best, loss)
        best_so_far.append(best if best < float("inf") else None)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    xs = range(1, len(rows) + 1)
    ax.scatter(
        [x for x, g in zip(xs, ok, strict=True) if g],
        [v for v, g in zip(losses, ok, strict=True) if g],
        s=12,
        label="trial loss",
        color="tab:blue",
        alpha=0.6,
    )
    failed = [x for x, g in zip(xs, ok, strict=True) if not g]
    if failed:
        ax.scatter(failed, [min(losses)] * len(failed), marker="x", color="tab:red", label="failed trial")
    ax.step(xs, best_so_far, where="post", color="tab:orange", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"CV loss ({metric})")
    ax.set_yscale("symlog", linthresh=0.01)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("SMAC search")
    fig.tight_layout()
    target = run.path(RunFolder.TRIALS_PLOT)
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target.name


def _families(run: RunFolder) -> list[tuple[str, int, float]]:
    path = run.root / RunFolder.TRIALS_TABLE
    if not path.exists():
        return []
    best: dict[str, tuple[int, float]] = {}
    for row in csv.DictReader(open(path)):
        family = row.get("config.model") or "-"
        count, loss = best.get(family, (0, float("inf")))
        value = float(row["loss"]) if row["status"] == "success" else float("inf")
        best[family] = (count + 1, min(loss, value))
    return sorted(((f, c, v) for f, (c, v) in best.items()), key=lambda t: t[2])


def ensemble_section(metric: str, ensemble: dict | None) -> list[str]:
    """The deployed ensemble: its members and weights, and its CV beside the single best's."""
    if not ensemble:
        return []
    lines = [
        "## Ensemble",
        f"Deployed: a weighted ensemble of {len(ensemble['members'])} trials, chosen by greedy selection "
        f"on their out-of-fold predictions: {metric} **{ensemble['cv']:.4f}** against "
        f"{ensemble['single_cv']:.4f} for the single best trial on the same predictions."
        + (
            f" To refit within the walltime ({ensemble['trimmed']['seconds']:g} s left for refits), it keeps "
            f"{ensemble['trimmed']['to']} of the {ensemble['trimmed']['from']} members the selection first chose."
            if ensemble.get("trimmed")
            else ""
        )
        + (
            f" Both figures are optimistic, chosen on the predictions they score: chosen on half of the "
            f"rows and scored on the other half, the ensemble has {ensemble['cross_fitted']['cv']:.4f} "
            f"and the single best trial {ensemble['cross_fitted']['single_cv']:.4f}."
            if ensemble.get("cross_fitted")
            else ""
        ),
        "",
        "| member | weight | model | CV loss in the search |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {m['weight']:.2f} | {m['config'].get('model', '-')} | {m['loss']:.4f} |"
        for n, m in enumerate(ensemble["members"], start=1)
    ]
    return [*lines, ""]


def write_report(
    run: RunFolder,
    profile: dict,
    plan: dict,
    components: dict,
    reports: dict,
    search: dict,
    metrics: dict,
    backend: str,
    recodes: int = 0,
) -> str:
    """report.md from the run's profile, plan, code, search and test metrics."""
    metric = plan["metric"]
    lines = [f"# AutoML run `{run.name}`", ""]
    lines += [
        "## Result",
        f"- Cross-validated {metric} of the chosen model: **{metrics['cv'][metric]:.4f}** "
        f"({metrics['cv']['validation']}).",
        f"- On the sealed test split ({metrics['test_rows']} rows, {profile['test_split']}), scored once:",
        "",
        "| metric | test |",
        "|---|---|",
    ]
    lines += [f"| {k} | {'-' if v is None else f'{v:.4f}'} |" for k, v in metrics["test"].items()]
    lines += [
        "",
        "Model: `model/model.pkl` (load it inside a sandbox), its configuration: `model/config.json`. "
        f"Predict new rows with it: `python -m graph.predict {run.root} rows.csv -o predictions.csv`.",
        "",
    ]

    lines += [
        "## Data",
        f"- {profile['n_rows']} training rows, task **{profile['task']}**, modality {profile['modality']}.",
    ]
    if "n_columns" in profile:
        lines.append(
            f"- {profile['n_columns']} columns: {len(profile['numeric_columns'])} numeric, "
            f"{len(profile['categorical_columns'])} categorical, {len(profile.get('text_columns', []))} free text, "
            f"{len(profile.get('date_columns', []))} dates; {profile['rows_with_missing']} rows with missing values."
        )
    if "class_counts" in profile:
        lines.append(f"- {profile['n_classes']} classes; the rarest is {profile['minority_share']:.1%} of rows.")
    lines += ["", "## Plan", f"{plan['rationale']} (planner: {plan['author']})", ""]

    lines += ["## Generated code and verification", "| component | attempts | author | status |", "|---|---|---|---|"]
    for component, info in components.items():
        report = reports.get(component, {})
        author = info["author"] + (f" (took over: {info['fallback']})" if info.get("fallback") else "")
        lines.append(f"| {component} | {info['attempt']} | {author} | {report.get('status', '-')} |")
    where = (
        f"Generated code ran only in the `{backend}` sandbox."
        if isolates(backend)
        else f"**WARNING: generated code ran UNISOLATED (`{backend}`), on this machine as this user.**"
    )
    lines += [
        "",
        f"{where} Every attempt is in `code/attempts/`, the verified version in `code/final/`, "
        "and each verification report in `reports/`.",
        "",
    ]
    lines += attempts_section(run)

    lines += [
        "## Search",
        f"- {search['n_trials']} trials in {search['walltime']:.0f} s, stopped by {search['stopped_by']}; "
        f"statuses: {', '.join(f'{k} {v}' for k, v in search['status_counts'].items())}.",
    ]
    if search.get("workers"):
        lines.append(f"- Run by {len(search['workers'])} optimizer worker(s): {', '.join(search['workers'])}.")
    lines += ["", "| model family | trials | best CV loss |", "|---|---|---|"]
    lines += [f"| {f} | {c} | {'-' if v == float('inf') else f'{v:.4f}'} |" for f, c, v in _families(run)]
    plot = _plot_trials(run, metric)
    if plot:
        lines += ["", f"![trials]({plot})"]
    lines += ["", "Best single configuration:", "", "```json", json.dumps(search["incumbent"], indent=2), "```", ""]
    lines += ensemble_section(metric, metrics.get("ensemble"))
    lines += front_section(run, metrics)
    if recodes:
        lines += [
            f"The training function went back to its coder {recodes} time(s) because "
            "too many trials crashed; the abandoned searches are in `trials-abandoned-*.csv`, "
            "the crash reports in `reports/crashes-*.json`.",
            "",
        ]
    lines += llm_section(run)
    if metrics.get("baselines"):
        lines += baselines_section(
            metric, metrics["cv"][metric], metrics["test"], metrics["baselines"], metrics.get("one_step_ahead")
        )
    target = run.path(RunFolder.REPORT)
    target.write_text("\n".join(lines) + "\n")
    return str(target)
