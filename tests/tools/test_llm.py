"""The LLM client against the real ChatOpenAI over HTTP, talking to a scripted loopback server."""

from __future__ import annotations

import json
import threading
import time

import pytest
from pydantic import BaseModel, ValidationError

from tools.llm import (
    PRESETS,
    BudgetExceeded,
    ContextLengthExceeded,
    LLMClient,
    LLMConfigError,
    LLMOutputError,
    LLMSettings,
    LLMUnavailable,
    Prices,
    extract_code,
    extract_json,
    make_chat_model,
    make_client,
    strip_reasoning,
)

try:
    from tests.llm_server import Reply, ScriptedLLMServer, llm_server  # noqa: F401
except ImportError:  # pytest run with tests/ (not the repo root) on sys.path
    from llm_server import Reply, ScriptedLLMServer, llm_server  # noqa: F401

KEY_ENV = "AUTOML_TEST_LLM_KEY"
KEY = "sk-test-not-a-real-key"


class Plan(BaseModel):
    task: str
    metric: str
    n_trials: int


PLAN = {"task": "classification", "metric": "accuracy", "n_trials": 50}


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def settings(server: ScriptedLLMServer, **kw) -> LLMSettings:
    base = dict(
        provider="openai_compatible",
        base_url=server.base_url,
        model="test-model",
        api_key_env=KEY_ENV,
        timeout=5,
        retry_backoff_s=0.001,
        retry_backoff_max_s=0.01,
    )
    return LLMSettings(**{**base, **kw})


def client(server: ScriptedLLMServer, run_dir=None, **kw) -> LLMClient:
    return LLMClient(settings(server, **kw), run_dir)


# ---------------------------------------------------------------------------------------------
# settings and presets
# ---------------------------------------------------------------------------------------------
def test_builtin_is_the_default_and_needs_no_client():
    s = LLMSettings()
    assert s.provider == "builtin" and not s.enabled
    assert make_client(s) is None


def test_every_preset_resolves_to_a_chat_model(monkeypatch):
    for name, preset in PRESETS.items():
        if preset.api_key_env:
            monkeypatch.setenv(preset.api_key_env, "k")
        s = LLMSettings(provider=name, model=None if preset.model else "my-model")
        r = s.resolve()
        assert r.base_url.startswith("http") and r.model
        assert r.prices.input >= 0 and r.prices.output >= 0
        chat = make_chat_model(s)
        assert chat.model_name == r.model and chat.max_retries == 0
    assert PRESETS["deepseek-r1"].reasoning
    assert LLMSettings(provider="gemini-2.0-flash").resolve().prices == Prices(input=0.1, output=0.4)


def test_settings_from_yaml_overrides_and_errors():
    s = LLMSettings.model_validate({"provider": "llama-3.3-70b", "model": "other", "prices": {"input": 1, "output": 2}})
    r = s.resolve()
    assert r.model == "other" and r.prices.output == 2 and r.api_key_env == "GROQ_API_KEY"
    with pytest.raises(ValidationError, match="unknown llm.provider"):
        LLMSettings(provider="gpt-17")
    with pytest.raises(ValidationError, match="extra"):
        LLMSettings.model_validate({"provider": "openai", "api_key": "sk-..."})
    with pytest.raises(ValidationError, match="NAME of an environment variable"):
        LLMSettings(provider="openai", api_key_env="sk-abc-123")
    with pytest.raises(LLMConfigError, match="llm.model is required"):
        LLMSettings(provider="vllm").resolve()
    # An endpoint without a provider means that endpoint, not "no LLM".
    assert LLMSettings(base_url="http://127.0.0.1:1/v1", model="m").provider == "openai_compatible"
    for field in LLMSettings.model_fields.values():
        assert field.description


def test_api_key_comes_from_the_named_variable(llm_server):
    llm_server.push(Reply.text("ok"))
    assert client(llm_server).complete("plan", "hi") == "ok"
    assert llm_server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_missing_key_variable_is_one_clear_line(llm_server, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(LLMConfigError) as err:
        client(llm_server)
    assert KEY_ENV in str(err.value) and "\n" not in str(err.value)
    assert llm_server.requests == []


# ---------------------------------------------------------------------------------------------
# replies: plain, streaming, structured
# ---------------------------------------------------------------------------------------------
def test_plain_reply(llm_server, tmp_path):
    llm_server.push(Reply.text("hello there", prompt_tokens=11, completion_tokens=3))
    c = client(llm_server, tmp_path, temperature=0.0, max_output_tokens=123)
    assert c.complete("plan", [("system", "be brief"), ("human", "hi")]) == "hello there"
    body = llm_server.requests[0].body
    assert body["model"] == "test-model" and body["temperature"] == 0.0
    assert body["max_tokens"] == 123  # openai_compatible sends the widely supported name
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert c.usage()["nodes"]["plan"]["input_tokens"] == 11


def test_streaming_reply_is_assembled_with_usage(llm_server):
    text = "a streamed answer in several chunks"
    llm_server.push(Reply.text(text, prompt_tokens=20, completion_tokens=9))
    c = client(llm_server)
    assert c.complete("code.train", "write", stream=True) == text
    body = llm_server.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    run = c.usage()["run"]
    assert (run["input_tokens"], run["output_tokens"], run["estimated_calls"]) == (20, 9, 0)


def test_structured_output_with_response_format(llm_server):
    llm_server.push(Reply.json(PLAN))
    plan = client(llm_server, structured_output="json_schema").structured("plan", "plan it", Plan)
    assert plan == Plan(**PLAN)
    req = llm_server.requests[0]
    assert req.body["response_format"]["type"] == "json_schema"
    assert req.body["response_format"]["json_schema"]["schema"]["title"] == "Plan"
    assert '"n_trials"' in req.prompt_text  # the schema is in the prompt too


def test_structured_output_from_prose_and_code_fence(llm_server):
    llm_server.push(Reply.text(f"Sure! Here is the plan:\n```json\n{json.dumps(PLAN)}\n```\nBye"))
    plan = client(llm_server, structured_output="prompt").structured("plan", "plan it", Plan)
    assert plan.n_trials == 50
    assert "response_format" not in llm_server.requests[0].body


def test_invalid_json_then_valid_after_reask(llm_server, tmp_path):
    llm_server.push(
        Reply.text("I think the task is classification, metric accuracy."),
        Reply.json({"task": "classification", "metric": "accuracy"}),  # misses n_trials
        Reply.json(PLAN),
    )
    c = client(llm_server, tmp_path)
    assert c.structured("plan", "plan it", Plan) == Plan(**PLAN)
    second, third = llm_server.requests[1], llm_server.requests[2]
    assert "contains no JSON object" in second.prompt_text
    assert second.messages[-2]["role"] == "assistant"  # its own wrong answer is shown back
    assert "n_trials" in third.prompt_text and "Field required" in third.prompt_text
    log = [json.loads(line) for line in (tmp_path / "llm_calls.jsonl").read_text().splitlines()]
    assert [e["parse_error"][:20] for e in log if "parse_error" in e] == [
        "the answer contains ",
        "the JSON does not ma",
    ]


def test_truncated_answer_is_reasked_with_a_hint(llm_server):
    for mode in ("prompt", "json_schema"):  # with response_format the SDK raises; handled too
        llm_server.push(Reply.text('{"task": "classif', finish_reason="length"), Reply.json(PLAN))
        assert client(llm_server, structured_output=mode).structured("plan", "p", Plan).n_trials
        assert "cut off at the output-token limit" in llm_server.requests[-1].prompt_text


def test_unparsable_answers_give_up_after_the_bounded_reasks(llm_server):
    llm_server.push(*[Reply.text("no json here")] * 3)
    with pytest.raises(LLMOutputError, match="after 3 attempt"):
        client(llm_server, max_parse_retries=2).structured("plan", "plan it", Plan)
    assert len(llm_server.requests) == 3


def test_provider_that_rejects_response_format_falls_back_to_prompting(llm_server):
    llm_server.push(
        Reply.error(400, "response_format json_schema is not supported for this model"),
        Reply.json(PLAN),
    )
    c = client(llm_server, structured_output="json_schema")
    assert c.structured("plan", "plan it", Plan).task == "classification"
    assert "response_format" in llm_server.requests[0].body
    assert "response_format" not in llm_server.requests[1].body


def test_code_block_with_syntax_error_is_reasked(llm_server):
    bad = "```python\ndef get_configspace(:\n    pass\n```"
    good = "Here you go:\n```python\ndef get_configspace():\n    return 1\n```"
    llm_server.push(Reply.text(bad), Reply.text(good))
    src = client(llm_server).code("code.configspace", "write it")
    assert src == "def get_configspace():\n    return 1\n"
    assert "SyntaxError at line 1" in llm_server.requests[1].prompt_text


# ---------------------------------------------------------------------------------------------
# transient and permanent errors
# ---------------------------------------------------------------------------------------------
def test_429_then_success_honours_retry_after(llm_server, tmp_path):
    llm_server.push(Reply.error(429, "slow down", headers={"Retry-After": "1"}), Reply.text("ok"))
    t0 = time.monotonic()
    assert client(llm_server, tmp_path).complete("plan", "hi") == "ok"
    assert time.monotonic() - t0 >= 0.95
    assert len(llm_server.requests) == 2
    usage = json.loads((tmp_path / "usage.json").read_text())
    assert usage["run"]["calls"] == 1 and usage["run"]["failed_calls"] == 1


def test_5xx_then_success(llm_server):
    llm_server.push(Reply.error(500), Reply.error(503), Reply.text("ok"))
    assert client(llm_server).complete("plan", "hi") == "ok"
    assert len(llm_server.requests) == 3


def test_timeout_then_success(llm_server):
    llm_server.push(Reply.text("late", delay=1.0), Reply.text("ok"))
    assert client(llm_server, timeout=0.3).complete("plan", "hi") == "ok"


def test_retries_are_bounded(llm_server):
    llm_server.push(*[Reply.error(502, "bad gateway")] * 3)
    with pytest.raises(LLMUnavailable) as err:
        client(llm_server, max_retries=2).complete("plan", "hi")
    assert "failed 3 time(s)" in str(err.value) and "\n" not in str(err.value)
    assert len(llm_server.requests) == 3


def test_unreachable_endpoint_is_reported():
    s = LLMSettings(
        provider="openai_compatible",
        base_url="http://127.0.0.1:9/v1",
        model="m",
        max_retries=1,
        retry_backoff_s=0.001,
    )
    with pytest.raises(LLMUnavailable, match="cannot connect"):
        LLMClient(s).complete("plan", "hi")


def test_auth_error_is_not_retried(llm_server):
    llm_server.push(Reply.error(401, "invalid api key"))
    with pytest.raises(LLMUnavailable, match=f"HTTP 401.*{KEY_ENV}"):
        client(llm_server).complete("plan", "hi")
    assert len(llm_server.requests) == 1


def test_context_length_error_is_one_line_and_not_retried(llm_server):
    llm_server.push(Reply.context_length(4096), Reply.text("never sent"))
    with pytest.raises(ContextLengthExceeded) as err:
        client(llm_server).complete("code.train", "x" * 100)
    msg = str(err.value)
    assert "context window" in msg and "4096" in msg and "\n" not in msg
    assert len(llm_server.requests) == 1


# ---------------------------------------------------------------------------------------------
# reasoning models
# ---------------------------------------------------------------------------------------------
def test_think_block_is_stripped(llm_server, tmp_path):
    thinking = "<think>Maybe {not json}. The user wants a plan {\n</think>\n"
    llm_server.push(Reply.text(thinking + "The answer."), Reply.text(thinking + json.dumps(PLAN)))
    c = client(llm_server, tmp_path)
    assert c.complete("plan", "hi") == "The answer."
    assert c.structured("plan", "plan it", Plan).n_trials == 50
    first = json.loads((tmp_path / "llm_calls.jsonl").read_text().splitlines()[0])
    assert first["answer"] == "The answer." and first["reasoning"].startswith("Maybe")


def test_strip_reasoning_variants():
    assert strip_reasoning("<think>a</think>b") == ("b", "a")
    assert strip_reasoning("only the tail of thought</think>\nanswer") == (
        "answer",
        "only the tail of thought",
    )
    assert strip_reasoning("<think>cut off while thinking") == ("", "cut off while thinking")
    assert strip_reasoning("no reasoning") == ("no reasoning", "")


def test_extractors():
    assert extract_json('prefix {"a": {"b": "}"}} suffix {"c": 1}') == {"a": {"b": "}"}}
    assert extract_json("```\n[1, 2]\n```") == [1, 2]
    with pytest.raises(ValueError, match="no valid JSON"):
        extract_json("{'a': 1}")
    two = "```python\nx = 1\n```\nand usage:\n```python\nimport m\nm.run(x=1)\n```"
    assert extract_code(two) == "import m\nm.run(x=1)\n"
    assert extract_code("def f():\n    return 1") == "def f():\n    return 1\n"
    with pytest.raises(ValueError, match="not closed"):
        extract_code("```python\ndef f(")


# ---------------------------------------------------------------------------------------------
# accounting and caps
# ---------------------------------------------------------------------------------------------
def test_usage_and_cost_per_node_are_written(llm_server, tmp_path):
    llm_server.push(
        Reply.text("p", prompt_tokens=1000, completion_tokens=100),
        Reply.text("c", prompt_tokens=2000, completion_tokens=500),
        Reply.text("c2", prompt_tokens=3000, completion_tokens=500),
    )
    c = client(llm_server, tmp_path, prices={"input": 1.0, "output": 10.0})
    c.complete("plan", "hi", meta={"attempt": 1})
    c.complete("code.train", "hi")
    c.complete("code.train", "hi again")
    usage = json.loads((tmp_path / "usage.json").read_text())
    assert usage["nodes"]["plan"]["cost_usd"] == pytest.approx(0.001 + 0.001)
    assert usage["nodes"]["code.train"]["input_tokens"] == 5000
    assert usage["nodes"]["code.train"]["cost_usd"] == pytest.approx(0.005 + 0.01)
    assert usage["run"]["total_tokens"] == 7100 and usage["run"]["calls"] == 3
    assert usage["endpoint"]["model"] == "test-model" and KEY not in json.dumps(usage)
    calls = [json.loads(x) for x in (tmp_path / "llm_calls.jsonl").read_text().splitlines()]
    assert [e["node"] for e in calls] == ["plan", "code.train", "code.train"]
    assert calls[0]["messages"] == [{"role": "human", "content": "hi"}]
    assert calls[0]["answer"] == "p" and calls[0]["meta"] == {"attempt": 1}
    assert calls[0]["latency_s"] >= 0 and calls[0]["cost_usd"] == pytest.approx(0.002)


def test_cost_cap_reached_mid_run_raises_budget_exceeded(llm_server, tmp_path):
    llm_server.push(*[Reply.text("x", prompt_tokens=1000, completion_tokens=1000)] * 3)
    c = client(
        llm_server,
        tmp_path,
        prices={"input": 1.0, "output": 1.0},
        max_cost_usd=0.003,
        on_cap="stop",
    )
    c.complete("plan", "1")
    c.complete("code.configspace", "2")  # 0.004 USD now: the answer that crossed is kept
    with pytest.raises(BudgetExceeded) as err:
        c.complete("code.train", "3")
    assert err.value.cap == "max_cost_usd" and err.value.on_cap == "stop"
    assert "llm.max_cost_usd" in str(err.value) and "\n" not in str(err.value)
    assert len(llm_server.requests) == 2  # the third call never left the process
    usage = json.loads((tmp_path / "usage.json").read_text())
    assert usage["budget_exceeded"].startswith("LLM budget reached")
    # A resumed run reads usage.json back: the cap still holds.
    with pytest.raises(BudgetExceeded):
        client(llm_server, tmp_path, max_cost_usd=0.003, prices={"input": 1.0, "output": 1.0}).check_budget()


def test_token_cap_stops_a_reask_loop(llm_server):
    llm_server.push(*[Reply.text("nope", prompt_tokens=60, completion_tokens=40)] * 3)
    c = client(llm_server, max_tokens=150, max_parse_retries=5)
    with pytest.raises(BudgetExceeded) as err:
        c.structured("plan", "plan it", Plan)
    assert err.value.cap == "max_tokens" and err.value.on_cap == "builtin"
    assert len(llm_server.requests) == 2


def test_concurrent_calls_are_counted_exactly(tmp_path):
    with ScriptedLLMServer(script=lambda body: Reply.text("ok", prompt_tokens=10)) as server:
        c = client(server, tmp_path)
        errors = []

        def work(i: int) -> None:
            try:
                for _ in range(5):
                    c.complete(f"code.{i % 3}", f"hi {i}", stream=i % 2 == 0)
            except Exception as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    usage = json.loads((tmp_path / "usage.json").read_text())
    assert usage["run"]["calls"] == 30 and usage["run"]["input_tokens"] == 300
    assert sum(n["calls"] for n in usage["nodes"].values()) == 30
    assert len((tmp_path / "llm_calls.jsonl").read_text().splitlines()) == 30


def test_langgraph_messages_stream_sees_tokens_and_usage_is_counted(llm_server):
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        out: str

    llm_server.push(Reply.text("streamed answer"), Reply.text("invoked answer"))
    c = client(llm_server)
    g = StateGraph(State)
    g.add_node("plan", lambda s: {"out": c.complete("plan", "hi", stream=True)})
    g.add_node("code", lambda s: {"out": c.complete("code", "hi")})
    g.add_edge(START, "plan")
    g.add_edge("plan", "code")
    g.add_edge("code", END)
    seen: dict[str, str] = {}
    for chunk, meta in g.compile().stream({"out": ""}, stream_mode="messages"):
        seen[meta["langgraph_node"]] = seen.get(meta["langgraph_node"], "") + chunk.text
    assert seen == {"plan": "streamed answer", "code": "invoked answer"}
    assert c.usage()["run"]["estimated_calls"] == 0  # usage chunk asked for in both cases


# ---------------------------------------------------------------------------------------------
# the API reference the coder prompts carry: its examples must run against the installed packages
# ---------------------------------------------------------------------------------------------
def test_api_reference_examples_run_and_name_only_real_apis(tmp_path, monkeypatch):
    import re
    import warnings
    from pathlib import Path

    import ConfigSpace
    import smac

    text = (Path(__file__).parents[2] / "nodes" / "prompts" / "api_reference.txt").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)  # SMAC writes its output folder into the working directory
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for block in blocks:
            exec(compile(block, "api_reference.txt", "exec"), {})  # our own text, not LLM output
    for line in re.findall(r"from ConfigSpace import \((.*?)\)", text, re.DOTALL):
        for name in re.findall(r"\w+", line):
            assert hasattr(ConfigSpace, name), name
    for name in re.findall(r"\w+", re.search(r"from smac import \((.*?)\)", text, re.DOTALL)[1]):
        assert hasattr(smac, name), name
    assert not hasattr(ConfigSpace, "ParentCondition")


def test_a_cost_cap_without_prices_is_refused_at_config_time():
    with pytest.raises(ValueError, match="llm.max_cost_usd: no prices are known for this endpoint"):
        LLMSettings(provider="openai_compatible", base_url="http://127.0.0.1:1/v1", model="m", max_cost_usd=1.0)
