"""The connection form of each vendor, from its ``connection_fields``: one place for every form format.

``conn-fields`` (JSON schema, read by the Airflow 3 UI from provider info), ``ui-field-behaviour`` and the
WTForms widgets older UIs ask hooks for all come from here. Nothing here imports Airflow or WTForms
until a widget is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_orders.vendors.base import Vendor
    from airflow_provider_orders.vendors.settings import ConnectionField


def ui_field_behaviour(vendor_class: type[Vendor], *, python_style: bool = False) -> dict[str, Any]:
    """Hidden fields, labels and placeholders of ``vendor_class``'s connection form."""
    relabeling = {"host": "API base URL", "password": vendor_class.password_label}
    # Port stays on the form: empty, it is the URL's own; stored, Airflow 3.3.2's Test button (which sends
    # 0 for an empty port and then refuses it as "differs from the stored connection") sends it back
    # unchanged and works.
    hidden = ["schema", "extra"]
    if vendor_class.login_label:
        relabeling["login"] = vendor_class.login_label
    else:
        hidden.append("login")
    if vendor_class.default_host:
        host = f"empty: {vendor_class.default_host} (production)"
    else:
        host = f"required: https://... ({vendor_class.display_name} has no public production URL)"
        relabeling["host"] = "API base URL (required)"
    placeholders = {
        "host": host,
        "port": "empty: the URL's own (443 for https); set it for the Test button on Airflow 3.3.2",
        **vendor_class.form_placeholders,
    }
    # The form opens on the standard fields, the extras folded away: where an extra is required (Save
    # stays grey without it), the first credential field says so while it is empty.
    required = [f.label for f in vendor_class.connection_fields if f.required]
    first = "login" if vendor_class.login_label else "password"
    if required and first not in placeholders:
        placeholders[first] = f"required too, under Extra Fields: {', '.join(required)}"
    if python_style:
        return {"hidden_fields": hidden, "relabeling": relabeling, "placeholders": placeholders}
    return {"hidden-fields": hidden, "relabeling": relabeling, "placeholders": placeholders}


def conn_fields(vendor_class: type[Vendor]) -> dict[str, Any]:
    """``conn-fields`` metadata (JSON schema per extra) for the Airflow 3 connection form."""
    out: dict[str, Any] = {}
    for f in vendor_class.connection_fields:
        # The Airflow 3 UI marks a field required, and will not save without it, when null is not allowed.
        schema: dict[str, Any] = {"type": f.type if f.required else [f.type, "null"]}
        default = field_default(vendor_class, f)
        if default is not None:
            schema["default"] = default
        if f.sensitive:
            schema["format"] = "password"
        entry: dict[str, Any] = {"label": f.label, "schema": schema}
        if f.description:
            entry["description"] = f.description
        out[f.name] = entry
    return out


def field_default(vendor_class: type[Vendor], f: ConnectionField) -> Any:
    """The default the form shows: the field's, or the vendor's where it has its own (Granite's rate)."""
    if f.name == "requests_per_minute":
        return vendor_class.settings_model.DEFAULT_REQUESTS_PER_MINUTE
    return f.default


def form_widgets(vendor_class: type[Vendor]) -> dict[str, Any]:
    """WTForms widgets of ``vendor_class``'s extra fields (``get_connection_form_widgets``); none where Flask
    AppBuilder is not installed (Airflow 3's UI reads ``conn-fields`` instead)."""
    try:
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from wtforms import BooleanField, IntegerField, PasswordField, StringField
    except ImportError:
        # A plain Airflow 3 install has no Flask AppBuilder: its UI builds the form from conn-fields.
        return {}

    widgets: dict[str, Any] = {}
    for f in vendor_class.connection_fields:
        if f.sensitive:
            widgets[f.name] = PasswordField(
                f.label, widget=BS3PasswordFieldWidget(), description=f.description
            )
        elif f.type == "integer":
            widgets[f.name] = IntegerField(f.label, widget=BS3TextFieldWidget(), description=f.description)
        elif f.type == "boolean":
            widgets[f.name] = BooleanField(f.label, description=f.description)
        else:
            widgets[f.name] = StringField(f.label, widget=BS3TextFieldWidget(), description=f.description)
    return widgets
