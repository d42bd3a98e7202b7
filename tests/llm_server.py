"""A scripted OpenAI-compatible chat server on loopback, for tests of the real ChatOpenAI.

`POST /v1/chat/completions` answers from a script: a queue of `Reply` objects (or callables
that take the request body and return a `Reply`), or one function used for every request.
Plain requests get a chat.completion JSON with usage; `"stream": true` gets SSE chunks and, when
`stream_options.include_usage` is set, a final usage chunk. Every request is recorded
(`server.requests`) with its headers and JSON body so tests can assert what the client sent.

    with ScriptedLLMServer() as server:
        server.push(Reply.error(429, headers={"Retry-After": "0"}), Reply.text("hi"))
        ChatOpenAI(base_url=server.base_url, api_key="k", model="m").invoke("hello")
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Reply:
    """One scripted answer: a chat completion (content) or an HTTP error (status != 200)."""

    content: str = ""
    status: int = 200
    error_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"
    delay: float = 0.0
    html: str | None = None  # a 200 whose body is not JSON (a proxy's or captive portal's page)

    @classmethod
    def text(cls, content: str, **kw: Any) -> Reply:
        return cls(content=content, **kw)

    @classmethod
    def json(cls, obj: Any, **kw: Any) -> Reply:
        return cls(content=json.dumps(obj), **kw)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "scripted error",
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        err = {"message": message, "type": "scripted_error", "param": None, "code": code}
        return cls(status=status, error_body=err, headers=headers or {})

    @classmethod
    def page(cls, html: str = "<html><body>Gateway login required</body></html>") -> Reply:
        return cls(html=html)

    @classmethod
    def context_length(cls, limit: int = 4096) -> Reply:
        """The 400 that OpenAI (and vLLM, in similar words) sends for a prompt that is too long."""
        return cls.error(
            400,
            f"This model's maximum context length is {limit} tokens. However, your messages "
            f"resulted in {limit + 1000} tokens. Please reduce the length of the messages.",
            code="context_length_exceeded",
        )


Script = Callable[[dict[str, Any]], Reply]


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def prompt_text(self) -> str:
        """All message contents joined, to assert what the model was told."""
        parts = []
        for m in self.messages:
            c = m.get("content")
            parts.append(c if isinstance(c, str) else json.dumps(c))
        return "\n".join(parts)


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ScriptedLLMServer:
    """OpenAI-compatible chat completions on 127.0.0.1 at a free port, answering from a script."""

    def __init__(self, script: Script | None = None, stream_chunk_chars: int = 7) -> None:
        self.script = script
        self.queue: deque[Reply | Script] = deque()
        self.requests: list[RecordedRequest] = []
        self.stream_chunk_chars = stream_chunk_chars
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> ScriptedLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- scripting -----------------------------------------------------------------------------
    def push(self, *replies: Reply | Script) -> None:
        with self._lock:
            self.queue.extend(replies)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            item = self.queue.popleft() if self.queue else None
        if item is None:
            if self.script is None:
                # 418 is not retried by any client: a test that runs out of script fails fast.
                return Reply.error(418, "scripted server: no reply left in the script")
            item = self.script
        return item(body) if callable(item) else item

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"_raw": raw.decode(errors="replace")}
                headers = {k.lower(): v for k, v in self.headers.items()}
                server._record(RecordedRequest(self.path, headers, body))
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                reply = server._next_reply(body)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.html is not None:
                    data = reply.html.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif reply.status != 200:
                    self._send_json(reply.status, {"error": reply.error_body}, reply.headers)
                elif body.get("stream"):
                    self._send_stream(body, reply)
                else:
                    self._send_json(200, server._completion(body, reply), reply.headers)

            def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _send_stream(self, body: dict[str, Any], reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in server._chunks(body, reply):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler

    # -- response bodies -----------------------------------------------------------------------
    def _usage(self, body: dict[str, Any], reply: Reply) -> dict[str, int]:
        prompt = reply.prompt_tokens
        if prompt is None:
            prompt = sum(_estimate_tokens(json.dumps(m)) for m in body.get("messages", []))
        completion = reply.completion_tokens
        if completion is None:
            completion = _estimate_tokens(reply.content)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content},
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": self._usage(body, reply),
        }

    def _chunks(self, body: dict[str, Any], reply: Reply) -> Iterator[dict[str, Any]]:
        base = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
        }
        n = self.stream_chunk_chars
        pieces = [reply.content[i : i + n] for i in range(0, len(reply.content), n)] or [""]
        for i, piece in enumerate(pieces):
            delta: dict[str, Any] = {"content": piece}
            if i == 0:
                delta["role"] = "assistant"
            yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        yield {
            **base,
            "choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}],
        }
        if (body.get("stream_options") or {}).get("include_usage"):
            yield {**base, "choices": [], "usage": self._usage(body, reply)}


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    """A running scripted server; push replies onto it, read `.requests` afterwards."""
    with ScriptedLLMServer() as server:
        yield server
