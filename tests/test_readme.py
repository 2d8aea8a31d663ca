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
