"""A real chat-completions HTTP server on loopback, for testing the OpenAI-compatible backend.

The server plays a "suspect" whose answer to each elicitation question is fixed by a
65-long feature vector: for probe ``i`` with feature ``d`` it answers " Yes" when ``d > 0``,
and its top log-probabilities are ``{" Yes": log sigmoid(d), " No": log sigmoid(-d)}``, so that
``log P(yes) - log P(no) = d`` exactly. Which vector it plays is chosen by the request's
``model`` field (see ``ChatServer.suspects``).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from scientist.monitors import load_probes


class ChatServer:
    """State and knobs of the test server; read by the handler thread(s)."""

    def __init__(self) -> None:
        self.suspects: dict[str, list[float]] = {}
        self.logprobs_mode = "full"  # "full" | "ignore" (logprobs: null) | "reject" (HTTP 400)
        self.fail_statuses: list[int] = []  # statuses to return, one per request, first
        self.retry_after: str | None = None
        self.delays: list[float] = []  # seconds to stall, one per request, first
        self.raw_reply: bytes | None = None  # send these bytes instead of a completion
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.probe_index = {p.text: i for i, p in enumerate(load_probes())}
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reply(self, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.requests.append(body)
            delay = self.delays.pop(0) if self.delays else 0.0
            status = self.fail_statuses.pop(0) if self.fail_statuses else 200
        if delay:
            time.sleep(delay)
        if status != 200:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            error = {"error": {"message": f"simulated failure {status}"}}
            return status, headers, json.dumps(error).encode()
        if self.raw_reply is not None:
            return 200, {}, self.raw_reply
        if body.get("model") not in self.suspects:
            error = {"error": {"message": f"model {body.get('model')!r} not found"}}
            return 404, {}, json.dumps(error).encode()
        wants_logprobs = bool(body.get("logprobs"))
        if wants_logprobs and self.logprobs_mode == "reject":
            error = {"error": {"message": "logprobs is not supported by this server"}}
            return 400, {}, json.dumps(error).encode()
        question = body["messages"][-1]["content"]
        d = self.suspects[body["model"]][self.probe_index[question]]
        log_yes = -math.log1p(math.exp(-d)) if d > -30 else d
        log_no = -math.log1p(math.exp(d)) if d < 30 else -d
        answer = " Yes" if d > 0 else " No"
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": answer.strip() + ", I think."},
            "finish_reason": "stop",
            "logprobs": None,
        }
        if wants_logprobs and self.logprobs_mode == "full":
            top = [{"token": " Yes", "logprob": log_yes}, {"token": " No", "logprob": log_no}]
            top.sort(key=lambda t: -t["logprob"])
            choice["logprobs"] = {
                "content": [
                    {"token": answer, "logprob": max(log_yes, log_no), "top_logprobs": top},
                    {"token": ",", "logprob": -0.01, "top_logprobs": []},
                ]
            }
        document = {"id": "x", "object": "chat.completion", "choices": [choice]}
        return 200, {}, json.dumps(document).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # parallel clients must not overflow the listen backlog


def _handler(state: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/v1/chat/completions":
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            with state.lock:
                state.headers.append(dict(self.headers.items()))
            status, headers, payload = state.reply(body)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """Start the server on a free loopback port in a thread; stop it after the test."""
    state = ChatServer()
    server = _Server(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
