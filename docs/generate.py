"""Write the per-vendor connection pages (``docs/connections/<conn_type>.md``) from the vendor registry.

    python docs/generate.py

The registry is the one source of every connection field (as for ``_provider_info.py``):
``tests/test_docs.py`` fails while a page differs from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent

#: A connection as an ``AIRFLOW_CONN_`` variable, per type: the values a user replaces are in <...>.
ENV_EXAMPLES = {
    "crayon": '{"conn_type": "crayon", "host": "https://api.crayon.com", "login": "<API user>", "password": "<API user password>", "extra": {"client_id": "<client id>", "client_secret": "<client secret>"}}',
    "adobe_vip_marketplace": '{"conn_type": "adobe_vip_marketplace", "host": "https://partners.adobe.io", "login": "<client id>", "password": "<client secret>", "extra": {"ims_url": "https://ims-na1.adobelogin.com", "scopes": "openid,AdobeID,read_organizations"}}',
    "granite_access_express": '{"conn_type": "granite_access_express", "host": "https://api.staging.granitemsp.com", "login": "<client id>", "password": "<client secret>", "extra": {"oauth_url": "https://<your authorization server>/oauth2/token", "client_auth": "client_secret_basic"}}',
    "emnify": '{"conn_type": "emnify", "host": "https://cdn.emnify.net", "password": "<application token>"}',
    "fleetio": '{"conn_type": "fleetio", "host": "https://secure.fleetio.com", "password": "<API key>", "extra": {"account_token": "<account token>", "api_version": "2024-03-15", "currency": "USD"}}',
}


def _cell(value: Any) -> str:
    if value is None or value == "":
        return ""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return text.replace("|", "\\|")


def vendor_page(spec: Any) -> str:
    """The Markdown page of one connection type."""
    from airflow_provider_orders.hooks.connection_form import ui_field_behaviour

    vendor = spec.vendor_class
    behaviour = ui_field_behaviour(vendor, python_style=True)
    labels = behaviour["relabeling"]
    hidden = set(behaviour["hidden_fields"])
    host = vendor.default_host or "none: the host is required"
    lines = [
        "<!-- Written by docs/generate.py from the vendor registry; edit that, not this page. -->",
        "",
        f"# {spec.display_name} (`{spec.conn_type}`)",
        "",
        f"![The {spec.display_name} connection form](../images/connection-form-{spec.conn_type}.png)",
        "",
        "The form as Airflow 3.3.2 shows it (Admin > Connections > Add Connection, type "
        f"`{spec.conn_type}`); Airflow 3.0 and 3.1 show their generic form, where the extras below go into "
        "**Extra** as JSON.",
        "",
        "## The standard fields",
        "",
        "| field | label in the form | notes |",
        "|---|---|---|",
        f"| Host | {labels.get('host', 'Host')} | the API base URL; empty: {host} |",
    ]
    for field in ("login", "password"):
        if field in hidden:
            lines.append(f"| {field.capitalize()} | (hidden) | not used by {spec.display_name} |")
        else:
            lines.append(f"| {field.capitalize()} | {labels.get(field, field.capitalize())} | "
                         f"{'a secret: masked' if field == 'password' else ''} |")  # fmt: skip
    lines.append("| Port | Port | empty: the API base URL's own; the URL's port stored here (443 for https) makes "
                 "Airflow 3.3.2's Test button work ([why](../troubleshooting.md#testing-a-connection)); a "
                 "different one is an error |")  # fmt: skip
    lines += [
        "",
        "## The extras",
        "",
        "Every extra the type takes, with its default; an unknown extra is an error before any request, never "
        "a header. Secrets are masked in the form, the REST API and the logs.",
        "",
        "| extra | label in the form | type | default | required | secret | what it is |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in vendor.connection_fields:
        lines.append(
            f"| `{f.name}` | {_cell(f.label)} | {f.type} | {_cell(f.default)} | "
            f"{'yes' if f.required else ''} | {'yes' if f.sensitive else ''} | {_cell(f.description)} |"
        )
    lines += [
        "",
        "## As an environment variable",
        "",
        "```bash",
        f"export AIRFLOW_CONN_{spec.conn_type.upper()}_DEFAULT='{ENV_EXAMPLES[spec.conn_type]}'",
        "```",
        "",
        "## Testing it",
        "",
        "```bash",
        f"airflow connections test {spec.conn_type}_default",
        "```",
        "",
        "Airflow runs connection tests only with `[core] test_connection` enabled. A test fetches a token "
        "where the vendor has one and makes one authenticated API call; its message names the host, the "
        "HTTP status, the vendor's code and which credential was refused. The UI's Test button and the "
        "REST API: see [Testing a connection](../troubleshooting.md#testing-a-connection).",
        "",
    ]
    return "\n".join(lines)


def pages() -> dict[Path, str]:
    """Every generated page, by path."""
    from airflow_provider_orders.registry import all_specs

    return {DOCS / "connections" / f"{spec.conn_type}.md": vendor_page(spec) for spec in all_specs()}


def main() -> int:
    for path, text in pages().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(DOCS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
