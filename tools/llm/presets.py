"""Provider presets: what one line `llm.provider: <name>` stands for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
