"""Parsing model answers (pure functions): reasoning blocks, JSON and Python in plain text."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

_THINK = re.compile(r"<(think|thinking|reasoning)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)


def strip_reasoning(text: str) -> tuple[str, str]:
    """Split a reasoning model's answer into (answer, reasoning).

    Handles `<think>...</think>` blocks, a closing tag without an opening one (templates that
    put `<think>` in the prompt), and an unterminated block (answer cut off while thinking).
    """
    reasoning: list[str] = []

    def keep(m: re.Match[str]) -> str:
        reasoning.append(m.group(2).strip())
        return ""

    answer = _THINK.sub(keep, text)
    lower = answer.lower()
    close = max(lower.rfind("</think>"), lower.rfind("</thinking>"))
    if close >= 0:
        end = answer.index(">", close) + 1
        reasoning.append(answer[:close].strip())
        answer = answer[end:]
    open_ = re.search(r"<think(ing)?>", answer, re.IGNORECASE)
    if open_:
        reasoning.append(answer[open_.end() :].strip())
        answer = answer[: open_.start()]
    return answer.strip(), "\n\n".join(r for r in reasoning if r)


def _balanced_objects(text: str) -> list[str]:
    """Every balanced {...} span (string-aware), in order of their opening brace."""
    spans = []
    for start in [i for i, c in enumerate(text) if c == "{"]:
        depth, in_str, esc = 0, False, False
        for j in range(start, len(text)):
            c = text[j]
            if in_str:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    spans.append(text[start : j + 1])
                    break
    return spans


def extract_json(text: str) -> Any:
    """The JSON value in a model's answer: the whole text, a ```json block, or the first
    balanced {...} that parses. Raises ValueError saying what was found instead."""
    answer, _ = strip_reasoning(text)
    candidates = [answer]
    candidates += [body for lang, body in _FENCE.findall(answer) if lang.lower() in ("json", "")]
    candidates += _balanced_objects(answer)
    first_error = None
    for cand in candidates:
        try:
            return json.loads(cand.strip())
        except json.JSONDecodeError as exc:
            first_error = first_error or exc
    if not answer:
        raise ValueError("the answer was empty (after removing any <think> block)")
    if "{" not in answer:
        raise ValueError("the answer contains no JSON object")
    raise ValueError(f"the answer contains no valid JSON object ({first_error})")


def extract_code(text: str, language: str = "python") -> str:
    """The code in a model's answer: the longest ```python block, else the longest unlabeled
    block, else the whole answer. Raises ValueError when there is nothing."""
    answer, _ = strip_reasoning(text)
    aliases = {"python": ("python", "py", "python3")}.get(language, (language,))
    blocks = _FENCE.findall(answer)
    labeled = [b for lang, b in blocks if lang.lower() in aliases]
    unlabeled = [b for lang, b in blocks if not lang]
    for group in (labeled, unlabeled):
        if group:
            return max(group, key=len).strip() + "\n"
    if answer.startswith("```"):  # an opened fence that never closed: the answer was cut off
        raise ValueError("the code block is not closed (the answer was probably cut off)")
    if not answer:
        raise ValueError("the answer was empty (after removing any <think> block)")
    return answer + "\n"


def check_python(code: str) -> None:
    """Syntax check only (ast.parse compiles nothing and runs nothing on the host)."""
    try:
        ast.parse(code)
    except SyntaxError as exc:
        raise ValueError(f"SyntaxError at line {exc.lineno}: {exc.msg}") from None


def one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
