"""A fault-injecting HTTP/1.1 proxy on loopback (test infrastructure): real TCP between the client and a real
upstream server, with a seeded fault schedule on the POST requests.

Faults: `429` (rate limited, with Retry-After), `500`, `drop` (connection closed before anything is forwarded),
`cut` (forwarded upstream, then the connection is cut halfway through relaying the answer), `delay` (answered late),
`stall` (answered after longer than the client's timeout). The k-th new request gets `pattern[k % len(pattern)]`
(the pattern is shuffled by the seed, so every fault kind in it occurs once per cycle); a retry of a faulted request
is rate limited again with probability `retry_429` (seeded per request body); a request is faulted at most
`max_faults` times, so a client that retries often enough always gets its answer.

The proxy counts, per request body (sha256): what was forwarded upstream and what was answered with a complete 200,
so a test can tell exactly which requests reached the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, field

FAULTS = ("429", "500", "drop", "cut", "delay", "stall")


@dataclass
class Stats:
    attempts: int = 0
    faults: Counter = field(default_factory=Counter)
    upstream: list[str] = field(default_factory=list)  # body digests forwarded to the server (incl. cut ones)
    answered: list[str] = field(default_factory=list)  # body digests answered with a complete 200


class FaultProxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        seed: int = 0,
        pattern: list[str | None] | None = None,
        retry_429: float = 0.3,
        max_faults: int = 2,
        delay_s: float = 1.0,
        stall_s: float = 12.0,
    ):
        self.upstream_port = upstream_port
        pattern = list(pattern if pattern is not None else [None] * 4 + list(FAULTS))
        random.Random(seed).shuffle(pattern)
        self.pattern, self.seed, self.retry_429 = pattern, seed, retry_429
        self.max_faults, self.delay_s, self.stall_s = max_faults, delay_s, stall_s
        self.stats = Stats()
        self._seen: Counter = Counter()  # digest -> attempts so far
        self._faulted: Counter = Counter()  # digest -> faults so far
        self._new = 0
        self._lock = threading.Lock()
        self.port: int | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # -- control (from the test's thread) ---------------------------------------------------------------------------
    def start(self) -> int:
        self._thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result(10)
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        return self.port

    def stop(self) -> None:
        async def close():
            self._server.close()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in pending:  # stalled or delayed handlers
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def reset(self, pattern: list[str | None] | None = None) -> Stats:
        """Start counting afresh (optionally with a new pattern); returns the stats so far."""
        with self._lock:
            old, self.stats = self.stats, Stats()
            self._seen.clear()
            self._faulted.clear()
            self._new = 0
            if pattern is not None:
                self.pattern = list(pattern)
        return old

    # -- the proxy --------------------------------------------------------------------------------------------------
    def _choose(self, digest: str) -> str | None:
        with self._lock:
            self.stats.attempts += 1
            attempt = self._seen[digest]
            self._seen[digest] += 1
            if self._faulted[digest] >= self.max_faults:
                return None
            if attempt == 0:
                fault = self.pattern[self._new % len(self.pattern)] if self.pattern else None
                self._new += 1
            else:
                rng = random.Random(f"{self.seed}:{digest}:{attempt}")
                fault = "429" if rng.random() < self.retry_429 else None
            if fault:
                self._faulted[digest] += 1
                self.stats.faults[fault] += 1
            return fault

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method = lines[0].split(" ", 1)[0]
            headers = [ln for ln in lines[1:] if ln]
            length = next((int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0)
            body = await reader.readexactly(length) if length else b""
            fault = self._choose(hashlib.sha256(body).hexdigest()) if method == "POST" else None
            digest = hashlib.sha256(body).hexdigest()
            if fault == "drop":
                return
            if fault in ("429", "500"):
                status = "429 Too Many Requests" if fault == "429" else "500 Internal Server Error"
                msg = json.dumps({"error": {"message": f"injected {fault}", "type": "fault_proxy"}}).encode()
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(msg)}\r\n"
                    f"Retry-After: 1\r\nConnection: close\r\n\r\n".encode()
                    + msg
                )
                await writer.drain()
                return
            if fault in ("delay", "stall"):
                await asyncio.sleep(self.delay_s if fault == "delay" else self.stall_s)
            response = await self._forward(lines[0], headers, body, digest if method == "POST" else None)
            if fault == "cut":
                writer.write(response[: len(response) // 2])
                await writer.drain()
                return
            writer.write(response)
            await writer.drain()
            if method == "POST" and response.split(b" ", 2)[1:2] == [b"200"]:
                self._answered(digest)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _forward(self, request_line: str, headers: list[str], body: bytes, digest: str | None) -> bytes:
        r, w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        kept = [h for h in headers if not h.lower().startswith(("connection:", "keep-alive:"))]
        w.write(("\r\n".join([request_line, *kept, "Connection: close"]) + "\r\n\r\n").encode("latin-1") + body)
        await w.drain()
        if digest is not None:
            with self._lock:
                self.stats.upstream.append(digest)
        data = await r.read()
        w.close()
        return data

    def _answered(self, digest: str) -> None:
        with self._lock:
            self.stats.answered.append(digest)
