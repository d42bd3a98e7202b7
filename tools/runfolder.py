"""The run folder: where everything a run makes is written, and its event log.

    runs/<name>/
      config.yaml          the resolved configuration
      profile.json         facts about the training split
      plan.json            the planner's decisions and rationale
      code/attempt-N/      every generated component, attempt by attempt
      code/final/          the verified components that the optimizer used
      reports/             verification reports, one per attempt
      sandbox_data/        what the sandbox may read: the training split only
      sealed/              the test split; never mounted into a sandbox, never in a prompt
      smac/                SMAC's own output (run history, resumable)
      trials.csv           every trial: configuration, status, loss, time
      model/               the refit model and its configuration
      metrics.json         CV and test scores, wall time, trial counts
      report.md            a readable account with plots
      checkpoints.sqlite   LangGraph checkpoints (resume); or run_id, its thread in PostgreSQL
      events.jsonl         what happened, when
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunFolder:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def name(self) -> str:
        return self.root.name

    def path(self, *parts: str) -> Path:
        target = self.root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def folder(self, *parts: str) -> Path:
        target = self.root.joinpath(*parts)
        target.mkdir(parents=True, exist_ok=True)
        return target

    @property
    def code(self) -> Path:
        return self.folder("code")

    @property
    def sandbox_data(self) -> Path:
        return self.folder("sandbox_data")

    @property
    def sealed(self) -> Path:
        return self.folder("sealed")

    @property
    def checkpoints(self) -> Path:
        return self.path("checkpoints.sqlite")

    def write_json(self, name: str, data: Any) -> Path:
        target = self.path(name)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=_plain))
        tmp.replace(target)  # atomic: a kill never leaves half a file
        return target

    def read_json(self, name: str, default: Any = None) -> Any:
        target = self.root / name
        return json.loads(target.read_text()) if target.exists() else default

    def event(self, node: str, message: str, **data: Any) -> None:
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "node": node, "message": message, **data}
        with open(self.path("events.jsonl"), "a") as fh:
            fh.write(json.dumps(record, default=_plain) + "\n")

    def events(self) -> list[dict]:
        target = self.root / "events.jsonl"
        if not target.exists():
            return []
        return [json.loads(line) for line in target.read_text().splitlines() if line.strip()]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)
