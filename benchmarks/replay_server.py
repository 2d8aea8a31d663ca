"""A page server that is not the bottleneck: the sandbox renders each answer once, this serves it again.

    python -m benchmarks.replay_server [sandbox options]     prints {"url": ..., "upstream": ...}

The throughput scenarios measure clients, so their server must answer far faster than any client reads.
The sandbox builds every page in Python on each request (filters, records, JSON): in a full run the raw
``requests`` loop read only ~22,000 orders/s from it, against ~100,000 from pre-rendered pages.

Here every request is answered from memory by its method, target (path and query) and body: the first
time a request is seen (the warm-up pass of each competitor) it goes to a real sandbox in this process
and its answer is kept byte for byte (status, headers, body); every later one is a dictionary lookup and
one socket write, on an asyncio loop, keep-alive HTTP/1.1 with ``TCP_NODELAY``. ``/_sandbox/...`` control
calls are passed through and never kept. ``GET /_replay/stats`` answers the hits and misses, so a run can
check that nothing timed went upstream.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import socket
import sys
from typing import Any

#: Response headers that describe the upstream connection, not the answer.
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


class ReplayCache:
    """Answers by (method, target, body); misses go to ``upstream`` (host, port) and are kept."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.answers: dict[tuple[bytes, bytes, bytes], bytes] = {}
        self.hits = 0
        self.misses = 0

    def stats(self) -> bytes:
        body = json.dumps({"hits": self.hits, "misses": self.misses, "entries": len(self.answers),
                           "bytes": sum(len(a) for a in self.answers.values())}).encode()  # fmt: skip
        return _response(200, "OK", [("Content-Type", "application/json")], body)

    def keys(self, prefix: bytes) -> bytes:
        """The kept GET targets under ``prefix`` (what the capacity probe asks again)."""
        targets = [t.decode() for m, t, _ in self.answers if m == b"GET" and t.startswith(prefix)]
        return _response(200, "OK", [("Content-Type", "application/json")], json.dumps(targets).encode())

    def fetch(self, method: bytes, target: bytes, headers: list[tuple[str, str]], body: bytes) -> bytes:
        """The upstream's answer to one request, as bytes to send (blocking: runs in a thread)."""
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            kept = [(k, v) for k, v in headers if k.lower() not in ("connection", "host", "content-length")]
            conn.putrequest(method.decode(), target.decode(), skip_accept_encoding=True)
            for key, value in kept:
                conn.putheader(key, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            answer = conn.getresponse()
            payload = answer.read()
            out = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_HEADERS]
            return _response(answer.status, answer.reason, out, payload)
        finally:
            conn.close()


def _response(status: int, reason: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class ReplayProtocol(asyncio.Protocol):
    """One client connection: requests parsed from the byte stream, answered in order."""

    def __init__(self, cache: ReplayCache) -> None:
        self.cache = cache
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.queue: asyncio.Queue[tuple[bytes, bytes, list[tuple[str, str]], bytes, bool] | None] = (
            asyncio.Queue()
        )
        self.worker: asyncio.Task[None] | None = None
        #: Requests queued or being answered: a later one must not overtake them.
        self.pending = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.worker = asyncio.get_running_loop().create_task(self.answer())

    def connection_lost(self, exc: Exception | None) -> None:
        self.queue.put_nowait(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buffer[:end].split(b"\r\n")
            method, target, _ = lines[0].split(b" ", 2)
            headers = []
            length = 0
            close = False
            for line in lines[1:]:
                key, _, value = line.decode("latin-1").partition(":")
                key, value = key.strip(), value.strip()
                headers.append((key, value))
                if key.lower() == "content-length":
                    length = int(value)
                elif key.lower() == "connection" and value.lower() == "close":
                    close = True
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            cache = self.cache
            key3 = (method, target, body)
            answer = cache.answers.get(key3) if self.pending == 0 else None
            if answer is not None and not target.startswith(b"/_sandbox"):
                # The fast path: nothing ahead of it in the queue, answered at once.
                cache.hits += 1
                assert self.transport is not None
                self.transport.write(answer)
                if close:
                    self.transport.close()
                continue
            self.pending += 1
            self.queue.put_nowait((method, target, headers, body, close))

    async def answer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self.queue.get()
            if item is None or self.transport is None or self.transport.is_closing():
                return
            method, target, headers, body, close = item
            cache = self.cache
            if target == b"/_replay/stats":
                answer = cache.stats()
            elif target.startswith(b"/_replay/keys"):
                answer = cache.keys(target.partition(b"?prefix=")[2])
            elif (method, target, body) in cache.answers and not target.startswith(b"/_sandbox"):
                cache.hits += 1
                answer = cache.answers[(method, target, body)]
            else:
                answer = await loop.run_in_executor(None, cache.fetch, method, target, headers, body)
                if not target.startswith(b"/_sandbox"):
                    cache.misses += 1
                    cache.answers[(method, target, body)] = answer
            self.pending -= 1
            self.transport.write(answer)
            if close:
                self.transport.close()
                return


async def serve(cache: ReplayCache, ready: Any) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ReplayProtocol(cache), "127.0.0.1", 0, backlog=256)
    ready(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    from airflow_provider_orders.sandbox import Sandbox, SandboxConfig

    parser = argparse.ArgumentParser(prog="python -m benchmarks.replay_server", description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--granite-rpm", type=int, default=60, help="Granite's limit while rendering")
    args = parser.parse_args(argv)
    config = SandboxConfig(orders=args.orders, latency_ms=args.latency_ms, granite_rpm=args.granite_rpm)
    sandbox = Sandbox(config).start()
    cache = ReplayCache((sandbox.host, sandbox.port))

    def ready(port: int) -> None:
        print(json.dumps({"url": f"http://127.0.0.1:{port}", "upstream": sandbox.url}), flush=True)

    try:
        asyncio.run(serve(cache, ready))
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
