"""The client every node calls: retries, defensive parsing, usage and cost caps."""

from __future__ import annotations

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
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_core.exceptions import ContextOverflowError
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    convert_to_messages,
)
from pydantic import BaseModel, ValidationError

from tools.llm.errors import BudgetExceeded, ContextLengthExceeded, LLMOutputError, LLMUnavailable
from tools.llm.parsing import check_python, extract_code, extract_json, one_line, strip_reasoning
from tools.llm.settings import LLMSettings, make_chat_model

if TYPE_CHECKING:
    import openai  # imported where used: 0.5 s of every run's start, builtin ones too

M = TypeVar("M", bound=BaseModel)
MessagesInput = str | Sequence[BaseMessage | tuple[str, str] | dict[str, Any] | str]


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
            f"Answer with one JSON object (no other text) that validates against this JSON schema:\n{schema_json}",
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
                    HumanMessage(content=f"Your previous answer could not be used: {error}\n{instruction}"),
                ]
        raise LLMOutputError(
            f"{node}: the model's answer could not be used after {len(errors)} attempt(s); "
            f"last error: {one_line(errors[-1], 200)}",
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
        import openai

        config = {"run_name": f"llm:{node}", "tags": ["llm", node], "metadata": {"node": node}}
        native = response_format is not None and self._native_structured
        t0 = time.monotonic()
        message = None
        try:
            if stream:
                message = self._stream(msgs, config)
            elif native:
                message = self.chat.bind(response_format=_response_format(response_format)).invoke(msgs, config=config)
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
        import openai

        status = getattr(exc, "status_code", None)
        message = getattr(exc, "message", None) or str(exc)
        self._record_failure(node, msgs, f"{type(exc).__name__}: {message}", status, latency, attempt, meta)
        if isinstance(exc, ContextOverflowError) or (status in (400, 413, 422) and _CONTEXT.search(message)):
            raise ContextLengthExceeded(
                f"{node}: the prompt is longer than {self.resolved.model}'s context window "
                f"({one_line(message, 160)}); shorten the prompt or choose a model with a "
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
        if isinstance(exc, (ValueError, openai.APIResponseValidationError)) and re.search(
            r"Unexpected response type|Expecting value|JSON", message
        ):
            # A 200 whose body is not a completion: a proxy's or captive portal's page, often
            # passing. Retried, then handled like any unavailable endpoint (the built-in coder).
            raise _RetryableError(
                f"the endpoint answered with something that is not a chat completion ({one_line(message, 120)})", None
            ) from None
        if isinstance(exc, openai.APIConnectionError):
            root: BaseException = exc
            while (root.__cause__ or root.__context__) is not None:  # the socket-level reason
                root = root.__cause__ or root.__context__
            detail = one_line(str(root) or message, 120).rstrip(".")
            raise _RetryableError(f"cannot connect ({detail})", None) from None
        if isinstance(exc, openai.APIStatusError):
            if status in (408, 409, 429) or (status is not None and status >= 500):
                raise _RetryableError(f"HTTP {status}: {one_line(message)}", _retry_after(exc)) from None
            hint = {
                401: f"check the key in ${self.resolved.api_key_env}",
                403: f"check the key in ${self.resolved.api_key_env} and its permissions",
                404: f"check llm.model ({self.resolved.model}) and llm.base_url",
            }.get(status, "check the llm settings")
            raise LLMUnavailable(
                f"{node}: the LLM endpoint answered HTTP {status}: {one_line(message, 200)}; {hint}."
            ) from None
        return False

    # -- accounting ------------------------------------------------------------------------------
    def _record(self, node, msgs, raw, answer, reasoning, message, latency, attempt, meta) -> None:
        um = getattr(message, "usage_metadata", None) or {}
        estimated = not um
        tin = int(um.get("input_tokens") or 0) if um else sum(_estimate_tokens(str(m.content)) for m in msgs)
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
            self._exceeded = BudgetExceeded("max_tokens", self._run.total_tokens, s.max_tokens, s.on_cap)
        elif s.max_cost_usd is not None and self._run.cost_usd >= s.max_cost_usd:
            self._exceeded = BudgetExceeded("max_cost_usd", self._run.cost_usd, s.max_cost_usd, s.on_cap)

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
    return AIMessage(content=content, usage_metadata=um, response_metadata={"finish_reason": "length"})
