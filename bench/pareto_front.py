"""The front of a multi-objective search and what each selection rule deploys from it.

    python bench/pareto_front.py [--configs breast_cancer wine] [--trials 30] [--backend process]

A name without a file in configs/ is a bundled data set searched with the config's defaults
(e.g. digits).

Per config: one search on `objectives: [accuracy, predict_latency]` (trial-bounded, one
worker), then every distinct point the rules pick is deployed with `python -m graph.deploy
RUN --trial N`: refit, scored once on the sealed test split, its latency (ms per 1,000 test
rows) and size measured in the sandbox. Prints the front (CV figures) and, per rule, the
pick with its CV and test figures. The rules pick on CV figures only; the test columns are
what a user would then see. Latencies are timed on a shared machine: read ratios, not digits.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graph.config import parse_config  # noqa: E402
from tools.pareto import pick  # noqa: E402

EXTRAS = ["predict_latency"]


def config_file(name: str, runs: Path) -> Path:
    """configs/NAME.yaml, or a config of the data set alone for a bundled set without one."""
    if (ROOT / "configs" / f"{name}.yaml").exists():
        return ROOT / "configs" / f"{name}.yaml"
    path = runs.parent / f"{name}.yaml"
    path.write_text(f"dataset: {{name: {name}}}\nmetric: accuracy\n")
    return path


def search(config: str, trials: int, backend: str, runs: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "graph.run",
            str(config_file(config, runs)),
            "--runs-dir",
            str(runs),
            "-q",
            *("--set", "objectives=[accuracy, predict_latency]"),
            *("--set", f"optimizer.n_trials={trials}", "--set", "optimizer.walltime=100000"),
            *("--set", "optimizer.workers=1", "--set", f"sandbox.backend={backend}"),
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return next(runs.iterdir())


def deploy(run: Path, trial: int, backend: str) -> dict:
    subprocess.run(
        [sys.executable, "-m", "graph.deploy", str(run), "--trial", str(trial), "--backend", backend],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return json.loads((run / "metrics.json").read_text())


def rules(front: list[dict]) -> dict[str, object]:
    latencies = sorted(p["predict_latency"] for p in front)
    bound = round(latencies[len(latencies) // 2], 3)  # the front's median latency
    return {
        "best": "best",
        "knee": "knee",
        "fastest_within 0.005": {"fastest_within": 0.005},
        "fastest_within 0.01": {"fastest_within": 0.01},
        f"max predict_latency {bound:g}": {"max": {"predict_latency": bound}},
    }


def report(config: str, run: Path, backend: str) -> None:
    front = json.loads((run / "search.json").read_text())["front"]
    print(f"\n## {config}: front of {len(front)} models (CV)\n")
    print("| trial | model | CV accuracy | predict_latency ms/1,000 rows |")
    print("|---|---|---|---|")
    for p in front:
        print(f"| {p['trial']} | {p['config'].get('model')} | {1 - p['loss']:.4f} | {p['predict_latency']:.3g} |")
    print("\n| rule | trial | model | CV accuracy | test accuracy | test latency ms/1,000 | size bytes |")
    print("|---|---|---|---|---|---|---|")
    deployed: dict[int, dict] = {}
    for name, select in rules(front).items():
        rule = parse_config({"dataset": {"name": config}, "objectives": ["accuracy", *EXTRAS], "select": select}).rule()
        point, _ = pick(front, EXTRAS, rule, "accuracy")
        if point["trial"] not in deployed:
            deployed[point["trial"]] = deploy(run, point["trial"], backend)
        metrics = deployed[point["trial"]]
        measured = metrics["chosen"]["test_measured"]
        print(
            f"| {name} | {point['trial']} | {point['config'].get('model')} | {1 - point['loss']:.4f} | "
            f"{metrics['test']['accuracy']:.4f} | {measured['predict_latency']:.3g} | {measured['model_size']:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["breast_cancer", "wine"])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--backend", default="process")
    args = parser.parse_args()
    for config in args.configs:
        with tempfile.TemporaryDirectory(prefix="pareto-") as work:
            runs = Path(work) / "runs"
            report(config, search(config, args.trials, args.backend, runs), args.backend)


if __name__ == "__main__":
    main()
