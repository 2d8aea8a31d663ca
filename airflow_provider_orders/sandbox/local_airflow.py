"""A real Airflow on loopback: api-server, scheduler, dag-processor and triggerer, each its own process.

Used by the demo and the end-to-end tests. Each component is bound to 127.0.0.1 with its log server off
(``airflow standalone`` would bind its log servers on every interface); SQLite and LocalExecutor.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from airflow_provider_orders.sandbox.process import _direct, loopback_direct

BIN = Path(sys.executable).parent
COMPONENTS = {
    "api-server": ["api-server", "--host", "127.0.0.1"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalAirflow:
    """Airflow in ``home`` with the DAGs of ``dags``; :meth:`start` migrates the database and starts every
    component, :meth:`stop` stops them. :meth:`request` calls the REST API as the admin user."""

    def __init__(self, home: Path, env: dict[str, str], dags: str) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **loopback_direct(env),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": dags,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            # One api-server worker, 3.3's default: 3.0-3.2 start four, each importing all of Airflow, and
            # on a busy 2-core machine the first answer then took over 180 s (CI's 3.0 leg).
            "AIRFLOW__API__WORKERS": "1",
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.token = ""
        #: The admin user's password (Airflow's simple auth manager generates it), for a browser's login.
        self.admin_password = ""

    def start(self) -> None:
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=self.env, check=True, capture_output=True,
                       timeout=300)  # fmt: skip
        for name in COMPONENTS:
            self.start_component(name)
        try:
            self.wait_for(self._api_server_answers, 180, "the api-server")
        except AssertionError as e:
            raise AssertionError(f"{e}; its output ends:\n{self.output('api-server')}") from None
        password = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())[
            "admin"
        ]
        self.admin_password = password
        self.token = self.request("POST", "/auth/token", {"username": "admin", "password": password},
                                  auth=False)["access_token"]  # fmt: skip

    def _api_server_answers(self) -> Any:
        proc = self.procs["api-server"]
        if proc.poll() is not None:
            raise AssertionError(f"the api-server exited ({proc.returncode})")
        return self.request("GET", "/api/v2/monitor/health", auth=False)

    def output(self, name: str, chars: int = 4000) -> str:
        """The end of a component's output (``<home>/<name>.out``), for a failure message."""
        path = self.home / f"{name}.out"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no output)"

    def start_component(self, name: str) -> None:
        """Start one component (its output goes to ``<home>/<name>.out``, appended). A name with a suffix
        after ``#`` starts another of that kind beside the first (``triggerer#2``: a second triggerer)."""
        kind = name.partition("#")[0]
        args = [*COMPONENTS[kind], *(["--port", str(self.port)] if kind == "api-server" else [])]
        with open(self.home / f"{name}.out", "ab") as log:
            # Its own process group: stopping it also stops what it started (the scheduler's
            # LocalExecutor workers outlived it otherwise).
            self.procs[name] = subprocess.Popen([str(BIN / "airflow"), *args], env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def stop_component(self, name: str) -> None:
        """Stop one component as a deployment would (SIGTERM, then SIGKILL after 30 s)."""
        proc = self.procs.pop(name, None)
        if proc is not None:
            proc.terminate()
            _reap(proc)

    def kill_component(self, name: str) -> None:
        """End one component as a crash would: SIGKILL to it and everything it started, no shutdown."""
        proc = self.procs.pop(name, None)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        """Stop every component: SIGTERM to all at once (one each: a second forces an exit), then wait."""
        procs = list(self.procs.values())
        self.procs.clear()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            _reap(proc)

    def request(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with _direct.open(req, timeout=30) as response:
            payload = response.read()
            return (
                json.loads(payload) if payload and payload.strip()[:1] in (b"{", b"[") else payload.decode()
            )

    @staticmethod
    def wait_for(check: Any, seconds: float, what: str) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            try:
                result = check()
                if result:
                    return result
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
            time.sleep(0.5)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Wait for a component stopped with SIGTERM (SIGKILL after 30 s), then end what is left of its group."""
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
