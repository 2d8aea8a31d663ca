"""The real Airflow CLI sees the provider, its hooks and its five connection types."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_orders.registry import all_specs
from tests.conftest import needs_conn_fields

pytestmark = pytest.mark.e2e

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def airflow(tmp_path: Path, *args: str) -> str:
    # Airflow 3.0 logs to stdout: keep it to warnings so that -o json output stays parseable.
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}  # fmt: skip
    result = subprocess.run(
        [AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_providers_list_shows_the_provider(tmp_path: Path) -> None:
    providers = json.loads(airflow(tmp_path, "providers", "list", "-o", "json"))
    ours = [p for p in providers if p["package_name"] == "airflow-provider-orders"]
    assert len(ours) == 1
    assert ours[0]["version"] == "0.1.0"


def test_providers_hooks_shows_five_connection_types(tmp_path: Path) -> None:
    hooks = json.loads(airflow(tmp_path, "providers", "hooks", "-o", "json"))
    ours = {h["connection_type"]: h for h in hooks if h["package_name"] == "airflow-provider-orders"}
    assert set(ours) == {"crayon", "adobe_vip_marketplace", "granite_access_express", "emnify", "fleetio"}
    assert {t: h["class"] for t, h in ours.items()} == {s.conn_type: s.hook for s in all_specs()}
    assert all(h["conn_id_attribute_name"] == "conn_id" for h in ours.values())


@needs_conn_fields
def test_connection_form_fields_are_registered(tmp_path: Path) -> None:
    widgets = json.loads(airflow(tmp_path, "providers", "widgets", "-o", "json"))
    names = {
        w["connection_parameter_name"] for w in widgets if w["package_name"] == "airflow-provider-orders"
    }
    assert {
        "extra__crayon__client_id",
        "extra__crayon__client_secret",
        "extra__adobe_vip_marketplace__ims_url",
        "extra__granite_access_express__oauth_url",
        "extra__emnify__orders_path",
        "extra__fleetio__account_token",
        "extra__fleetio__api_version",
    } <= names


def test_the_static_provider_info_matches_the_vendor_modules() -> None:
    from airflow_provider_orders import build_provider_info, get_provider_info

    assert get_provider_info() == build_provider_info(), "regenerate: python -m airflow_provider_orders"
