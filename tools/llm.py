"""The LLM client: one chat-model factory over langchain-openai's ChatOpenAI, for any
OpenAI-compatible endpoint, with provider presets, retries, defensive parsing and a budget.

An LLM is optional and never trusted (DESIGN.md, principle 6). Every call goes through
`LLMClient`, which
- retries rate limits, 5xx, timeouts and connection errors with exponential backoff and jitter
  (honouring Retry-After), and reports a context-length error in one line without retrying;
- strips `<think>...</think>` reasoning blocks before anything reads the answer;
- parses JSON and Python out of plain text whatever the provider does with structured output,
  and re-asks the model with the parse or validation error appended (bounded);
- counts tokens and cost per node and per run, writes `usage.json` and `llm_calls.jsonl` to the
  run folder, and raises `BudgetExceeded` once a cap (`max_tokens`, `max_cost_usd`) is reached.

A node calls it like this:

    client = make_client(config.llm, run_dir)          # None when llm.provider is "builtin"
    try:
        plan = client.structured("plan", messages, Plan)
    except BudgetExceeded as exc:   # a cap is reached; exc.on_cap is "builtin" or "stop"
        ...                         # "builtin": template coder; "stop": stop with str(exc)
    except LLMError as exc:         # unreachable, context too long, unparsable answers
        ...                         # str(exc) is one line for the report
"""

from __future__ import annotations

import ast
import email.utils
import json
import os
import random
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import openai
from langchain_core.exceptions import ContextOverflowError
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    convert_to_messages,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

M = TypeVar("M", bound=BaseModel)
MessagesInput = str | Sequence[BaseMessage | tuple[str, str] | dict[str, Any] | str]


# ------------------------------------------------------------------------------------------------
# Errors: every one prints as one sentence that says what was wrong and what to do.
# ------------------------------------------------------------------------------------------------
class LLMError(Exception):
    """Base of every error the LLM layer raises; `str(exc)` is one line for a user."""


class LLMConfigError(LLMError):
    """The `llm:` section cannot be used as given (unknown preset, missing key variable, ...)."""


class ContextLengthExceeded(LLMError):
    """The prompt does not fit the model's context window; retrying the same prompt cannot help."""


class LLMUnavailable(LLMError):
    """The endpoint failed (after retries, or with a non-retryable status such as 401/404)."""


class LLMOutputError(LLMError):
    """The model's answers could not be parsed/validated, even after re-asking with the error."""

    def __init__(self, message: str, last_answer: str = "") -> None:
        super().__init__(message)
        self.last_answer = last_answer


class BudgetExceeded(LLMError):
    """A run cap (`llm.max_tokens` or `llm.max_cost_usd`) is reached; no further LLM calls.

    `on_cap` carries the configured reaction: "builtin" (the node falls back to the built-in
    coder) or "stop" (the run stops with this message).
    """

    def __init__(self, cap: str, used: float, limit: float, on_cap: str) -> None:
        unit = " USD" if cap == "max_cost_usd" else " tokens"
        fmt = "{:.4f}" if cap == "max_cost_usd" else "{:.0f}"
        super().__init__(
            f"LLM budget reached: llm.{cap} is {fmt.format(limit)}{unit} and this run has used "
            f"{fmt.format(used)}{unit}; raise llm.{cap} to let the LLM continue"
            + (" (falling back to the built-in coder)." if on_cap == "builtin" else ".")
        )
        self.cap, self.used, self.limit, self.on_cap = cap, used, limit, on_cap


# ------------------------------------------------------------------------------------------------
# Provider presets
# ------------------------------------------------------------------------------------------------
class Prices(BaseModel):
    """USD per one million tokens."""

    model_config = ConfigDict(extra="forbid")
    input: float = Field(0.0, ge=0, description="USD per 1M input (prompt) tokens.")
    output: float = Field(0.0, ge=0, description="USD per 1M output (completion) tokens.")


@dataclass(frozen=True)
class Preset:
    """What one line `llm.provider: <name>` stands for. Every field can be overridden in `llm:`."""

    base_url: str
    model: str | None  # None: the user must name the model their server serves
    api_key_env: str | None  # None: no key needed (local servers)
    prices: Prices
    reasoning: bool  # the model writes a <think>...</think> block before its answer
    structured_output: Literal["json_schema", "prompt"]  # send response_format json_schema?
    max_tokens_param: Literal["max_completion_tokens", "max_tokens"]  # name the server reads
    temperature: float = 0.2
    notes: str = ""


# Prices are providers' public LIST PRICES in USD per 1M input/output tokens as known in early
# 2025 (the date of this table's author's knowledge, not of your run). They change and models get
# retired: override with `llm.prices: {input: ..., output: ...}` and `llm.model: ...`.
# Local servers cost nothing per token here (your hardware is not metered).
PRESETS: dict[str, Preset] = {
    "gemini-2.0-flash": Preset(
        base_url="https://generativelanguage.googleapis.com/v1beta/openai/",
        model="gemini-2.0-flash",
        api_key_env="GEMINI_API_KEY",
        prices=Prices(input=0.10, output=0.40),
        reasoning=False,
        structured_output="json_schema",
        max_tokens_param="max_tokens",
        notes="Google's OpenAI-compatible endpoint",
    ),
    "llama-3.3-70b": Preset(
        base_url="https://api.groq.com/openai/v1",
        model="llama-3.3-70b-versatile",
        api_key_env="GROQ_API_KEY",
        prices=Prices(input=0.59, output=0.79),
        reasoning=False,
        structured_output="prompt",
        max_tokens_param="max_completion_tokens",
        notes="Groq",
    ),
    "llama-4-maverick": Preset(
        base_url="https://api.groq.com/openai/v1",
        model="meta-llama/llama-4-maverick-17b-128e-instruct",
        api_key_env="GROQ_API_KEY",
        prices=Prices(input=0.20, output=0.60),
        reasoning=False,
        structured_output="json_schema",
        max_tokens_param="max_completion_tokens",
        notes="Groq",
    ),
    "deepseek-r1": Preset(
        base_url="https://api.together.xyz/v1",
        model="deepseek-ai/DeepSeek-R1",
        api_key_env="TOGETHER_API_KEY",
        prices=Prices(input=3.00, output=7.00),
        reasoning=True,
        structured_output="prompt",
        max_tokens_param="max_tokens",
        temperature=0.6,  # DeepSeek's recommendation for R1
        notes="Together AI; answers start with a <think> block",
    ),
    "gemma-2-9b": Preset(
        base_url="https://api.groq.com/openai/v1",
        model="gemma2-9b-it",
        api_key_env="GROQ_API_KEY",
        prices=Prices(input=0.20, output=0.20),
        reasoning=False,
        structured_output="prompt",
        max_tokens_param="max_completion_tokens",
        notes="Groq",
    ),
    "openai": Preset(
        base_url="https://api.openai.com/v1",
        model="gpt-4o-mini",
        api_key_env="OPENAI_API_KEY",
        prices=Prices(input=0.15, output=0.60),
        reasoning=False,
        structured_output="json_schema",
        max_tokens_param="max_completion_tokens",
        notes="OpenAI",
    ),
    "vllm": Preset(
        base_url="http://127.0.0.1:8000/v1",
        model=None,
        api_key_env=None,
        prices=Prices(),
        reasoning=False,
        structured_output="json_schema",
        max_tokens_param="max_tokens",
        notes="local `vllm serve MODEL`",
    ),
    "ollama": Preset(
        base_url="http://127.0.0.1:11434/v1",
        model=None,
        api_key_env=None,
        prices=Prices(),
        reasoning=False,
        structured_output="json_schema",
        max_tokens_param="max_tokens",
        notes="local `ollama serve`",
    ),
    "llamacpp": Preset(
        base_url="http://127.0.0.1:8080/v1",
        model="default",  # llama.cpp's server answers with whatever model it loaded
        api_key_env=None,
        prices=Prices(),
        reasoning=False,
        structured_output="json_schema",
        max_tokens_param="max_tokens",
        notes="local `llama-server -m MODEL.gguf`",
    ),
}

BUILTIN = "builtin"
CUSTOM = "openai_compatible"


# ------------------------------------------------------------------------------------------------
# Settings (embedded in the run config as `llm:`)
# ------------------------------------------------------------------------------------------------
class LLMSettings(BaseModel):
    """How the agent talks to a model. `provider: builtin` uses the template coder, no LLM."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(
        BUILTIN,
        description=f"'{BUILTIN}' (no LLM: the template coder), a preset name "
        f"({', '.join(PRESETS)}), or '{CUSTOM}' with base_url and model.",
    )
    model: str | None = Field(None, description="Model id sent to the endpoint; preset default.")
    base_url: str | None = Field(
        None, description="OpenAI-compatible base URL (ending in /v1 or similar); preset default."
    )
    api_key_env: str | None = Field(
        None,
        description="NAME of the environment variable that holds the API key (never the key "
        "itself); preset default; none needed for local servers.",
    )
    temperature: float | None = Field(
        None, ge=0, le=2, description="Sampling temperature; preset default."
    )
    timeout: float = Field(120.0, gt=0, description="Seconds before one HTTP request times out.")
    max_output_tokens: int | None = Field(
        4096, gt=0, description="Upper bound on tokens the model may write per answer."
    )
    max_tokens: int | None = Field(
        None, gt=0, description="Run cap on total tokens (input + output) over all LLM calls."
    )
    max_cost_usd: float | None = Field(
        None, gt=0, description="Run cap on LLM cost in USD, from the price table."
    )
    prices: Prices | None = Field(
        None, description="Override of the preset's USD per 1M tokens {input, output}."
    )
    on_cap: Literal["builtin", "stop"] = Field(
        "builtin",
        description="When a cap is reached: 'builtin' falls back to the template coder, "
        "'stop' stops the run with a message.",
    )
    max_retries: int = Field(
        5, ge=0, description="Retries of one request on 429/5xx/timeouts/connection errors."
    )
    retry_backoff_s: float = Field(
        1.0, ge=0, description="First backoff delay in seconds; doubles per retry, with jitter."
    )
    retry_backoff_max_s: float = Field(
        30.0, ge=0, description="Longest backoff delay in seconds (Retry-After may ask longer)."
    )
    max_parse_retries: int = Field(
        2, ge=0, description="Re-asks with the error appended when an answer cannot be parsed."
    )
    structured_output: Literal["auto", "json_schema", "prompt"] = Field(
        "auto",
        description="'json_schema' sends response_format; 'prompt' asks for JSON in the prompt "
        "only; 'auto' follows the preset. Answers are parsed from text either way.",
    )
    stream: bool = Field(
        False, description="Stream answers (token by token in LangGraph's messages stream)."
    )

    @model_validator(mode="after")
    def _check(self) -> LLMSettings:
        if self.provider == BUILTIN and self.base_url and "provider" not in self.model_fields_set:
            # An endpoint given without a provider means "this endpoint", not "no LLM".
            self.provider = CUSTOM
        if self.provider not in (BUILTIN, CUSTOM, *PRESETS):
            raise ValueError(
                f"unknown llm.provider {self.provider!r}; use one of: "
                f"{', '.join([BUILTIN, CUSTOM, *PRESETS])}"
            )
        if self.api_key_env is not None and not re.fullmatch(
            r"[A-Za-z_][A-Za-z0-9_]*", self.api_key_env
        ):
            raise ValueError(
                "llm.api_key_env must be the NAME of an environment variable (like GROQ_API_KEY), "
                "not the key itself; put the key in that variable"
            )
        return self

    @property
    def enabled(self) -> bool:
        return self.provider != BUILTIN

    def resolve(self) -> ResolvedLLM:
        """Merge the preset with the overrides; raise LLMConfigError when something is missing."""
        if not self.enabled:
            raise LLMConfigError("llm.provider is 'builtin': there is no model to call.")
        preset = PRESETS.get(self.provider)
        model = self.model or (preset.model if preset else None)
        base_url = self.base_url or (preset.base_url if preset else None)
        if not base_url:
            raise LLMConfigError(
                f"llm.base_url is required for provider {self.provider!r}; give the endpoint's "
                "OpenAI-compatible URL, e.g. http://127.0.0.1:8000/v1."
            )
        if not model:
            raise LLMConfigError(
                f"llm.model is required for provider {self.provider!r}; give the model name "
                "your server serves."
            )
        structured = self.structured_output
        if structured == "auto":
            structured = preset.structured_output if preset else "prompt"
        return ResolvedLLM(
            provider=self.provider,
            model=model,
            base_url=base_url,
            api_key_env=self.api_key_env or (preset.api_key_env if preset else None),
            temperature=(
                self.temperature
                if self.temperature is not None
                else (preset.temperature if preset else 0.2)
            ),
            prices=self.prices or (preset.prices if preset else Prices()),
            reasoning=preset.reasoning if preset else False,
            structured_output=structured,
            max_tokens_param=preset.max_tokens_param if preset else "max_tokens",
        )


@dataclass(frozen=True)
class ResolvedLLM:
    """The concrete endpoint after merging a preset with overrides (safe to log: no key)."""

    provider: str
    model: str
    base_url: str
    api_key_env: str | None
    temperature: float
    prices: Prices
    reasoning: bool
    structured_output: str
    max_tokens_param: str

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["prices"] = self.prices.model_dump()
        return d


def read_api_key(resolved: ResolvedLLM, environ: dict[str, str] | None = None) -> str:
    """The key from the named environment variable; local servers without one get a placeholder."""
    env = os.environ if environ is None else environ
    if resolved.api_key_env is None:
        return "not-needed"  # the OpenAI SDK insists on some key; local servers ignore it
    key = env.get(resolved.api_key_env, "").strip()
    if not key:
        raise LLMConfigError(
            f"environment variable {resolved.api_key_env} is not set; export "
            f"{resolved.api_key_env}=<your {resolved.provider} API key> (named by "
            "llm.api_key_env) and run again."
        )
    return key


def make_chat_model(settings: LLMSettings, **overrides: Any) -> Any:
    """The one chat-model factory: a ChatOpenAI for the configured endpoint.

    Retries are ours (`LLMClient`), so the SDK's are off (`max_retries=0`).
    """
    from langchain_openai import ChatOpenAI  # imported late: the builtin path never needs it

    resolved = settings.resolve()
    kwargs: dict[str, Any] = dict(
        base_url=resolved.base_url,
        api_key=read_api_key(resolved),
        model=resolved.model,
        temperature=resolved.temperature,
        timeout=settings.timeout,
        max_retries=0,
        use_responses_api=False,  # other providers speak chat completions only
        # Ask for the usage chunk whenever a reply streams, including when LangGraph's
        # messages stream turns an .invoke() into a stream: else tokens go uncounted.
        stream_usage=True,
    )
    if settings.max_output_tokens:
        if resolved.max_tokens_param == "max_completion_tokens":
            kwargs["max_tokens"] = settings.max_output_tokens  # sent as max_completion_tokens
        else:
            kwargs["extra_body"] = {"max_tokens": settings.max_output_tokens}
    kwargs.update(overrides)
    return ChatOpenAI(**kwargs)


# ------------------------------------------------------------------------------------------------
# Parsing model answers (pure functions)
# ------------------------------------------------------------------------------------------------
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


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------------
# Usage accounting
# ------------------------------------------------------------------------------------------------
@dataclass
class Usage:
    calls: int = 0
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    estimated_calls: int = 0  # calls whose endpoint reported no usage: tokens estimated

    def add(self, other: Usage) -> None:
        for k, v in asdict(other).items():
            setattr(self, k, getattr(self, k) + v)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["cost_usd"] = round(self.cost_usd, 8)
        d["latency_s"] = round(self.latency_s, 3)
        return d


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _message_json(m: BaseMessage) -> dict[str, Any]:
    return {"role": m.type, "content": m.content}


class _Answer(str):
    """Internal: answer text that remembers whether the model hit the output-token limit."""

    truncated: bool = False


class _RetryableError(Exception):
    """Internal: one failed attempt that may be retried after `wait` seconds (None: backoff)."""

    def __init__(self, message: str, wait: float | None) -> None:
        super().__init__(message)
        self.wait = wait


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers if exc.response is not None else {}
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


_CONTEXT = re.compile(
    r"context[ _-]?(length|window)|maximum context|prompt is too long|too many tokens|"
    r"input tokens exceed|reduce the length",
    re.IGNORECASE,
)
_RETRY_AFTER_MAX_S = 300.0  # a provider asking for longer than this is treated as this


# ------------------------------------------------------------------------------------------------
# The client
# ------------------------------------------------------------------------------------------------
class LLMClient:
    """All LLM calls of a run: retries, parsing, accounting, caps. Thread-safe.

    `run_dir` (optional) receives `usage.json` (totals per node and per run, rewritten after
    every call) and `llm_calls.jsonl` (one line per HTTP attempt: node, prompt, answer, tokens,
    cost, latency, error). An existing `usage.json` is loaded so a resumed run keeps its budget.
    """

    USAGE_FILE = "usage.json"
    CALLS_FILE = "llm_calls.jsonl"

    def __init__(
        self,
        settings: LLMSettings,
        run_dir: str | Path | None = None,
        *,
        chat_model: Any | None = None,
    ) -> None:
        self.settings = settings
        self.resolved = settings.resolve()
        self.chat = chat_model if chat_model is not None else make_chat_model(settings)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._lock = threading.Lock()
        self._run = Usage()
        self._nodes: dict[str, Usage] = {}
        self._exceeded: BudgetExceeded | None = None
        self._native_structured = self.resolved.structured_output == "json_schema"
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._load_usage()

    # -- public API ------------------------------------------------------------------------------
    def complete(
        self,
        node: str,
        messages: MessagesInput,
        *,
        stream: bool | None = None,
        meta: dict[str, Any] | None = None,
    ) -> str:
        """The model's answer as text, reasoning stripped."""
        msgs = convert_to_messages(messages if not isinstance(messages, str) else [messages])
        use_stream = self.settings.stream if stream is None else stream
        return str(self._call(node, msgs, stream=use_stream, meta=meta))

    def structured(
        self,
        node: str,
        messages: MessagesInput,
        schema: type[M],
        *,
        meta: dict[str, Any] | None = None,
    ) -> M:
        """A validated instance of `schema` from the model's answer.

        Asks for JSON in the prompt (and via response_format when the provider supports it),
        extracts JSON from the text whatever came back, and re-asks with the error appended.
        """
        msgs = convert_to_messages(messages if not isinstance(messages, str) else [messages])
        schema_json = json.dumps(schema.model_json_schema(), separators=(",", ":"))
        msgs = _append_to_last_human(
            msgs,
            "Answer with one JSON object (no other text) that validates against this JSON "
            f"schema:\n{schema_json}",
        )

        def parse(text: str) -> M:
            try:
                return schema.model_validate(extract_json(text))
            except ValidationError as exc:
                raise ValueError(f"the JSON does not match the schema: {exc}") from None

        return self._ask_until_parsed(
            node,
            msgs,
            parse,
            meta,
            "Reply again with only the corrected JSON object.",
            response_format=schema,
        )

    def code(
        self,
        node: str,
        messages: MessagesInput,
        *,
        language: str = "python",
        meta: dict[str, Any] | None = None,
    ) -> str:
        """Source code from a fenced block of the answer, syntax-checked (Python), re-asked
        with the error when it is missing or does not parse. Never executed here."""
        msgs = convert_to_messages(messages if not isinstance(messages, str) else [messages])

        def parse(text: str) -> str:
            src = extract_code(text, language)
            if language == "python":
                check_python(src)
            return src

        return self._ask_until_parsed(
            node,
            msgs,
            parse,
            meta,
            f"Reply again with the complete corrected module in one ```{language} block.",
        )

    def check_budget(self) -> None:
        """Raise BudgetExceeded when a cap is reached (every call does this first)."""
        with self._lock:
            self._check_caps_locked()
            if self._exceeded is not None:
                raise self._exceeded

    @property
    def budget_exceeded(self) -> BudgetExceeded | None:
        return self._exceeded

    def usage(self) -> dict[str, Any]:
        """Totals per run and per node, the endpoint, the prices and the caps (usage.json)."""
        with self._lock:
            return self._usage_json_locked()

    @property
    def usage_path(self) -> Path | None:
        return self.run_dir / self.USAGE_FILE if self.run_dir else None

    @property
    def calls_path(self) -> Path | None:
        return self.run_dir / self.CALLS_FILE if self.run_dir else None

    # -- re-ask loop -----------------------------------------------------------------------------
    def _ask_until_parsed(self, node, msgs, parse, meta, instruction, response_format=None):
        errors: list[str] = []
        text = ""
        for attempt in range(self.settings.max_parse_retries + 1):
            text = self._call(
                node,
                msgs,
                stream=False,
                response_format=response_format,
                meta={**(meta or {}), "parse_attempt": attempt + 1},
            )
            try:
                return parse(text)
            except ValueError as exc:
                error = str(exc)
                if getattr(text, "truncated", False):
                    error += " (the answer was cut off at the output-token limit: be briefer)"
                errors.append(error)
                self._log_parse_error(node, attempt + 1, error)
                msgs = [
                    *msgs,
                    AIMessage(content=text),
                    HumanMessage(
                        content=f"Your previous answer could not be used: {error}\n{instruction}"
                    ),
                ]
        raise LLMOutputError(
            f"{node}: the model's answer could not be used after {len(errors)} attempt(s); "
            f"last error: {_one_line(errors[-1], 200)}",
            last_answer=str(text),
        )

    # -- one logical call with retries -------------------------------------------------------------
    def _call(
        self,
        node: str,
        msgs: list[BaseMessage],
        *,
        stream: bool,
        response_format: type[BaseModel] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> str:
        attempts = self.settings.max_retries + 1
        for attempt in range(1, attempts + 1):
            self.check_budget()
            try:
                return self._attempt(node, msgs, stream, response_format, meta, attempt)
            except _RetryableError as exc:
                if attempt == attempts:
                    raise LLMUnavailable(
                        f"{node}: the LLM endpoint {self.resolved.base_url} failed "
                        f"{attempts} time(s); last error: {exc}; check the endpoint or raise "
                        "llm.max_retries."
                    ) from None
                time.sleep(self._backoff(attempt, exc.wait))
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, _RETRY_AFTER_MAX_S)
        s = self.settings
        delay = min(s.retry_backoff_max_s, s.retry_backoff_s * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.5)

    def _attempt(self, node, msgs, stream, response_format, meta, attempt) -> str:
        config = {"run_name": f"llm:{node}", "tags": ["llm", node], "metadata": {"node": node}}
        native = response_format is not None and self._native_structured
        t0 = time.monotonic()
        message = None
        try:
            if stream:
                message = self._stream(msgs, config)
            elif native:
                message = self.chat.bind(response_format=_response_format(response_format)).invoke(
                    msgs, config=config
                )
            else:
                message = self.chat.invoke(msgs, config=config)
        except openai.LengthFinishReasonError as exc:
            # response_format + finish_reason "length": the SDK raises; keep the partial answer.
            message = _message_from_completion(exc.completion)
        except Exception as exc:  # classified below; everything else propagates untouched
            latency = time.monotonic() - t0
            if self._handle_failure(node, msgs, exc, latency, attempt, meta, native):
                return self._attempt(node, msgs, stream, response_format, meta, attempt)
            raise
        latency = time.monotonic() - t0
        raw = message.text if hasattr(message, "text") else str(message.content)
        answer, reasoning = strip_reasoning(raw)
        self._record(node, msgs, raw, answer, reasoning, message, latency, attempt, meta)
        result = _Answer(answer)
        meta_ = getattr(message, "response_metadata", None) or {}
        result.truncated = meta_.get("finish_reason") == "length"
        return result

    def _stream(self, msgs: list[BaseMessage], config: dict[str, Any]) -> Any:
        total = None
        for chunk in self.chat.stream(msgs, config=config, stream_usage=True):
            total = chunk if total is None else total + chunk
        return total if total is not None else AIMessage(content="")

    def _handle_failure(self, node, msgs, exc, latency, attempt, meta, native) -> bool:
        """Log the failed attempt, then raise what the caller should see. Returns True when
        the provider refused response_format (ask again without it), False to re-raise `exc`."""
        status = getattr(exc, "status_code", None)
        message = getattr(exc, "message", None) or str(exc)
        self._record_failure(
            node, msgs, f"{type(exc).__name__}: {message}", status, latency, attempt, meta
        )
        if isinstance(exc, ContextOverflowError) or (
            status in (400, 413, 422) and _CONTEXT.search(message)
        ):
            raise ContextLengthExceeded(
                f"{node}: the prompt is longer than {self.resolved.model}'s context window "
                f"({_one_line(message, 160)}); shorten the prompt or choose a model with a "
                "longer context."
            ) from None
        if (
            native
            and status in (400, 422)
            and re.search(r"response_format|json_schema|structured", message, re.IGNORECASE)
        ):
            self._native_structured = False  # this provider refuses it: prompt for JSON instead
            return True
        if isinstance(exc, openai.APITimeoutError):
            raise _RetryableError(f"no answer within {self.settings.timeout:g} s", None) from None
        if isinstance(exc, openai.APIConnectionError):
            root: BaseException = exc
            while (root.__cause__ or root.__context__) is not None:  # the socket-level reason
                root = root.__cause__ or root.__context__
            detail = _one_line(str(root) or message, 120).rstrip(".")
            raise _RetryableError(f"cannot connect ({detail})", None) from None
        if isinstance(exc, openai.APIStatusError):
            if status in (408, 409, 429) or (status is not None and status >= 500):
                raise _RetryableError(
                    f"HTTP {status}: {_one_line(message)}", _retry_after(exc)
                ) from None
            hint = {
                401: f"check the key in ${self.resolved.api_key_env}",
                403: f"check the key in ${self.resolved.api_key_env} and its permissions",
                404: f"check llm.model ({self.resolved.model}) and llm.base_url",
            }.get(status, "check the llm settings")
            raise LLMUnavailable(
                f"{node}: the LLM endpoint answered HTTP {status}: {_one_line(message, 200)}; "
                f"{hint}."
            ) from None
        return False

    # -- accounting ------------------------------------------------------------------------------
    def _record(self, node, msgs, raw, answer, reasoning, message, latency, attempt, meta) -> None:
        um = getattr(message, "usage_metadata", None) or {}
        estimated = not um
        tin = (
            int(um.get("input_tokens") or 0)
            if um
            else sum(_estimate_tokens(str(m.content)) for m in msgs)
        )
        tout = int(um.get("output_tokens") or 0) if um else _estimate_tokens(raw)
        prices = self.resolved.prices
        cost = tin / 1e6 * prices.input + tout / 1e6 * prices.output
        use = Usage(
            calls=1,
            input_tokens=tin,
            output_tokens=tout,
            total_tokens=tin + tout,
            cost_usd=cost,
            latency_s=latency,
            estimated_calls=int(estimated),
        )
        entry = {
            "time": time.time(),
            "node": node,
            "attempt": attempt,
            "meta": meta or {},
            "model": self.resolved.model,
            "messages": [_message_json(m) for m in msgs],
            "answer": answer,
            "reasoning": reasoning,
            "raw_answer": raw if raw != answer else None,
            "finish_reason": (getattr(message, "response_metadata", {}) or {}).get("finish_reason"),
            "input_tokens": tin,
            "output_tokens": tout,
            "tokens_estimated": estimated,
            "cost_usd": round(cost, 8),
            "latency_s": round(latency, 3),
        }
        with self._lock:
            self._run.add(use)
            self._nodes.setdefault(node, Usage()).add(use)
            self._check_caps_locked()
            self._append_log_locked(entry)
            self._write_usage_locked()

    def _record_failure(self, node, msgs, error, status, latency, attempt, meta) -> None:
        entry = {
            "time": time.time(),
            "node": node,
            "attempt": attempt,
            "meta": meta or {},
            "model": self.resolved.model,
            "messages": [_message_json(m) for m in msgs],
            "error": error,
            "status": status,
            "latency_s": round(latency, 3),
        }
        use = Usage(failed_calls=1, latency_s=latency)
        with self._lock:
            self._run.add(use)
            self._nodes.setdefault(node, Usage()).add(use)
            self._append_log_locked(entry)
            self._write_usage_locked()

    def _log_parse_error(self, node: str, attempt: int, error: str) -> None:
        entry = {"time": time.time(), "node": node, "parse_attempt": attempt, "parse_error": error}
        with self._lock:
            self._append_log_locked(entry)

    def _check_caps_locked(self) -> None:
        if self._exceeded is not None:
            return
        s = self.settings
        if s.max_tokens is not None and self._run.total_tokens >= s.max_tokens:
            self._exceeded = BudgetExceeded(
                "max_tokens", self._run.total_tokens, s.max_tokens, s.on_cap
            )
        elif s.max_cost_usd is not None and self._run.cost_usd >= s.max_cost_usd:
            self._exceeded = BudgetExceeded(
                "max_cost_usd", self._run.cost_usd, s.max_cost_usd, s.on_cap
            )

    def _usage_json_locked(self) -> dict[str, Any]:
        s = self.settings
        return {
            "endpoint": self.resolved.to_json(),
            "caps": {
                "max_tokens": s.max_tokens,
                "max_cost_usd": s.max_cost_usd,
                "on_cap": s.on_cap,
            },
            "budget_exceeded": str(self._exceeded) if self._exceeded else None,
            "run": self._run.to_json(),
            "nodes": {k: v.to_json() for k, v in sorted(self._nodes.items())},
        }

    def _write_usage_locked(self) -> None:
        if self.run_dir is None:
            return
        path = self.run_dir / self.USAGE_FILE
        tmp = path.with_suffix(f".tmp{threading.get_ident()}")
        tmp.write_text(json.dumps(self._usage_json_locked(), indent=2))
        os.replace(tmp, path)

    def _append_log_locked(self, entry: dict[str, Any]) -> None:
        if self.run_dir is None:
            return
        with open(self.run_dir / self.CALLS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, default=str) + "\n")

    def _load_usage(self) -> None:
        path = self.run_dir / self.USAGE_FILE if self.run_dir else None
        if not path or not path.exists():
            return
        try:
            data = json.loads(path.read_text())
            self._run = Usage(**data["run"])
            self._nodes = {k: Usage(**v) for k, v in data.get("nodes", {}).items()}
        except (ValueError, KeyError, TypeError):
            return  # an unreadable usage file starts the count afresh rather than failing a run
        self._check_caps_locked()


def make_client(settings: LLMSettings, run_dir: str | Path | None = None) -> LLMClient | None:
    """The run's LLM client, or None when `llm.provider` is 'builtin' (template coder)."""
    return LLMClient(settings, run_dir) if settings.enabled else None


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def _append_to_last_human(msgs: list[BaseMessage], text: str) -> list[BaseMessage]:
    """Add an instruction to the last user message (some chat templates reject two user turns
    in a row), or as a new user message when the last one is not plain text."""
    msgs = list(msgs)
    for i in range(len(msgs) - 1, -1, -1):
        if isinstance(msgs[i], HumanMessage) and isinstance(msgs[i].content, str):
            if i == len(msgs) - 1:
                msgs[i] = HumanMessage(content=f"{msgs[i].content}\n\n{text}")
                return msgs
            break
    return [*msgs, HumanMessage(content=text)]


def _response_format(schema: type[BaseModel]) -> dict[str, Any]:
    # A plain dict, not the class: with a class the OpenAI SDK parses the JSON itself and raises
    # on bad JSON, losing the text (and its usage) that our own parser and re-ask need.
    return {
        "type": "json_schema",
        "json_schema": {
            "name": schema.__name__,
            "schema": schema.model_json_schema(),
            "strict": False,
        },
    }


def _message_from_completion(completion: Any) -> AIMessage:
    choice = completion.choices[0] if completion.choices else None
    content = (choice.message.content if choice else "") or ""
    usage = completion.usage
    um = None
    if usage is not None:
        um = {
            "input_tokens": usage.prompt_tokens,
            "output_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        }
    return AIMessage(
        content=content, usage_metadata=um, response_metadata={"finish_reason": "length"}
    )
