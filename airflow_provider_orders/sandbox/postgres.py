"""A throw-away PostgreSQL server for the demo and the tests: Debian's ``postgresql`` (``python3 dev.py
test`` installs it), ``initdb`` in a temporary directory, listening on a free loopback port, removed when
stopped.

``initdb`` and ``pg_ctl`` refuse to run as root (CI runs as root): there they run as the ``postgres``
user that Debian's package creates, with the data and socket directories owned by it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from airflow_provider_orders.sandbox.local_airflow import free_port


def postgres_bin() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: on PATH, or Debian's ``/usr/lib/postgresql/<n>/bin``."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


class PostgresServer:
    """One PostgreSQL cluster on ``127.0.0.1:<port>``, user ``orders`` (trust auth), database ``orders``."""

    user = "orders"
    database = "orders"

    def __init__(self) -> None:
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError(
                "PostgreSQL's server is not installed: sudo apt-get install postgresql "
                "(python3 dev.py test installs it when run as root)"
            )
        self.bin = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="orders-postgres-"))
        self.data = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "start")  # fmt: skip
        with self.connect("postgres") as conn:
            conn.autocommit = True
            conn.execute(f"CREATE DATABASE {self.database}")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self, database: str | None = None) -> Any:
        """A psycopg connection to ``database`` (default: the server's ``orders``)."""
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                return psycopg.connect(
                    host="127.0.0.1", port=self.port, user=self.user, dbname=database or self.database
                )
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def airflow_uri(self) -> str:
        """The server as an Airflow ``postgres`` connection URI."""
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{self.database}"
