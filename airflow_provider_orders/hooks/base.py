"""The hook every vendor hook is: connection fields -> vendor module + engine + transport."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_orders.engine.connection import settings_from_connection, ui_field_behaviour
from airflow_provider_orders.errors import OrdersError

if TYPE_CHECKING:
    # The engine, the transport and the vendor modules load when a task runs, not at DAG parse.
    from airflow_provider_orders.engine.core import OrdersEngine
    from airflow_provider_orders.engine.sync import SyncTransport
    from airflow_provider_orders.models import Order
    from airflow_provider_orders.vendors.base import OrderFilters, Vendor


class OrdersHook(BaseHook):
    """Lists and fetches one vendor's orders through an Airflow connection.

    Subclasses set :attr:`vendor_class` and the four Airflow discovery attributes; everything else is
    here, the same for every vendor.

    :param conn_id: the Airflow connection id.
    """

    vendor_class: ClassVar[type[Vendor]]
    conn_name_attr = "conn_id"
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    # -- wiring ----------------------------------------------------------------------------------

    @cached_property
    def vendor(self) -> Vendor:
        """The vendor module, with this connection's validated settings."""
        conn = self.get_connection(self.conn_id)
        return self.vendor_class(settings_from_connection(self.vendor_class, conn))

    @cached_property
    def engine(self) -> OrdersEngine:
        from airflow_provider_orders.engine.core import OrdersEngine

        return OrdersEngine(self.vendor)

    @cached_property
    def transport(self) -> SyncTransport:
        # requests is imported here, when a task runs, not when a DAG file that uses the hook is parsed.
        from airflow_provider_orders.engine.sync import SyncTransport

        return SyncTransport(self.vendor.settings)

    def get_conn(self) -> OrdersEngine:
        """The engine bound to this connection (Airflow's ``get_conn`` convention)."""
        return self.engine

    @classmethod
    def validate_filters(cls, filters: dict[str, Any] | None = None, **kwargs: Any) -> OrderFilters:
        """Validate filters without any request; raises :class:`InvalidFilterError`."""
        return cls.vendor_class.parse_filters({**(filters or {}), **kwargs})

    # -- the public contract ---------------------------------------------------------------------

    def iter_orders(self, **filters: Any) -> Iterator[Order]:
        """Yield every order matching ``filters``, fetching one page at a time.

        Filters are validated before any request; see the vendor's filter model for the names.
        Raises :class:`~airflow_provider_orders.errors.OrdersError` subclasses.
        """
        parsed = self.validate_filters(filters)
        return self.transport.iterate(self.engine.list_orders(parsed))

    def list_orders(self, **filters: Any) -> list[Order]:
        """Every order matching ``filters``, as a list (prefer :meth:`iter_orders` for large listings)."""
        return list(self.iter_orders(**filters))

    def get_order(self, order_id: str | int, **scope: Any) -> Order:
        """One order by the id in :attr:`Order.id`.

        :param order_id: the vendor's order id.
        :param scope: the lookup scope where the vendor needs one (Crayon ``customer_tenant_id``, Adobe
            ``customer_id``).
        :raises OrderNotFoundError: the vendor has no such order.
        """
        self.vendor.check_scope(scope)
        return self.transport.run(self.engine.get_order(str(order_id), scope))

    def test_connection(self) -> tuple[bool, str]:
        """Authenticate against the vendor; ``(False, message)`` never contains a secret."""
        try:
            return True, self.transport.run(self.engine.test_connection())
        except OrdersError as exc:
            return False, str(exc)
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"

    # -- connection form -------------------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Field behaviour of the connection form (also published as ``ui-field-behaviour``)."""
        return ui_field_behaviour(cls.vendor_class, python_style=True)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (also published as ``conn-fields``)."""
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from wtforms import BooleanField, IntegerField, PasswordField, StringField

        widgets: dict[str, Any] = {}
        for f in cls.vendor_class.connection_fields:
            if f.sensitive:
                widgets[f.name] = PasswordField(
                    f.label, widget=BS3PasswordFieldWidget(), description=f.description
                )
            elif f.type == "integer":
                widgets[f.name] = IntegerField(
                    f.label, widget=BS3TextFieldWidget(), description=f.description
                )
            elif f.type == "boolean":
                widgets[f.name] = BooleanField(f.label, description=f.description)
            else:
                widgets[f.name] = StringField(f.label, widget=BS3TextFieldWidget(), description=f.description)
        return widgets


__all__ = ["OrdersHook"]
