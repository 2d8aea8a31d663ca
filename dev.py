#!/usr/bin/env python3
"""The project's two commands, needing only Python 3.10+ and pip.

    python3 dev.py demo    create .venv if needed, install, start the sandbox, list orders from all five vendors
    python3 dev.py test    create .venv if needed, install, then ruff, mypy and the whole pytest suite

The virtualenv is (re)installed when pyproject.toml changes. Set ORDERS_VENV to use another path.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("ORDERS_VENV", ROOT / ".venv"))
# The Airflow release this project is tested against; pyproject.toml allows any 3.x.
AIRFLOW_PIN = "apache-airflow==3.3.2"
EXTRAS = "test"


def bin_path(name: str) -> str:
    return str(VENV / ("Scripts" if os.name == "nt" else "bin") / name)


def run(*cmd: str, env: dict[str, str] | None = None) -> int:
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT, env=env)


def ensure_venv() -> None:
    if not Path(bin_path("python")).exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    stamp = VENV / ".orders-install-stamp"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + AIRFLOW_PIN.encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    pip = [bin_path("python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if run(*pip, "-e", f".[{EXTRAS}]", AIRFLOW_PIN) != 0:
        sys.exit("pip install failed")
    stamp.write_text(wanted)


def env_with_venv() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(bin_path("python")).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow-home"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    return env


def demo(args: list[str]) -> int:
    ensure_venv()
    return run(bin_path("python"), "-m", "airflow_provider_orders.sandbox.demo", *args, env=env_with_venv())


def test(args: list[str]) -> int:
    ensure_venv()
    env = env_with_venv()
    env["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="orders-test-home-")
    python = bin_path("python")
    steps = [
        [python, "-m", "ruff", "format", "--check", "."],
        [python, "-m", "ruff", "check", "."],
        [python, "-m", "mypy"],
    ]
    for step in steps:
        if run(*step, env=env) != 0:
            return 1
    return run(python, "-m", "pytest", *args, env=env)


def main() -> int:
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
