"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build/html`` (``python3 dev.py docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_provider_orders import __version__  # noqa: E402

project = "airflow-provider-orders"
author = "airflow-provider-orders contributors"
copyright = "airflow-provider-orders contributors"
version = release = __version__

extensions = ["myst_parser", "autoapi.extension"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "generate.py"]

# The API reference, generated from the docstrings without importing the package.
autoapi_dirs = [str(ROOT / "airflow_provider_orders")]
autoapi_root = "api"
autoapi_ignore = ["*/_provider_info.py", "*/__main__.py"]
autoapi_options = ["members", "undoc-members", "show-inheritance", "show-module-summary", "imported-members"]
autoapi_keep_files = False
autoapi_add_toctree_entry = False

html_theme = "furo"
html_title = f"airflow-provider-orders {__version__}"
