"""The `llm:` block of a run config, resolved against its preset, and the chat-model factory."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.llm.errors import LLMConfigError
from tools.llm.presets import BUILTIN, CUSTOM, PRESETS, Prices


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
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature; preset default.")
    timeout: float = Field(120.0, gt=0, description="Seconds before one HTTP request times out.")
    max_output_tokens: int | None = Field(
        4096, gt=0, description="Upper bound on tokens the model may write per answer."
    )
    max_tokens: int | None = Field(
        None, gt=0, description="Run cap on total tokens (input + output) over all LLM calls."
    )
    max_cost_usd: float | None = Field(None, gt=0, description="Run cap on LLM cost in USD, from the price table.")
    prices: Prices | None = Field(None, description="Override of the preset's USD per 1M tokens {input, output}.")
    on_cap: Literal["builtin", "stop"] = Field(
        "builtin",
        description="When a cap is reached: 'builtin' falls back to the template coder, "
        "'stop' stops the run with a message.",
    )
    max_retries: int = Field(5, ge=0, description="Retries of one request on 429/5xx/timeouts/connection errors.")
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
    stream: bool = Field(False, description="Stream answers (token by token in LangGraph's messages stream).")

    @model_validator(mode="after")
    def _check(self) -> LLMSettings:
        if self.provider == BUILTIN and self.base_url and "provider" not in self.model_fields_set:
            # An endpoint given without a provider means "this endpoint", not "no LLM".
            self.provider = CUSTOM
        if self.provider not in (BUILTIN, CUSTOM, *PRESETS):
            raise ValueError(
                f"unknown llm.provider {self.provider!r}; use one of: {', '.join([BUILTIN, CUSTOM, *PRESETS])}"
            )
        if self.api_key_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.api_key_env):
            raise ValueError(
                "llm.api_key_env must be the NAME of an environment variable (like GROQ_API_KEY), "
                "not the key itself; put the key in that variable"
            )
        if self.max_cost_usd is not None and self.enabled:
            preset = PRESETS.get(self.provider)
            prices = self.prices or (preset.prices if preset else None)
            if prices is None or (prices.input == 0 and prices.output == 0):
                # A cost cap with no price would never be reached: refuse it rather than ignore it.
                raise ValueError(
                    "llm.max_cost_usd: no prices are known for this endpoint, so the cap could never "
                    "be reached; set llm.prices: {input: USD, output: USD} per million tokens, or use "
                    "llm.max_tokens"
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
                f"llm.model is required for provider {self.provider!r}; give the model name your server serves."
            )
        structured = self.structured_output
        if structured == "auto":
            structured = preset.structured_output if preset else "prompt"
        return ResolvedLLM(
            provider=self.provider,
            model=model,
            base_url=base_url,
            api_key_env=self.api_key_env or (preset.api_key_env if preset else None),
            temperature=(self.temperature if self.temperature is not None else (preset.temperature if preset else 0.2)),
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
