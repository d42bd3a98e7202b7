"""What the sandbox said, made fit for a prompt: clipped, secrets and host paths removed.

Sandbox output (errors, tracebacks, what generated code printed) goes back to the LLM in
retry and crash prompts. Generated code can print anything it could read, so before it
leaves the machine: the values of the host's secret-looking environment variables,
secret-shaped strings (API keys, bearer tokens, private keys, `password=...`) and host
paths (the run folder, the home folder, the Python installation, this project) are
replaced with placeholders, and the text is clipped.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
SECRET_SHAPES = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL),
    re.compile(r"\b(sk|gsk|pk|rk|xox[bpas]|ghp|gho|glpat|hf)[-_][A-Za-z0-9_\-]{16,}"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{12,}=*"),
    re.compile(r"(?i)\b([A-Z0-9_]*(?:api[_-]?key|token|secret|password|passwd))(\s*[=:]\s*)(\S+)"),
]
PROJECT = Path(__file__).resolve().parents[2]


def _host_paths(run_dir: str | None) -> list[tuple[str, str]]:
    paths = [
        (run_dir, "<run>"),
        (str(PROJECT), "<project>"),
        (sys.prefix, "<python>"),
        (sys.base_prefix, "<python>"),
        (str(Path.home()), "~"),
    ]
    # Longest first, so a run folder inside the project is named as the run folder.
    return sorted(((str(Path(p).resolve()), name) for p, name in paths if p and p != "/"), key=lambda t: -len(t[0]))


def _secret_values() -> list[str]:
    return sorted({v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= 8}, key=len, reverse=True)


def redact(text: str | None, limit: int = 2000, run_dir: str | None = None) -> str:
    """`text` without secrets or host paths, at most `limit` characters (the end kept: a
    traceback's last lines say the most)."""
    text = text or ""
    if len(text) > 4 * limit:  # never run the patterns over megabytes
        text = text[-4 * limit :]
    for value in _secret_values():
        text = text.replace(value, "<secret>")
    for pattern in SECRET_SHAPES:
        text = pattern.sub(lambda m: m.group(1) + m.group(2) + "<secret>" if m.re.groups == 3 else "<secret>", text)
    for path, name in _host_paths(run_dir):
        text = text.replace(path, name)
    if len(text) > limit:
        text = "[...]" + text[-limit:]
    return text
