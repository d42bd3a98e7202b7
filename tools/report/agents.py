"""The agents' part of the report: every code attempt and why it failed, and the LLM per node.

Read from the run folder only (`events.jsonl`, `usage.json`, `llm_calls.jsonl`), so the same
account can be written for a run that stopped early. Each LLM call's prompt and answer is also
written out as a readable file, `llm/<node>-<n>.md`.
"""

from __future__ import annotations

import json

from tools.runfolder import RunFolder


def _first_line(text: str | None, limit: int = 160) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    line = line.replace("|", "\\|")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def attempt_rows(run: RunFolder) -> list[dict]:
    """One row per written attempt: component, attempt, author, outcome and why it failed."""
    rows: dict[tuple[str, int], dict] = {}
    order: list[tuple[str, int]] = []
    for event in run.events():
        node, message = event["node"], event["message"]
        if node == "code" and message.startswith("wrote "):
            key = (message.removeprefix("wrote "), int(event["attempt"]))
            note = ""
            if event.get("fallback"):
                note = f"built-in coder took over: {event['fallback']}"
            if event.get("after_crashes"):
                note = f"rewritten after {event['after_crashes']} crashed trials"
            rows[key] = {
                "component": key[0],
                "attempt": key[1],
                "author": event.get("author", "?"),
                "status": "-",
                "why": "",
                "note": note,
            }
            order.append(key)
        elif node == "verify" and " " in message and event.get("attempt") is not None:
            component, status = message.split(" ", 1)
            key = (component, int(event["attempt"]))
            if key in rows and status in ("passed", "failed", "skipped"):
                rows[key]["status"] = status
                rows[key]["why"] = _first_line(event.get("error")) if status == "failed" else ""
        elif node == "optimize" and event.get("train_attempt") is not None and "crashed" in event:
            key = ("train", int(event["train_attempt"]))
            if key in rows:
                rows[key]["status"] = "crashed in search"
                rows[key]["why"] = (
                    f"{event['crashed']} of {event['trials']} trials crashed: {_first_line(event.get('error'))}"
                )
    return [rows[k] for k in order]


def attempts_section(run: RunFolder) -> list[str]:
    rows = attempt_rows(run)
    if not rows:
        return []
    lines = [
        "Every attempt, in order:",
        "",
        "| component | attempt | author | verification | why it failed | note |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['component']} | {r['attempt']} | {r['author']} | {r['status']} | "
        f"{r['why'] or '-'} | {r['note'] or '-'} |"
        for r in rows
    ]
    return [*lines, ""]


def llm_calls(run: RunFolder) -> list[dict]:
    path = run.root / RunFolder.LLM_CALLS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_call_files(run: RunFolder, calls: list[dict]) -> dict[str, list[str]]:
    """`llm/<node>-<n>.md`: each answered call's prompt and answer, readable. node -> files."""
    files: dict[str, list[str]] = {}
    for call in calls:
        if "answer" not in call:
            continue
        node = call["node"]
        number = len(files.get(node, [])) + 1
        name = f"llm/{node.replace(':', '-')}-{number}.md"
        meta = ", ".join(f"{k} {v}" for k, v in (call.get("meta") or {}).items())
        parts = [
            f"# {node}, call {number}",
            "",
            f"model {call['model']}; {call['input_tokens']} tokens in, {call['output_tokens']} "
            f"out; {call['cost_usd']:.6f} USD; {call['latency_s']} s" + (f"; {meta}" if meta else ""),
            "",
        ]
        for message in call["messages"]:
            parts += [f"## {message['role']}", "", "````", str(message["content"]), "````", ""]
        if call.get("reasoning"):
            parts += ["## reasoning (removed before parsing)", "", "````", call["reasoning"], "````", ""]
        parts += ["## answer", "", "````", call["answer"], "````", ""]
        run.path(name).write_text("\n".join(parts))
        files.setdefault(node, []).append(name)
    return files


def llm_section(run: RunFolder) -> list[str]:
    """Per node: calls, tokens, cost, failed calls and unusable answers, and where the prompts are."""
    usage = run.read_json(RunFolder.USAGE)
    if not usage:
        return []
    calls = llm_calls(run)
    files = write_call_files(run, calls)
    parse_errors: dict[str, int] = {}
    http_errors: dict[str, list[str]] = {}
    for call in calls:
        if "parse_error" in call:
            parse_errors[call["node"]] = parse_errors.get(call["node"], 0) + 1
        elif "error" in call:
            http_errors.setdefault(call["node"], []).append(_first_line(call["error"], 80))
    endpoint, total = usage["endpoint"], usage["run"]
    lines = [
        "## LLM",
        f"- Model `{endpoint['model']}` at `{endpoint['base_url']}` (provider {endpoint['provider']}).",
        f"- {total['calls']} answered calls, {total['input_tokens']} tokens in, "
        f"{total['output_tokens']} out, **{total['cost_usd']:.4f} USD**"
        + (
            f" ({total['estimated_calls']} calls without usage from the endpoint: estimated)"
            if total.get("estimated_calls")
            else ""
        )
        + ".",
    ]
    if usage.get("budget_exceeded"):
        lines.append(f"- **Budget reached**: {usage['budget_exceeded']}")
    lines += [
        "",
        "| node | calls | failed requests | unusable answers | tokens in | tokens out | USD | prompts and answers |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for node, use in usage["nodes"].items():
        errors = http_errors.get(node, [])
        failed = f"{use['failed_calls']}" + (f" ({errors[-1]})" if errors else "")
        shown = ", ".join(f"[{name.split('/')[-1]}]({name})" for name in files.get(node, [])) or "-"
        lines.append(
            f"| {node} | {use['calls']} | {failed} | {parse_errors.get(node, 0)} | "
            f"{use['input_tokens']} | {use['output_tokens']} | {use['cost_usd']:.4f} | {shown} |"
        )
    lines += ["", "Every HTTP request with its full prompt and answer: `llm_calls.jsonl`; totals: `usage.json`.", ""]
    return lines
