"""Test infrastructure: a small OpenAI-compatible chat-completions server on 127.0.0.1 (stdlib http.server in a
thread) that answers every request with the same text, counts the requests and records the headers it got, and can
be slowed down (`delay_s`) so a test can interrupt a client mid-run."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeAPI:
    def __init__(self, answer: str = "positive", delay_s: float = 0.0):
        self.answer, self.delay_s = answer, delay_s
        self.completions = 0  # POST /chat/completions answered
        self.authorizations: list[str] = []
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with api._lock:
                    api.completions += 1
                    api.authorizations.append(self.headers.get("Authorization") or "")
                if api.delay_s:
                    time.sleep(api.delay_s)
                self._send(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": body.get("model", "fake-model"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": api.answer},
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
                    }
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1/chat/completions"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
