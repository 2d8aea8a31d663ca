"""Airflow's own UI in a real browser: Playwright driving Debian's ``chromium`` (never a downloaded one).

``dev.py test`` installs the ``chromium`` package where it is missing (CI runs as root); Playwright's
Python package brings only its driver, and is pointed at ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

#: Flags for a headless Chromium on a machine without a display or outside network (no background
#: fetches, no component updates, no sandbox when run as root).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Where the tests leave screenshots (CI keeps the folder): ``$ORDERS_ARTIFACTS`` or ``test-artifacts``.
ARTIFACTS = Path(
    os.environ.get("ORDERS_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts")
)


def chromium_path() -> str | None:
    return shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium") or None


#: The browser tests need Debian's chromium. `python3 dev.py test` installs it (as root) and sets
#: ORDERS_BROWSER=required, so that there a missing browser fails the test instead of skipping it.
needs_chromium = pytest.mark.skipif(
    chromium_path() is None and os.environ.get("ORDERS_BROWSER") != "required",
    reason="no chromium: apt-get install chromium (python3 dev.py test does)",
)


@contextmanager
def browser_page(width: int = 1300, height: int = 2600) -> Iterator[Any]:
    """A page of a fresh headless Chromium (tall, so that a whole connection form fits a screenshot)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    assert executable, "chromium is not installed: apt-get install chromium (python3 dev.py test does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


class ConnectionsUI:
    """The Admin > Connections page of Airflow 3's UI, driven as a user would: labels, buttons, forms."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.url = url

    def login(self, username: str, password: str) -> None:
        self.page.goto(f"{self.url}/auth/login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{self.url}/")

    def open_list(self) -> None:
        self.page.goto(f"{self.url}/connections")
        self.page.get_by_role("button", name="Add Connection").wait_for()

    def add(self, conn_id: str, type_name: str) -> Any:
        """Open the add form, name the connection and pick its type; returns the dialog."""
        self.open_list()
        self.page.get_by_role("button", name="Add Connection").click()
        dialog = self.page.get_by_role("dialog")
        dialog.locator("input[name=connection_id]").fill(conn_id)
        combo = dialog.get_by_role("combobox")
        combo.click(force=True)  # react-select: its own placeholder covers the input
        combo.press_sequentially(type_name)
        self.page.get_by_role("option", name=type_name, exact=True).click()
        dialog.locator("input[name=host]").wait_for()
        return dialog

    def edit(self, conn_id: str) -> Any:
        """Open the edit form of ``conn_id`` from its row in the list; returns the dialog."""
        self.open_list()
        row = self.page.get_by_role("row").filter(has_text=conn_id)
        row.get_by_role("button", name="Edit Connection").click()
        dialog = self.page.get_by_role("dialog")
        dialog.locator("input[name=host]").wait_for()
        return dialog

    def test_from_list(self, conn_id: str) -> tuple[int, Any]:
        """Click the row's Test button; the answer of ``POST /api/v2/connections/test`` (status, body)."""
        self.open_list()
        row = self.page.get_by_role("row").filter(has_text=conn_id)
        with self.page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as answer:
            row.get_by_role("button", name="Test Connection").click()
        response = answer.value
        return response.status, response.json()

    @staticmethod
    def expand_extras(dialog: Any) -> None:
        dialog.get_by_role("button", name="Extra Fields", exact=True).click()
        dialog.locator("input[name^=element_]").first.wait_for()

    @staticmethod
    def fill_standard(dialog: Any, values: Mapping[str, str]) -> None:
        """Type the standard fields (``host``, ``login``, ``password``); their section must be open."""
        for name, value in values.items():
            dialog.locator(f"input[name={name}]").fill(value)

    @staticmethod
    def fill_extras(dialog: Any, extras: Mapping[str, Any]) -> None:
        """Type the extras (switches clicked to the value); their section must be open."""
        for name, value in extras.items():
            if isinstance(value, bool):
                box = dialog.locator(f"input[name=element_{name}]")
                if box.is_checked() != value:
                    dialog.locator(f"label[id='switch:element_{name}']").click()
            else:
                dialog.locator(f"input[name=element_{name}]").fill(str(value))

    @staticmethod
    def values(dialog: Any) -> dict[str, str]:
        """Every input of the form by name (extras without their ``element_`` prefix), as displayed."""
        out = {}
        for field in dialog.locator("input[name]").all():
            name = field.get_attribute("name").removeprefix("element_")
            kind = field.get_attribute("type")
            out[name] = ("on" if field.is_checked() else "off") if kind == "checkbox" else field.input_value()
        return out

    @staticmethod
    def input_types(dialog: Any) -> dict[str, str]:
        return {f.get_attribute("name").removeprefix("element_"): f.get_attribute("type") or ""
                for f in dialog.locator("input[name]").all()}  # fmt: skip

    def save(self, dialog: Any) -> str:
        """Click Save; the toast's text."""
        dialog.get_by_role("button", name="Save").click()
        toast = self.page.get_by_role("status").last
        toast.wait_for()
        return toast.inner_text()
