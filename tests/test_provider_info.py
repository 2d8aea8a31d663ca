"""The provider metadata Airflow reads, checked against the schema the installed Airflow release ships."""

from __future__ import annotations

import json
from pathlib import Path

import airflow
import jsonschema

from airflow_provider_orders import get_provider_info


def test_provider_info_is_valid_for_the_installed_airflow_release() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)  # raises ValidationError naming the offending key


def test_only_secret_fields_have_names_airflow_masks() -> None:
    """Airflow masks an extra whose key contains a sensitive word (``token``, ``secret``, ...) in the UI, the
    REST API and the logs: a non-secret field so named would reopen as ``***`` (Granite's ``token_url`` did)."""
    try:
        from airflow.sdk._shared.secrets_masker import should_hide_value_for_key
    except ImportError:  # Airflow 3.0
        from airflow.sdk.execution_time.secrets_masker import should_hide_value_for_key

    from airflow_provider_orders.registry import all_specs

    masked = {
        (spec.conn_type, f.name): should_hide_value_for_key(f.name)
        for spec in all_specs()
        for f in spec.vendor_class.connection_fields
    }
    secret = {
        (spec.conn_type, f.name): f.sensitive
        for spec in all_specs()
        for f in spec.vendor_class.connection_fields
    }
    if not should_hide_value_for_key("proxy"):
        # Airflow 3.0's masker does not name "proxy" (3.1 added it): the extra stays a secret of ours (a
        # password widget, its password registered with the masker), but 3.0 shows it in the REST API.
        masked.update({key: True for key in masked if key[1] == "proxy"})
    assert masked == secret
    network = {(spec.conn_type, name) for spec in all_specs() for name in ("proxy", "cert_password")}
    assert {k for k, v in secret.items() if v} == {("crayon", "client_secret"), ("fleetio", "account_token"),
                                                   *network}  # fmt: skip


def test_the_old_names_of_renamed_fields_are_still_read() -> None:
    from airflow_provider_orders.vendors.emnify import Emnify
    from airflow_provider_orders.vendors.granite import GraniteAccessExpress

    old = GraniteAccessExpress.parse_settings(
        "g",
        {"host": "https://api.example", "login": "c", "password": "s", "token_url": "https://auth.example/t"},
    )
    assert old.oauth_url == "https://auth.example/t"  # type: ignore[attr-defined]
    assert (
        Emnify.parse_settings(
            "e", {"host": "https://e.example", "password": "t", "token_cache": "memory"}
        ).auth_cache
        == "memory"
    )  # type: ignore[attr-defined]
