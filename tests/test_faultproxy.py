"""The fault-injecting proxy itself, in front of a real stdlib HTTP server on loopback: each fault kind reaches the
client as it would from a real API (status, dropped or cut connection, lateness), and the counts say exactly what
reached the server."""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from faultproxy import FaultProxy


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        out = json.dumps({"echo": json.loads(body), "pad": "x" * 2000}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def post(port: int, n: int, timeout: float = 5.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST", "/v1/chat/completions", body=json.dumps({"n": n}), headers={"Content-Type": "application/json"}
        )
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_each_fault_kind_then_a_clean_retry(upstream):
    proxy = FaultProxy(
        upstream, pattern=["429", "500", "drop", "cut", "delay", "stall", None], retry_429=0.0, delay_s=0.2, stall_s=3.0
    )
    random_order = list(proxy.pattern)  # the seed shuffles the pattern: read back which request gets which fault
    port = proxy.start()
    try:
        for n, fault in enumerate(random_order):
            if fault in ("429", "500"):
                assert post(port, n)[0] == int(fault)
            elif fault == "drop":
                with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
                    post(port, n)
            elif fault == "cut":
                with pytest.raises((http.client.IncompleteRead, ValueError)):
                    post(port, n)
            elif fault == "stall":
                with pytest.raises(TimeoutError):
                    post(port, n, timeout=1.0)
            else:  # None or delay: answered
                assert post(port, n) == (200, {"echo": {"n": n}, "pad": "x" * 2000})
            if fault is not None:  # the retry of a faulted request goes through (retry_429=0)
                assert post(port, n)[0] == 200
    finally:
        proxy.stop()
    stats = proxy.stats
    assert dict(stats.faults) == {k: 1 for k in ("429", "500", "drop", "cut", "delay", "stall")}
    # forwarded: every request once, plus its retry when the first try was cut or stalled (those reached the server)
    assert len(stats.upstream) == len(random_order) + 2
    assert len(set(stats.answered)) == len(random_order)  # every request got one complete answer in the end
