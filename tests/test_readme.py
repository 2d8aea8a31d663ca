"""The README's Python examples run as pasted, against the sandbox."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_orders.sandbox import Sandbox

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_example_runs(sbx: Sandbox, code: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip()


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2
