"""How many answers a page server gives per second, asked by clients that cost almost nothing.

    python -m benchmarks.capacity_probe --url URL --prefix /crayon/ --seconds 2 --clients 2

Each client is its own process with one keep-alive socket: it sends the next kept GET target (from
``/_replay/keys``), reads the answer by its ``Content-Length`` and parses nothing else. The sum over the
clients is the server's capacity on this machine, printed beside each throughput result: a client's rate
means something only while it stays well under it. Prints ``{"requests", "seconds", "bytes"}``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import sys
import time
import urllib.parse
import urllib.request


def one_client(host: str, port: int, targets: list[str], seconds: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    requests = [f"GET {t} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode() for t in targets]
    done = received = 0
    buffer = b""
    stop = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < stop:
        sock.sendall(requests[done % len(requests)])
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += sock.recv(1 << 20)
        head = buffer[:end].lower()
        at = head.index(b"content-length:") + 15
        length = int(head[at : head.index(b"\r\n", at) if b"\r\n" in head[at:] else len(head)])
        need = end + 4 + length
        while len(buffer) < need:
            buffer += sock.recv(max(1 << 20, need - len(buffer)))
        received += need
        buffer = buffer[need:]
        done += 1
    out.put((done, time.perf_counter() - started, received))
    sock.close()


def measure(url: str, prefix: str, seconds: float, clients: int) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/_replay/keys?prefix={urllib.parse.quote(prefix)}", timeout=30) as r:
        targets = json.loads(r.read())
    assert targets, f"nothing kept under {prefix}: run a warm-up listing first"
    parts = urllib.parse.urlsplit(url)
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [multiprocessing.Process(target=one_client, args=(parts.hostname, parts.port, targets, seconds, queue))
             for _ in range(clients)]  # fmt: skip
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join()
    return {
        "requests": sum(r[0] for r in results),
        "seconds": max(r[1] for r in results),
        "bytes": sum(r[2] for r in results),
        "per_second": sum(r[0] / r[1] for r in results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity_probe", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--prefix", default="/")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.url, args.prefix, args.seconds, args.clients)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
