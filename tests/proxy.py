"""A real forward proxy on loopback for the networking tests: Debian's tinyproxy, started by the test.

Tinyproxy runs in a mount namespace of its own whose ``/etc/hosts`` also names :data:`VENDOR_HOST`
(127.0.0.1). Nothing else on the machine resolves that name, so a vendor reached by it can only be reached
through the proxy: a request that bypassed the proxy could not succeed. (Every name is resolved on the
machine, never by a DNS server.) :func:`resolving` runs a command in a namespace that resolves the name
too, for the cases where the request should go direct (``NO_PROXY``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

from airflow_provider_orders.sandbox.local_airflow import free_port

#: The vendor's name: only the proxy (and :func:`resolving`) resolve it.
VENDOR_HOST = "vendor.orders.test"


def hosts_file(directory: Path) -> Path:
    """An ``/etc/hosts`` that names :data:`VENDOR_HOST` besides ``localhost``."""
    path = directory / "hosts"
    path.write_text(f"127.0.0.1 localhost\n::1 localhost\n127.0.0.1 {VENDOR_HOST}\n")
    return path


def resolving(directory: Path, command: list[str]) -> list[str]:
    """``command`` in a mount namespace where :data:`VENDOR_HOST` resolves (``unshare``; as root in CI, in
    a user namespace elsewhere)."""
    if shutil.which("unshare") is None:
        raise RuntimeError(
            "the networking tests need unshare (util-linux) to give the proxy its own hosts file"
        )
    hosts = hosts_file(directory)
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
    script = 'mount --bind "$0" /etc/hosts && exec "$@"'
    return [*unshare, "sh", "-c", script, str(hosts), *command]


class Tinyproxy:
    """Tinyproxy on 127.0.0.1, with Basic authentication where ``auth`` is given.

    :param directory: where its configuration, hosts file and log go.
    :param auth: ``(user, password)`` the proxy demands (407 otherwise).
    """

    def __init__(self, directory: Path, auth: tuple[str, str] | None = None) -> None:
        if shutil.which("tinyproxy") is None:
            raise RuntimeError("the networking tests need tinyproxy: apt-get install tinyproxy (dev.py does)")
        self.directory = directory
        self.port = free_port()
        self.log_path = directory / "tinyproxy.log"
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 30",
            f'LogFile "{self.log_path}"',
            "LogLevel Connect",
            f'PidFile "{directory / "tinyproxy.pid"}"',
            "MaxClients 64",
            "Allow 127.0.0.1",
        ]
        if auth is not None:
            lines.append(f"BasicAuth {auth[0]} {auth[1]}")
        self.config = directory / "tinyproxy.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Tinyproxy:
        command = resolving(self.directory, ["tinyproxy", "-d", "-c", str(self.config)])
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    err = self._process.stderr.read().decode() if self._process.stderr else ""
                    self.__exit__()
                    raise RuntimeError(f"tinyproxy did not start: {err[-2000:]}") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def requests(self) -> list[str]:
        """The request lines the proxy received, in order: ``CONNECT vendor.orders.test:443 HTTP/1.1``,
        ``GET http://... HTTP/1.1``."""
        text = self.log_path.read_text() if self.log_path.exists() else ""
        return re.findall(r"Request \(file descriptor \d+\): (.+)", text)

    def tunnels_to(self, host: str, port: int) -> int:
        """How many ``CONNECT host:port`` tunnels the proxy was asked for."""
        return sum(line.startswith(f"CONNECT {host}:{port} ") for line in self.requests())
