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

The package, a module a concern:
- `errors`: the exceptions, each one sentence for a user;
- `presets`: what `llm.provider: <name>` stands for (endpoints, models, prices);
- `settings`: the `llm:` block of a run config, its resolution, the API key and the one
  chat-model factory;
- `parsing`: pure functions that read JSON and Python out of model answers;
- `client`: `LLMClient` (retries, parsing with re-asks, usage and caps) and `make_client`.
"""

from tools.llm.client import LLMClient, Usage, make_client
from tools.llm.errors import (
    BudgetExceeded,
    ContextLengthExceeded,
    LLMConfigError,
    LLMError,
    LLMOutputError,
    LLMUnavailable,
)
from tools.llm.parsing import check_python, extract_code, extract_json, strip_reasoning
from tools.llm.presets import BUILTIN, CUSTOM, PRESETS, Preset, Prices
from tools.llm.settings import LLMSettings, ResolvedLLM, make_chat_model, read_api_key

__all__ = [
    "BUILTIN",
    "CUSTOM",
    "PRESETS",
    "BudgetExceeded",
    "ContextLengthExceeded",
    "LLMClient",
    "LLMConfigError",
    "LLMError",
    "LLMOutputError",
    "LLMSettings",
    "LLMUnavailable",
    "Preset",
    "Prices",
    "ResolvedLLM",
    "Usage",
    "check_python",
    "extract_code",
    "extract_json",
    "make_chat_model",
    "make_client",
    "read_api_key",
    "strip_reasoning",
]
