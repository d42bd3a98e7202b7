"""Errors of the LLM layer: every one prints as one sentence that says what was wrong and what to do."""

from __future__ import annotations


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
