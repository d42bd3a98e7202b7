"""The agent against classical AutoML at equal wall-clock budgets, on data sets it was not tuned on.

    bash scripts/bench-venv.sh                                   # once: the peers' own venv
    .bench-venv/bin/python bench/automl_benchmark.py --group dev --budgets 60
    .bench-venv/bin/python bench/automl_benchmark.py --only adult churn --budgets 60 300
    .bench-venv/bin/python bench/automl_benchmark.py --report     # print the tables from saved results

What runs, for each data set (bench/bench_datasets.py: 18 sets in a fixed DEVELOPMENT and EVALUATION
group) and each budget B (seconds; default 60 and 300), each in a process of its own, one after the
other, on the same train.csv / test.csv files and the same cores:
- `agent`: `python -m graph.run CONFIG --runs-dir DIR --set optimizer.walltime=B --set sandbox.backend=process`
  with the project's venv (`--agent-python`), from the project folder (`--agent-root`). CONFIG is
  generated: `dataset: {path: train.csv, test_path: test.csv, target, task}`, `metric`, an objective;
  everything else at its defaults. Score and trial count come from the run folder's metrics.json
  (`test` object, `trials.finished`).
- `flaml`, `autogluon` (medium_quality), `hgb` (default HistGradientBoosting), `linear` (default
  logistic/ridge regression with simple preprocessing): bench/peers.py in the bench venv, FLAML and
  AutoGluon with time budget B and every core.

Measured: the test metric (accuracy for classification, R² for regression; ROC AUC too where
binary), on the same test rows for everyone, scored once; the wall time of each process as the
harness saw it (start to exit, imports and the agent's planning, verification and refit included);
the agent's trials. The machine has few cores and may be shared: every record keeps the share of the
machine's CPU time that other processes (not this run's process tree) used while it ran, from
/proc/stat less the run's own CPU time (from a CPU-accounting cgroup of the run where the harness may
make one, so the agent's sandbox workers count as its own), and the report flags the runs where that
share was high.

Judging, per budget (a method that failed or timed out has no score):
- Tie: two test scores within one standard error of the test metric, computed from the number of
  test rows n: sqrt(p(1-p)/n) for accuracy (p = the mean of the two accuracies), (1-R²)·sqrt(2/n) for
  R² (R² = 1 - MSE/Var(y); with normal residuals the mean of n squared residuals has a relative
  standard error of sqrt(2/n), and both models share Var(y) of the same test rows). A noise band,
  not a significance test: a difference beyond it can still be luck on a small test split.
- Wins/ties/losses of the agent against each peer: over the data sets where both have a score;
  a failure of either side is counted apart.
- Mean rank of the four AutoML-ish columns (agent, FLAML, AutoGluon, HGB): ranked by test score per
  data set (1 = best, equal scores share the mean rank, a failed method ranks last), then averaged.

The data files are written once into `--cache` (default .cache/bench/data/); what a run makes (the
agent's configs and run folders, the peers' outputs, every process's log) goes beside its results
file, into RESULTS.files/, so harnesses with different results files do not collide.
Results go to a JSON-lines file (`--results`, default .cache/bench/results.jsonl), one record per
(data set, budget, method), appended as soon as each run ends. A run that was stopped resumes where
it stopped: finished records are not run again (failed ones are with `--retry-failed`; `--rerun`
redoes everything selected). Use another `--results` file for another version of the agent.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import bench_datasets  # noqa: E402

METHODS = ["agent", "flaml", "autogluon", "hgb", "linear"]
RANKED = ["agent", "flaml", "autogluon", "hgb"]
LABEL = {"agent": "agent", "flaml": "FLAML", "autogluon": "AutoGluon", "hgb": "HGB", "linear": "linear"}
METRIC = {"classification": "accuracy", "regression": "r2"}
BUSY_SHARE = 0.2  # other processes used more than this share of the machine during a run: flagged


# ---- running ------------------------------------------------------------------------------


def _cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine since boot, CPU seconds of this process's reaped children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy / ticks, children.ru_utime + children.ru_stime


class _CpuAccount:
    """A CPU-accounting cgroup for one run, when this machine lets us make one (root).

    Reaped children's rusage misses the agent's sandbox workers: their processes die with
    their PID namespace and are never waited for, so the harness once counted the agent's own
    trials as "other processes" (86-96% on every agent run). Every process the run starts,
    sandboxes included, inherits this cgroup (the sandboxes' own cgroups are in the memory
    and pids hierarchies), and its counter keeps the CPU time of processes that have died."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        # cgroup v1's cpuacct hierarchy only: on cgroup v2 a cgroup holding the agent could not
        # give its sandboxes memory-limited child cgroups (no processes in inner cgroups).
        root = Path("/sys/fs/cgroup/cpuacct")
        if (root / "cpuacct.usage").exists():
            try:
                folder = root / f"automl-bench-{os.getpid()}-{time.monotonic_ns()}"
                folder.mkdir()
                self.folder = folder
            except OSError:
                pass

    def join(self) -> None:
        """In the child, before exec: move it into the cgroup."""
        if self.folder:
            (self.folder / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> float | None:
        return int((self.folder / "cpuacct.usage").read_text()) / 1e9 if self.folder else None

    def remove(self) -> None:
        if self.folder:
            try:
                self.folder.rmdir()  # empty once every process of the run has exited
            except OSError:
                pass


def _run(cmd: list[str], log: Path, timeout: float, cwd: Path) -> tuple[int | str, float, float, float]:
    """Runs `cmd` in its own process group. Returns the exit code (or "timeout"), the wall seconds,
    the CPU seconds of the run, and the share of the machine's CPU that other processes used meanwhile."""
    log.parent.mkdir(parents=True, exist_ok=True)
    account = _CpuAccount()
    cpu_before = _cpu_seconds()
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=account.join
        )
        try:
            code: int | str = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = "timeout"
        except KeyboardInterrupt:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    wall = time.monotonic() - started
    machine, own = (after - before for after, before in zip(_cpu_seconds(), cpu_before, strict=True))
    own = account.seconds() or own
    account.remove()
    others = max(machine - own, 0.0) / (wall * (os.cpu_count() or 1))
    return code, wall, round(own, 1), round(others, 3)


def _tail(log: Path, lines: int = 3) -> str:
    text = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return " | ".join(text[-lines:])[-400:]


def agent_config(meta: dict, data: Path, path: Path) -> Path:
    """A user's config for the data set: the two CSV files, the target, the task and the metric."""
    goal = (
        "predict {t} as accurately as possible"
        if meta["task"] == "classification"
        else "predict {t}; explain as much of its variance as possible"
    ).format(t=meta["target"])
    lines = [
        f"name: {meta['name']}",
        f"objective: {goal}",
        "dataset:",
        f"  path: {data / 'train.csv'}",
        f"  test_path: {data / 'test.csv'}",
        f"  target: {json.dumps(meta['target'])}",
        f"  task: {meta['task']}",
        f"metric: {METRIC[meta['task']]}",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def run_agent(args, meta: dict, data: Path, budget: float, work: Path) -> dict:
    config = agent_config(meta, data, work / "configs" / f"{meta['name']}.yaml")
    runs = work / "runs" / f"{budget:g}" / meta["name"]
    shutil.rmtree(runs, ignore_errors=True)
    cmd = [
        str(args.agent_python),
        "-m",
        "graph.run",
        str(config),
        "--runs-dir",
        str(runs),
        "-q",
        "--set",
        f"optimizer.walltime={budget:g}",
        "--set",
        "sandbox.backend=process",
    ]
    for item in args.agent_set:
        cmd += ["--set", item]
    log = work / "logs" / f"{budget:g}" / f"{meta['name']}-agent.log"
    code, wall, cpu, others = _run(cmd, log, args.timeout_factor * budget + args.timeout_extra, cwd=args.agent_root)
    found = sorted(runs.glob("*/metrics.json"))
    usage = {"wall_seconds": wall, "cpu_seconds": cpu, "others_cpu_share": others}
    if code != 0 or not found:
        return {
            "status": "timeout" if code == "timeout" else "failed",
            "exit": code,
            **usage,
            "error": _tail(log),
            "log": str(log),
        }
    metrics = json.loads(found[0].read_text())
    trials = metrics.get("trials", {})
    return {
        "status": "ok",
        **usage,
        "metrics": metrics.get("test", {}),
        "trials": trials.get("finished"),
        "trials_success": trials.get("success"),
        "search_seconds": metrics.get("search_seconds"),
        "time": metrics.get("time"),  # the agent's own split: before the search, search, deploy
        "ensemble": len((metrics.get("ensemble") or {}).get("members", [])) or None,
        "model": (metrics.get("incumbent") or {}).get("model"),
        "run": str(found[0].parent),
        "log": str(log),
    }


def run_peer(args, method: str, meta: dict, data: Path, budget: float, work: Path) -> dict:
    out = work / "peers" / f"{budget:g}" / f"{meta['name']}-{method}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    cmd = [
        str(args.bench_python),
        str(ROOT / "bench" / "peers.py"),
        method,
        str(data),
        f"{budget:g}",
        str(out),
        "--cores",
        str(args.cores),
    ]
    log = work / "logs" / f"{budget:g}" / f"{meta['name']}-{method}.log"
    code, wall, cpu, others = _run(cmd, log, args.timeout_factor * budget + args.timeout_extra, cwd=ROOT)
    usage = {"wall_seconds": wall, "cpu_seconds": cpu, "others_cpu_share": others}
    if code != 0 or not out.exists():
        return {
            "status": "timeout" if code == "timeout" else "failed",
            "exit": code,
            **usage,
            "error": _tail(log),
            "log": str(log),
        }
    result = json.loads(out.read_text())
    return {
        "status": "ok",
        **usage,
        "metrics": result["metrics"],
        "fit_seconds": result["fit_seconds"],
        "info": result.get("info"),
        "log": str(log),
    }


def git_commit(folder: Path) -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def read_results(path: Path) -> dict[tuple, dict]:
    """The latest record of each (data set, budget, method)."""
    records: dict[tuple, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                records[(r["dataset"], float(r["budget"]), r["method"])] = r
    return records


def run_all(args, selected: list[str]) -> None:
    done = read_results(args.results)
    commit = git_commit(args.agent_root)
    work = args.results.with_suffix(".files")  # configs, run folders, logs: beside their results
    for budget in args.budgets:
        for name in selected:
            data = bench_datasets.prepare(name, args.cache / "data")
            meta = json.loads((data / "meta.json").read_text())
            for method in args.methods:
                old = done.get((name, float(budget), method))
                if old and not args.rerun and (old["status"] == "ok" or not args.retry_failed):
                    continue
                print(f"[{time.strftime('%H:%M:%S')}] {name} {method} {budget:g} s", flush=True)
                if method == "agent":
                    result = run_agent(args, meta, data, budget, work)
                else:
                    result = run_peer(args, method, meta, data, budget, work)
                record = {
                    "dataset": name,
                    "group": meta["group"],
                    "task": meta["task"],
                    "budget": budget,
                    "method": method,
                    "metric": METRIC[meta["task"]],
                    "test_rows": meta["test_rows"],
                    "train_rows": meta["train_rows"],
                    **result,
                    "score": result.get("metrics", {}).get(METRIC[meta["task"]]),
                    "cores": args.cores,
                    "agent_commit": commit if method == "agent" else None,
                    "agent_set": args.agent_set if method == "agent" else None,
                    "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                with args.results.open("a") as f:
                    f.write(json.dumps(record, default=str) + "\n")
                score = "-" if record["score"] is None else f"{record['score']:.4f}"
                print(
                    f"    {result['status']}: {record['metric']} {score} in {result['wall_seconds']:.0f} s, "
                    f"others used {result['others_cpu_share']:.0%} of the CPU"
                    + (f", {result.get('trials')} trials" if method == "agent" else "")
                    + (f" ({result.get('error')})" if result["status"] != "ok" else ""),
                    flush=True,
                )


# ---- judging and printing -----------------------------------------------------------------


def standard_error(metric: str, a: float, b: float, n: int) -> float:
    """One standard error of the test metric on n test rows, at the mean of the two scores."""
    p = (a + b) / 2
    if metric == "accuracy":
        return math.sqrt(max(p * (1 - p), 0.0) / n)
    return max(1 - p, 0.0) * math.sqrt(2 / n)


def compare(a: dict | None, b: dict | None) -> str:
    """'win', 'tie' or 'loss' of record a against record b, or 'a failed' / 'b failed' / 'missing'."""
    if a is None or b is None:
        return "missing"
    if a["status"] != "ok" or a["score"] is None:
        return "a failed"
    if b["status"] != "ok" or b["score"] is None:
        return "b failed"
    if abs(a["score"] - b["score"]) <= standard_error(a["metric"], a["score"], b["score"], a["test_rows"]):
        return "tie"
    return "win" if a["score"] > b["score"] else "loss"


def ranks(row: dict[str, dict | None]) -> dict[str, float]:
    """Ranks of RANKED by score (1 = best); equal scores share their mean rank; failures rank last."""
    scores = {
        m: (row[m]["score"] if row.get(m) and row[m]["status"] == "ok" and row[m]["score"] is not None else -math.inf)
        for m in RANKED
    }
    ordered = sorted(scores.values(), reverse=True)
    return {m: sum(i + 1 for i, s in enumerate(ordered) if s == v) / ordered.count(v) for m, v in scores.items()}


def _cell(r: dict | None, bold: bool = False) -> str:
    if r is None:
        return " "
    if r["status"] != "ok" or r["score"] is None:
        return r["status"]
    text = f"{r['score']:.4f}"
    return f"**{text}**" if bold else text


def _seconds(r: dict | None) -> str:
    if r is None:
        return " "
    return "-" if r.get("wall_seconds") is None else f"{r['wall_seconds']:.0f}"  # "-": not recorded


def agent_time_table(rows: dict[str, dict], budget: float) -> None:
    """Where the agent's wall time went (its own split, metrics.json `time`) beside the
    process wall time the harness measured (which adds interpreter exit and the report)."""
    timed = {n: r["agent"] for n, r in rows.items() if r["agent"] and r["agent"].get("time")}
    if not timed:
        return
    print(f"\nThe agent's time at {budget:g} s (seconds):\n")
    print("| data set | process wall | run's own count | before the search | search | deploy | ensemble members |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in timed.items():
        t = r["time"]
        print(
            f"| {name} | {r['wall_seconds']:.0f} | {t['seconds']:.0f} | {t['before_search']:.0f} | "
            f"{t['search']:.0f} | {t['deploy']:.0f} | {r.get('ensemble') or 1} |"
        )


def report(records: dict[tuple, dict], selected: list[str], budgets: list[float]) -> None:
    for budget in budgets:
        rows = {name: {m: records.get((name, float(budget), m)) for m in METHODS} for name in selected}
        rows = {n: r for n, r in rows.items() if any(r.values())}
        if not rows:
            continue
        print(f"\n### Budget {budget:g} s\n")
        print(
            "| data set | group | metric | test rows | agent | trials | FLAML | AutoGluon | HGB | linear "
            "| agent s | FLAML s | AutoGluon s | HGB s | linear s |"
        )
        print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, row in rows.items():
            first = next(r for r in row.values() if r)
            best = max(
                (r["score"] for r in row.values() if r and r["status"] == "ok" and r["score"] is not None), default=None
            )
            cells = [_cell(row[m], bold=row[m] is not None and row[m].get("score") == best) for m in METHODS]
            trials = row["agent"].get("trials") if row["agent"] else None
            trials = " " if trials is None else str(trials)
            print(
                f"| {name} | {first['group']} | {first['metric']} | {first['test_rows']} | {cells[0]} | {trials} | "
                + " | ".join(cells[1:])
                + " | "
                + " | ".join(_seconds(row[m]) for m in METHODS)
                + " |"
            )
        agent_time_table(rows, budget)
        # peers.py reports ROC AUC only for two classes (the agent reports it for more)
        binary = {
            n: r for n, r in rows.items() if any(r[m] and "roc_auc" in r[m].get("metrics", {}) for m in METHODS[1:])
        }
        if binary:
            print("\nROC AUC on the two-class sets (not used for ties or ranks):\n")
            print("| data set | " + " | ".join(LABEL[m] for m in METHODS) + " |")
            print("|---|" + "---:|" * len(METHODS))
            for name, row in binary.items():
                auc = [
                    f"{row[m]['metrics']['roc_auc']:.4f}" if row[m] and "roc_auc" in row[m].get("metrics", {}) else " "
                    for m in METHODS
                ]
                print(f"| {name} | " + " | ".join(auc) + " |")
        print("\nAgent against each peer (tie = within one standard error of the test metric):\n")
        print("| peer | wins | ties | losses | agent failed | peer failed |")
        print("|---|---:|---:|---:|---:|---:|")
        for peer in METHODS[1:]:
            outcomes = [compare(row["agent"], row[peer]) for row in rows.values()]
            print(
                f"| {LABEL[peer]} | "
                + " | ".join(str(outcomes.count(k)) for k in ("win", "tie", "loss", "a failed", "b failed"))
                + " |"
            )
        complete = [row for row in rows.values() if all(row[m] for m in RANKED)]
        if complete:
            mean = {m: sum(ranks(row)[m] for row in complete) / len(complete) for m in RANKED}
            print(
                f"\nMean rank over {len(complete)} data sets (1 = best of four): "
                + ", ".join(f"{LABEL[m]} {mean[m]:.2f}" for m in sorted(RANKED, key=mean.get))
            )
        total = sum(r.get("wall_seconds") or 0 for row in rows.values() for r in row.values() if r)
        counted = sum(1 for row in rows.values() for r in row.values() if r)
        commits = sorted({str(row["agent"]["agent_commit"]) for row in rows.values() if row["agent"]})
        print(
            f"\nWall time of these {counted} runs: {total / 60:.0f} min. "
            f"Agent commit(s): {', '.join(commits) or 'none'}"
        )
        shares = sorted(
            (r["others_cpu_share"], f"{name}/{m}")
            for name, row in rows.items()
            for m, r in row.items()
            if r and r.get("others_cpu_share") is not None
        )
        busy = [who for share, who in shares if share > BUSY_SHARE]
        if shares:
            print(
                f"Other processes' share of the machine's CPU during these runs: median "
                f"{shares[len(shares) // 2][0]:.0%}, range {shares[0][0]:.0%}-{shares[-1][0]:.0%}; "
                f"{len(busy)} of {len(shares)} runs above {BUSY_SHARE:.0%}"
                + (f" ({', '.join(busy)})" if 0 < len(busy) <= 10 else "")
                + (": their timings, and so scores at a fixed budget, are contaminated." if busy else ".")
            )


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def list_datasets(selected: list[str], cache: Path) -> None:
    """The data sets as a Markdown table: group, task, rows, features, source (written if need be)."""
    print("| data set | group | task | rows (train/test) | features | categorical | text | missing cells | source |")
    print("|---|---|---|---|---:|---:|---:|---:|---|")
    for name in selected:
        m = json.loads((bench_datasets.prepare(name, cache / "data") / "meta.json").read_text())
        task = m["task"] if m["task"] == "regression" else f"{m['classes']} classes"
        sampled = f" of {m['rows_before_sampling']}" if m["rows_before_sampling"] > m["rows"] else ""
        src = m["source"]
        print(
            f"| {name} | {m['group']} | {task} | {m['rows']}{sampled} ({m['train_rows']}/{m['test_rows']}) | "
            f"{m['features']} | {len(m['categorical'])} | {len(m['text'])} | {m['missing_cells']} | "
            f"{src['package']} {src['version']}: {src['file']} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="the agent against FLAML, AutoGluon and scikit-learn defaults",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--budgets", type=float, nargs="+", help="seconds (default 60 300; --report alone prints every budget saved)"
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=bench_datasets.names(), help="these data sets")
    parser.add_argument("--group", choices=["dev", "eval", "dates", "all"], default="all", help="default all")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    parser.add_argument("--report", action="store_true", help="only print the tables from saved results")
    parser.add_argument("--list", action="store_true", help="only list the data sets (Markdown)")
    parser.add_argument("--results", type=Path, default=ROOT / ".cache" / "bench" / "results.jsonl")
    parser.add_argument(
        "--cache",
        type=Path,
        default=ROOT / ".cache" / "bench",
        help="where the data files are written (default .cache/bench)",
    )
    parser.add_argument(
        "--agent-python",
        type=Path,
        default=Path(os.environ.get("AUTOML_AGENT_PYTHON", ROOT / ".venv" / "bin" / "python")),
        help="the project venv's python (default $AUTOML_AGENT_PYTHON or .venv/bin/python)",
    )
    parser.add_argument("--agent-root", type=Path, default=ROOT, help="the project folder the agent runs from")
    parser.add_argument(
        "--agent-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra --set for the agent (recorded with its results)",
    )
    parser.add_argument(
        "--bench-python",
        type=Path,
        default=Path(sys.executable),
        help="the bench venv's python for the peers (default: this one)",
    )
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)), help="cores for FLAML/AutoGluon")
    parser.add_argument("--timeout-factor", type=float, default=3.0, help="a run is killed after factor*budget+extra")
    parser.add_argument("--timeout-extra", type=float, default=600.0)
    parser.add_argument("--retry-failed", action="store_true", help="run failed or timed-out records again")
    parser.add_argument("--rerun", action="store_true", help="run every selected record again")
    args = parser.parse_args(argv)
    args.cache, args.results = args.cache.resolve(), args.results.resolve()
    selected = args.only or bench_datasets.names(args.group)
    if args.list:
        list_datasets(selected, args.cache)
        return 0
    records = read_results(args.results)
    if args.budgets is None:
        args.budgets = sorted({b for _, b, _ in records}) if args.report and records else [60.0, 300.0]
    if not args.report:
        if "agent" in args.methods and not args.agent_python.exists():
            parser.error(f"no agent python at {args.agent_python}: give --agent-python or $AUTOML_AGENT_PYTHON")
        args.results.parent.mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGTERM, _interrupted)  # a kill ends the running peer or agent too
        try:
            run_all(args, selected)
        except KeyboardInterrupt:
            print("interrupted: finished records are saved; run the same command again to resume", file=sys.stderr)
            return 130
    report(read_results(args.results), selected, args.budgets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
