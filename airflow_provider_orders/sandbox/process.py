"""The sandbox in its own process: for tests and benchmarks that must not share a GIL with it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Mapping
from typing import Any

#: Loopback as ``NO_PROXY`` lists it: the sandbox, Airflow's own servers and their clients on this machine.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def loopback_direct(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with loopback added to ``NO_PROXY`` and ``no_proxy``, so that the processes started with it
    (Airflow's own components, whose clients honour the proxy variables) reach the sandbox and each other
    directly when a proxy is set in the environment."""
    out = dict(env)
    for name in ("NO_PROXY", "no_proxy"):
        listed = [entry.strip() for entry in out.get(name, "").split(",") if entry.strip()]
        out[name] = ",".join([*listed, *(host for host in LOOPBACK if host not in listed)])
    return out


#: Requests to the sandbox's control API never go through a proxy from the environment.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SandboxProcess:
    """Runs ``python -m airflow_provider_orders.sandbox --port 0 <args>`` and stops it on exit.

    :param args: sandbox command-line options, for example ``"--orders", "1000"``.
    """

    #: What runs, after ``python``: a module that prints ``{"url": ...}`` as its first line.
    command: tuple[str, ...] = ("-m", "airflow_provider_orders.sandbox", "--port", "0")

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *self.command, *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url: str = json.loads(self.proc.stdout.readline())["url"]

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def control(self, path: str, body: Any = None) -> Any:
        """Call a ``/_sandbox`` control endpoint (POST when ``body`` is given)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/_sandbox{path}", data=data, method="POST" if data else "GET"
        )
        with _direct.open(request, timeout=30) as response:
            return json.loads(response.read())
