"""What the LLM agents share: one client per run, prompt files, the facts a prompt may carry.

One `LLMClient` per run and process: the coders run concurrently and must count tokens and
cost against one budget (a client per coder would each rewrite `usage.json` with its own
count). A resumed run in a new process reads the counts back from `usage.json`.

Prompts are text files in `nodes/prompts/`; `{{name}}` marks a value filled in here.
Nothing of the sealed test split is ever a value: the profile describes the training split,
and carries only the test split's row count and how it was cut.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from graph.config import RunConfig
from tools.llm import LLMClient, make_client

PROMPTS = Path(__file__).parent / "prompts"
LONG_LIST = 24  # a profile list longer than this is shortened in prompts (wide data)
LONG_NAME = 64  # characters of a column name or class label shown in a prompt

_clients: dict[tuple[str, str], LLMClient] = {}
_clients_lock = threading.Lock()


def client_for(config: RunConfig, run_dir: str) -> LLMClient | None:
    """The run's shared LLM client, or None with `llm.provider: builtin`.

    Raises LLMConfigError when the settings cannot be used (e.g. the key variable is unset).
    """
    if not config.llm.enabled:
        return None
    key = (str(Path(run_dir).resolve()), config.llm.model_dump_json())
    with _clients_lock:
        if key not in _clients:
            _clients[key] = make_client(config.llm, run_dir)
        return _clients[key]


def load_prompt(name: str, **values: str) -> str:
    """`nodes/prompts/<name>.txt` with every `{{key}}` replaced; an unfilled key is a bug."""
    text = (PROMPTS / f"{name}.txt").read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    left = re.findall(r"\{\{(\w+)\}\}", text)
    if left:
        raise KeyError(f"prompt {name}.txt: no value for {', '.join(sorted(set(left)))}")
    return text


def _clip(value):
    """A column name or label from the user's data, clipped: it is data, not instructions,
    and a prompt quotes it (as JSON) rather than letting it run on."""
    text = str(value)
    return text if len(text) <= LONG_NAME else text[: LONG_NAME - 3] + "..."


def _shorten(value):
    if isinstance(value, list):
        shown = [_clip(v) if isinstance(v, str) else v for v in value[:LONG_LIST]]
        return shown + ([f"... {len(value)} in all"] if len(value) > LONG_LIST else [])
    if isinstance(value, dict):
        shown = {_clip(k): _clip(v) if isinstance(v, str) else v for k, v in list(value.items())[:LONG_LIST]}
        return {**shown, "...": f"{len(value)} in all"} if len(value) > LONG_LIST else shown
    return _clip(value) if isinstance(value, str) else value


def profile_for_prompt(profile: dict) -> str:
    """The training split's profile as JSON for a prompt (long column lists shortened)."""
    return json.dumps({k: _shorten(v) for k, v in profile.items()}, indent=1, default=str)


def plan_for_prompt(plan: dict) -> str:
    keep = ("task", "metric", "modality", "families", "facade", "scenario", "rationale")
    return json.dumps({k: plan[k] for k in keep if k in plan}, indent=1, default=str)


def api_reference() -> str:
    return (PROMPTS / "api_reference.txt").read_text()
