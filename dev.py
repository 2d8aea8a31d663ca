#!/usr/bin/env python3
"""The project's two commands, needing only Python 3.10+ and pip.

    python3 dev.py demo    create .venv if needed, install, start the sandbox, list orders from all five vendors
    python3 dev.py test    create .venv if needed, install, then ruff, mypy and the whole pytest suite

the documentation and the packaging check CI runs:

    python3 dev.py docs     build the Sphinx documentation (docs/ -> docs/_build/html), warnings as errors

    python3 dev.py package  build the sdist and the wheel, twine check --strict, install the wheel in a fresh
                            virtualenv, check that Airflow lists the provider and every example DAG imports

and the Airflow release matrix:

    python3 dev.py test --airflow 3.1 [pytest args]   the whole suite on the latest Airflow 3.1 (.venv-airflow-3.1)
    python3 dev.py matrix                             the whole suite on every other release we declare

The virtualenvs are (re)installed when pyproject.toml changes. Set ORDERS_VENV to use another path for
the default one.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
EXTRAS = "test,docs"
# The latest patch of each Airflow minor release pyproject.toml declares; the first is the default.
AIRFLOW_RELEASES = {"3.3": "3.3.2", "3.2": "3.2.2", "3.1": "3.1.8", "3.0": "3.0.6"}
DEFAULT_RELEASE = "3.3"
# Airflow publishes one constraints file per release, on GitHub, which this workplace cannot reach.
# Without it pip takes today's web stack, which the older Airflow cores do not start with. These are the
# pins from those releases' era that the suite showed to matter (each line: what broke without it).
RELEASE_PINS: dict[str, list[str]] = {
    "3.3": [],
    # fastapi 0.137+ builds request bodies 3.2's Execution API routes do not define.
    "3.2": ["fastapi<0.137"],
    # cryptography 51 made MultiFernet a Rust class: 3.0's and 3.1's get_fernet set an attribute on it, so
    # every connection read where a fernet key is configured fails (AttributeError, 'Connection not found').
    "3.1": ["cryptography<51"],
    # 3.0's Execution API answers 422 with newer fastapi/cadwyn/pydantic; PyJWT 2.11+ refuses its token
    # (no issuer); universal-pathlib 0.3 breaks its ObjectStoragePath; cryptography as 3.1.
    "3.0": [
        "fastapi<0.117",
        "cadwyn<6",
        "pydantic<2.12",
        "pyjwt<2.11",
        "universal-pathlib<0.3",
        "cryptography<51",
    ],
}


def venv_for(release: str) -> Path:
    if release == DEFAULT_RELEASE:
        return Path(os.environ.get("ORDERS_VENV", ROOT / ".venv"))
    return ROOT / f".venv-airflow-{release}"


def bin_path(name: str, release: str = DEFAULT_RELEASE) -> str:
    return str(venv_for(release) / ("Scripts" if os.name == "nt" else "bin") / name)


def run(*cmd: str, env: dict[str, str] | None = None) -> int:
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT, env=env)


#: uv installs a release's virtualenv (Airflow and ~300 packages) in seconds where pip took about five
#: minutes, most of CI's time across four releases. It comes from PyPI, into a virtualenv of its own.
UV_REQUIREMENT = "uv>=0.9"


def uv() -> str:
    """The path of ``uv``, installed once into ``.venv-tools`` with pip."""
    tools = ROOT / ".venv-tools"
    exe = tools / ("Scripts" if os.name == "nt" else "bin") / "uv"
    if not exe.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(tools)])
        tool_pip = [str(exe.parent / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.check_call([*tool_pip, UV_REQUIREMENT])
    return str(exe)


def make_venv(venv: Path, *requirements: str) -> None:
    """A virtualenv at ``venv`` (with pip in it, for whoever uses it later) holding ``requirements``."""
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    if not python.exists():
        subprocess.check_call([uv(), "venv", "-q", "--seed", "--python", sys.executable, str(venv)])
    # --compile-bytecode: uv writes no .pyc by default, and in this environment Python writes none either
    # (PYTHONDONTWRITEBYTECODE), so every process compiled Airflow again: 3.7 s an import instead of 1.7 s,
    # in each of the suite's hundreds of Airflow processes. Compiling at install takes seconds.
    if run(uv(), "pip", "install", "-q", "--compile-bytecode", "--python", str(python), *requirements) != 0:
        sys.exit(f"installing into {venv} failed")


def ensure_venv(release: str = DEFAULT_RELEASE) -> None:
    venv = venv_for(release)
    pins = [f"apache-airflow=={AIRFLOW_RELEASES[release]}", *RELEASE_PINS[release]]
    stamp = venv / ".orders-install-stamp"
    # The install command is part of the stamp: a venv made before --compile-bytecode is made again.
    recipe = " ".join([*pins, "--compile-bytecode"]).encode()
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + recipe).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted and Path(bin_path("python", release)).exists():
        return
    make_venv(venv, "-e", f".[{EXTRAS}]", *pins)
    stamp.write_text(wanted)


def ensure_debian_package(command: str, package: str, why: str, *, required: bool = True) -> None:
    """The suite starts real servers and a real browser: install Debian's ``package`` when ``command`` is
    missing and this runs as root (CI); otherwise say how (or, not ``required``, go on without it).
    ``command`` is looked for on PATH, or, where Debian installs PostgreSQL's server programs, in
    ``/usr/lib/postgresql/<version>/bin``."""
    if shutil.which(command) or glob.glob(f"/usr/lib/postgresql/*/bin/{command}"):
        return
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
        if subprocess.call(install, env=env) != 0:
            subprocess.check_call(["apt-get", "update", "-q"], env=env)
            subprocess.check_call(install, env=env)
        return
    if not required:
        return
    sys.exit(
        f"the tests need {command} on PATH ({why}): sudo apt-get install {package} (or your OS's package)"
    )


def env_with_venv(release: str = DEFAULT_RELEASE) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(bin_path("python", release)).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow-home"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    return env


def demo(args: list[str]) -> int:
    ensure_venv()
    # The SQL example loads into a throw-away PostgreSQL where its server is installed, else into SQLite.
    ensure_debian_package("initdb", "postgresql", "the SQL example's database", required=False)
    return run(bin_path("python"), "-m", "airflow_provider_orders.sandbox.demo", *args, env=env_with_venv())


def take_release(args: list[str]) -> tuple[str, list[str]]:
    """``--airflow X.Y`` out of ``args``: the release to test on, and the rest for pytest."""
    if "--airflow" not in args:
        return DEFAULT_RELEASE, args
    at = args.index("--airflow")
    if at + 1 >= len(args) or args[at + 1] not in AIRFLOW_RELEASES:
        sys.exit(f"--airflow takes one of {', '.join(AIRFLOW_RELEASES)}")
    return args[at + 1], args[:at] + args[at + 2 :]


def test(args: list[str]) -> int:
    release, args = take_release(args)
    ensure_venv(release)
    ensure_debian_package("redis-server", "redis-server", "the shared rate budget's tests")
    ensure_debian_package("tinyproxy", "tinyproxy", "the forward proxy of the networking tests")
    # Playwright drives this browser; it never downloads one of its own.
    ensure_debian_package("chromium", "chromium", "the connection form's browser test")
    ensure_debian_package("initdb", "postgresql", "the PostgreSQL server the SQL tests load orders into")
    env = env_with_venv(release)
    env["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="orders-test-home-")
    env["ORDERS_BROWSER"] = "required"
    python = bin_path("python", release)
    print(f"== Airflow {AIRFLOW_RELEASES[release]}", flush=True)
    if release == DEFAULT_RELEASE:
        # Style and types do not depend on the Airflow release: checked once, on the default one.
        steps = [
            [python, "-m", "ruff", "format", "--check", "."],
            [python, "-m", "ruff", "check", "."],
            [python, "-m", "mypy"],
        ]
        for step in steps:
            if run(*step, env=env) != 0:
                return 1
    # Every core, and one worker more: many tests wait on servers and subprocesses (on 2 cores, 3 workers
    # ran the suite in 5:26 where 2 took 5:52). Tests are handed out one by one, except a group that
    # shares a running Airflow (tests/test_airflow_running.py), which one worker runs; the ten slowest at
    # the end.
    workers = str((os.cpu_count() or 1) + 1)
    parallel = ["-n", workers, "--dist", "loadgroup", "--durations", "10"]
    return run(python, "-m", "pytest", *parallel, *args, env=env)


PACKAGE_CHECK = """
import glob, importlib.util, json, os, subprocess, sys
import airflow_provider_orders
from airflow.sdk import DAG
where = os.path.dirname(airflow_provider_orders.__file__)
assert "site-packages" in where, f"the provider was imported from {where}, not the installed wheel"
found = json.loads(subprocess.run([os.path.join(os.path.dirname(sys.executable), "airflow"), "providers", "list",
                                   "-o", "json"], check=True, capture_output=True, text=True).stdout)
versions = {p["package_name"]: p["version"] for p in found}
assert versions.get("airflow-provider-orders") == airflow_provider_orders.__version__, versions
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.py"))):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags = [v.dag_id for v in vars(module).values() if isinstance(v, DAG)]
    assert dags, f"{path} defines no DAG"
    print(f"imports: {os.path.basename(path)} -> {', '.join(dags)}")
print(f"airflow providers list: airflow-provider-orders {airflow_provider_orders.__version__}")
"""


def package(args: list[str]) -> int:
    """Build the sdist and the wheel, check them as PyPI would (``twine check --strict``), look inside them,
    then install the wheel (not the checkout) in a fresh virtualenv: Airflow must list the provider, and
    every example DAG must import."""
    import tarfile
    import zipfile

    ensure_venv()
    python = bin_path("python")
    dist = Path(tempfile.mkdtemp(prefix="orders-dist-"))
    if run(python, "-m", "build", "--outdir", str(dist), str(ROOT)) != 0:
        return 1
    built = sorted(str(p) for p in dist.iterdir() if p.suffix in (".whl", ".gz"))
    if run(python, "-m", "twine", "check", "--strict", *built) != 0:
        return 1
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    names = zipfile.ZipFile(wheel).namelist()
    missing = [want for want in ("licenses/LICENSE", "airflow_provider_orders/py.typed",
                                 "airflow_provider_orders/_provider_info.py")
               if not any(name.endswith(want) for name in names)]  # fmt: skip
    with tarfile.open(sdist) as archive:
        tops = {name.split("/")[1] for name in archive.getnames() if name.count("/") >= 1}
    missing += [f"sdist {d}/" for d in ("tests", "docs", "example_dags", "benchmarks") if d not in tops]
    missing += [f"sdist {f}" for f in ("LICENSE", "CHANGELOG.md") if f not in tops]
    if missing:
        print(f"missing from the built packages: {missing}", flush=True)
        return 1
    venv = dist / "venv"
    venv_python = str(venv / "bin" / "python")
    make_venv(
        venv,
        str(wheel),
        f"apache-airflow=={AIRFLOW_RELEASES[DEFAULT_RELEASE]}",
        *RELEASE_PINS[DEFAULT_RELEASE],
    )
    env = {**os.environ, "AIRFLOW_HOME": str(dist / "airflow-home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    # Run from the dist folder, so that the checkout is not on sys.path: only the wheel can be imported.
    print("+ (in the wheel's virtualenv) check the provider and the example DAGs", flush=True)
    return subprocess.call([venv_python, "-c", PACKAGE_CHECK, str(ROOT / "example_dags")], cwd=dist, env=env)


def docs(args: list[str]) -> int:
    """Build the Sphinx documentation into ``docs/_build/html``, every warning an error."""
    ensure_venv()
    out = ROOT / "docs" / "_build" / "html"
    return run(
        bin_path("python"), "-m", "sphinx", "-W", "--keep-going", "-b", "html", "docs", str(out), *args
    )


def matrix(args: list[str]) -> int:
    """The whole suite on every declared release but the default one (``test`` runs that)."""
    results = {}
    for release in AIRFLOW_RELEASES:
        if release != DEFAULT_RELEASE:
            results[release] = test(["--airflow", release, *args])
    for release, code in results.items():
        print(f"Airflow {AIRFLOW_RELEASES[release]:8} {'passed' if code == 0 else 'FAILED'}", flush=True)
    return max(results.values(), default=0)


def main() -> int:
    commands = {"demo": demo, "test": test, "docs": docs, "package": package, "matrix": matrix}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
