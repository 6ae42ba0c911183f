"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 (stdlib only, no model): it answers each request
with `answer(prompt) -> text`, so a known model output (a constant, the gold answer written in the prompt's format,
a scale slip) can be run through the real `lm_eval` CLI, HTTP client included."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def answer_server(answer: Callable[[str], str]):
    """Yields the chat-completions URL; the prompt is the content of the last user message."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            users = [m for m in body.get("messages", []) if m.get("role") == "user"]
            prompt = users[-1]["content"] if users else ""
            if isinstance(prompt, list):  # content parts
                prompt = "".join(p.get("text", "") for p in prompt)
            try:
                text, status = answer(prompt), 200
            except KeyError:
                text, status = "", 404
            payload = {
                "id": "scripted",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "scripted"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            }
            if status != 200:
                payload = {"error": {"message": "unknown prompt", "type": "invalid_request_error"}}
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
