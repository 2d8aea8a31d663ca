"""The Python examples of the README and the docs run as pasted, against the sandbox; the generated
connection pages are what the registry says."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from airflow_provider_orders.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCKS = [
    (page.relative_to(ROOT).as_posix(), i, code)
    for page in PAGES
    for i, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]


@pytest.mark.parametrize(
    ("page", "code"), [(p, c) for p, _, c in BLOCKS], ids=[f"{p}:{i}" for p, i, _ in BLOCKS]
)
def test_python_example_runs_as_pasted(
    sbx: Sandbox, page: str, code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exec(compile(code, page, "exec"), {})
    assert capsys.readouterr().out.strip()


def test_the_readme_and_the_docs_have_examples() -> None:
    assert sum(page == "README.md" for page, _, _ in BLOCKS) >= 2
    assert sum(page.startswith("docs/") for page, _, _ in BLOCKS) >= 5


def test_the_connection_pages_are_generated_from_the_registry() -> None:
    """``python docs/generate.py`` rewrites them: every field of every type, with its default."""
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import generate
    finally:
        sys.path.remove(str(ROOT / "docs"))
    for path, text in generate.pages().items():
        assert path.read_text() == text, f"{path.name} is stale: run python docs/generate.py"
    assert "| `proxy` |" in (ROOT / "docs" / "connections" / "crayon.md").read_text()


def test_the_documented_sandbox_steps_work_as_written(tmp_path: Path) -> None:
    """docs/sandbox.md's two shells, on a free port instead of 8610: the sandbox serves, the second shell's
    exports reach it (every connection lists orders), and nothing there binds the port again."""
    import os
    import subprocess
    import time
    import urllib.request

    from tests.conftest import free_port

    (block,) = re.findall(r"```bash\n(.*?)```", (ROOT / "docs" / "sandbox.md").read_text(), re.S)[:1]
    port = str(free_port())
    serve, _, second = (line.replace("8610", port) for line in block.strip().splitlines())
    command = serve.split("#", 1)[0].split()
    assert command[:3] == ["python", "-m", "airflow_provider_orders.sandbox"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    server = subprocess.Popen([sys.executable, *command[1:]], env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "the sandbox did not start"
                time.sleep(0.1)
        check = (
            "from airflow_provider_orders.hooks.resolve import get_orders_hook; "
            "print(len(get_orders_hook('emnify_default').list_orders()))"
        )
        script = f'{second}\npython -c "{check}"'
        done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip().splitlines()[-1] == "1000"
    finally:
        server.terminate()
        server.wait(timeout=10)
