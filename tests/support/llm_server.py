"""A local OpenAI-compatible server for tests: `/v1/chat/completions` and `/v1/embeddings` over
real HTTP, answered from scripted replies (a queue, then a function of the request), with every
request recorded and faults on demand (429 + Retry-After, 500, slow, malformed, truncated)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHARS_PER_TOKEN = 4  # the server's own token counter: the usual four characters a token


def count_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


@dataclass
class Reply:
    """One scripted HTTP answer. `body` is JSON (a dict) or raw bytes; `delay` is waited first."""

    status: int = 200
    body: dict[str, Any] | bytes = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def completion(content: str, finish_reason: str = "stop", usage: tuple[int, int] | None = None) -> Reply:
    """A chat completion; usage defaults to the server's own count (filled in when served)."""
    body: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
    }
    if usage is not None:
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    return Reply(body=body)


def truncated(content: str) -> Reply:
    """An answer cut off by the token limit."""
    return completion(content[: max(1, len(content) // 2)], finish_reason="length")


def error(status: int, message: str, headers: dict[str, str] | None = None, code: str | None = None) -> Reply:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return Reply(status, {"error": {"message": message, "type": kind, "code": code}}, headers or {})


def rate_limited(retry_after: float = 0.01) -> Reply:
    return error(429, "Rate limit reached, slow down", {"Retry-After": f"{retry_after:g}"})


def server_error() -> Reply:
    return error(500, "The server had an error while processing your request")


def slow(seconds: float, then: Reply | None = None) -> Reply:
    reply = then or completion("{}")
    return Reply(reply.status, reply.body, reply.headers, delay=seconds)


def malformed() -> Reply:
    """A 200 whose body is not JSON at all (a broken proxy, a crashed worker)."""
    return Reply(body=b'{"id": "chatcmpl-test", "choices": [{"message": ')


def hashed_embedding(text: str, dimension: int) -> list[float]:
    """A deterministic bag-of-words vector: texts sharing words point the same way."""
    vector = [0.0] * dimension
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        index = int.from_bytes(digest[:4], "little") % dimension
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0:
        vector[0], norm = 1.0, 1.0
    return [x / norm for x in vector]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


ChatModel = Callable[[dict[str, Any]], Reply]


class LLMServer:
    """Start with `with LLMServer() as server:`; point the client at `server.base_url`.

    Chat replies come from `chat_queue` first, then from `chat_model(request_body)`.
    Embedding replies come from `embedding_queue` first, then from hashed embeddings."""

    def __init__(self, embedding_dimension: int = 64) -> None:
        self.embedding_dimension = embedding_dimension
        self.chat_queue: deque[Reply] = deque()
        self.embedding_queue: deque[Reply] = deque()
        self.chat_model: ChatModel | None = None
        self.reject_formats: set[str] = set()  # response_format types answered with a 400
        self.api_key: str | None = None  # when set, other keys get a 401 that echoes them
        self.models: set[str] | None = None  # when set, other models get a 404
        self.latency = 0.0  # seconds every chat answer waits, on top of its own delay
        self.requests: list[Recorded] = []
        self.model_errors: list[Exception] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        # A short poll interval: shutdown() waits for the loop to notice, 0.5 s by default.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> LLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def script(self, *replies: Reply) -> None:
        """Queue chat replies, served in order before `chat_model` is asked."""
        self.chat_queue.extend(replies)

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    def embedding_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.endswith("/embeddings")]

    # --- answering ------------------------------------------------------------------------------

    def answer(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(Recorded(path, headers, body))
        auth = headers.get("authorization", "")
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            given = auth.removeprefix("Bearer ")
            return error(401, f"Incorrect API key provided: {given}.", code="invalid_api_key")
        if self.models is not None and body.get("model") not in self.models:
            return error(404, f"The model `{body.get('model')}` does not exist", code="model_not_found")
        if path.endswith("/chat/completions"):
            return self._chat(body)
        if path.endswith("/embeddings"):
            return self._embeddings(body)
        return error(404, f"unknown path {path}")

    def _chat(self, body: dict[str, Any]) -> Reply:
        kind = (body.get("response_format") or {}).get("type")
        if kind in self.reject_formats:
            return error(400, f"response_format of type '{kind}' is not supported by this model")
        with self._lock:
            reply = self.chat_queue.popleft() if self.chat_queue else None
        if reply is None:
            if self.chat_model is None:
                return error(500, "no scripted reply left")
            try:
                reply = self.chat_model(body)
            except Exception as failure:  # a bug in a test's model: report it, do not hang up
                self.model_errors.append(failure)
                return error(500, f"the scripted model failed: {failure!r}")
        if isinstance(reply.body, dict) and "choices" in reply.body and "usage" not in reply.body:
            prompt = sum(count_tokens(str(m.get("content", ""))) for m in body.get("messages", []))
            answer = sum(count_tokens(c["message"]["content"] or "") for c in reply.body["choices"])
            usage = {"prompt_tokens": prompt, "completion_tokens": answer, "total_tokens": prompt + answer}
            reply = Reply(reply.status, {**reply.body, "usage": usage}, reply.headers, reply.delay)
        if self.latency:
            reply = Reply(reply.status, reply.body, reply.headers, reply.delay + self.latency)
        return reply

    def _embeddings(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            reply = self.embedding_queue.popleft() if self.embedding_queue else None
        if reply is not None:
            return reply
        texts = body.get("input", [])
        texts = [texts] if isinstance(texts, str) else texts
        dimension = int(body.get("dimensions") or self.embedding_dimension)
        data = []
        for i, text in enumerate(texts):
            vector = hashed_embedding(str(text), dimension)
            if body.get("encoding_format") == "base64":
                packed: Any = base64.b64encode(struct.pack(f"<{dimension}f", *vector)).decode()
            else:
                packed = vector
            data.append({"object": "embedding", "index": i, "embedding": packed})
        tokens = sum(count_tokens(str(t)) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return Reply(body={"object": "list", "data": data, "model": body.get("model"), "usage": usage})

    def wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        # Without this, Nagle's algorithm and delayed ACKs add ~40 ms to every call.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, address


def _handler_for(server: LLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = server.answer(self.path, headers, body)
            if reply.delay:
                server.wait(reply.delay)
            payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler
