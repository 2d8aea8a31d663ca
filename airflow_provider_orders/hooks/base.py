"""The hook every vendor hook is: connection -> vendor module + engine + transport, sync and async."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_orders.errors import OrdersError
from airflow_provider_orders.hooks.connection_form import form_widgets, ui_field_behaviour

if TYPE_CHECKING:
    # The engine, the transports and the vendor modules load when a task runs, not at DAG parse.
    from airflow_provider_orders.engine.aio import AsyncTransport
    from airflow_provider_orders.engine.core import OrdersEngine
    from airflow_provider_orders.engine.sync import SyncTransport
    from airflow_provider_orders.models import Order
    from airflow_provider_orders.vendors.base import Vendor
    from airflow_provider_orders.vendors.filters import OrderFilters


def redis_options(vendor: str, named: str, redis_conn_id: str) -> dict[str, Any]:
    """Airflow's Redis connection (host, port, login, password, extra ``db`` and ``ssl``, as the Redis
    provider reads them) as ``redis.Redis`` keywords; a clear error when it or the client is missing.

    :param named: the orders connection as messages name it (``connection 'x'``).
    """
    from airflow_provider_orders.errors import ConnectionConfigError

    try:
        import redis  # noqa: F401
    except ImportError:
        raise ConnectionConfigError(
            f"{named} shares its rate budget through Redis, but the redis client is not "
            "installed: pip install 'airflow-provider-orders[redis]', or set rate_budget to machine",
            vendor=vendor,
        ) from None
    try:
        conn = BaseHook.get_connection(redis_conn_id)
    except Exception as exc:
        raise ConnectionConfigError(
            f"{named} shares its rate budget through the Redis connection "
            f"{redis_conn_id!r}, which Airflow cannot find ({type(exc).__name__}); create it (type redis) "
            "or set rate_budget to machine",
            vendor=vendor,
        ) from None
    extra = conn.extra_dejson or {}
    options: dict[str, Any] = {"host": conn.host or "localhost", "port": int(conn.port or 6379)}
    options["db"] = int(extra.get("db", 0) or 0)
    if conn.login:
        options["username"] = conn.login
    if conn.password:
        from airflow_provider_orders.engine.core import mask_secret

        mask_secret(conn.password)
        options["password"] = conn.password
    if str(extra.get("ssl", "")).lower() in ("true", "1"):
        options["ssl"] = True
    return options


class OrdersHook(BaseHook):
    """Lists and fetches one vendor's orders through an Airflow connection, sync or async.

    A vendor hook only sets :attr:`vendor_class`; the connection type, hook name and default connection
    id follow from it. The connection is read once per hook, on first use: with ``get_connection`` for the
    sync methods, with ``get_async_connection`` for the ``a…`` methods (a triggerer's event loop).

    :param conn_id: the Airflow connection id; default ``<conn_type>_default``.
    :param connection: the connection already read (by :func:`~airflow_provider_orders.hooks.resolve.get_orders_hook`,
        which needed its type), so it is not read twice.
    """

    vendor_class: ClassVar[type[Vendor]]
    conn_name_attr = "conn_id"
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        vendor_class = cls.__dict__.get("vendor_class")
        if vendor_class is not None:
            cls.conn_type = vendor_class.conn_type
            cls.hook_name = vendor_class.display_name
            cls.default_conn_name = f"{vendor_class.conn_type}_default"

    def __init__(self, conn_id: str | None = None, *, connection: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name
        self._connection = connection
        self._name_connection = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    # -- wiring ----------------------------------------------------------------------------------

    @cached_property
    def vendor(self) -> Vendor:
        """The vendor module, with this connection's validated settings."""
        from airflow_provider_orders.vendors.connection import settings_from_connection

        if self._connection is None:
            self._connection = self.get_connection(self.conn_id)
        settings = settings_from_connection(
            self.vendor_class, self._connection, name_it=self._name_connection
        )
        return self.vendor_class(settings)

    @cached_property
    def engine(self) -> OrdersEngine:
        """The engine: auth, retries, rate limit and paging for this connection (registers its secrets
        with Airflow's masker)."""
        from airflow_provider_orders.engine.core import OrdersEngine

        return OrdersEngine(self.vendor, redis_options=self._redis_options())

    def _redis_options(self) -> dict[str, Any] | None:
        """``redis.Redis`` keywords from the Redis connection of ``rate_budget=redis`` (else ``None``)."""
        settings = self.vendor.settings
        if settings.rate_budget != "redis":
            return None
        return redis_options(self.vendor_class.conn_type, settings.named, settings.redis_conn_id)

    def get_conn(self) -> OrdersEngine:
        """The engine bound to this connection (Airflow's ``get_conn`` convention)."""
        return self.engine

    @cached_property
    def _sync(self) -> SyncTransport:
        # urllib3 is imported here, when a task runs, not when a DAG file that uses the hook is parsed.
        from airflow_provider_orders.engine.sync import SyncTransport

        return SyncTransport(self.vendor.settings, vendor=self.vendor_class.conn_type)

    @classmethod
    def validate_filters(
        cls, filters: Mapping[str, Any] | OrderFilters | None = None, **kwargs: Any
    ) -> OrderFilters:
        """Validate filters without any request; raises :class:`InvalidFilterError`."""
        if kwargs or not isinstance(filters, cls.vendor_class.filters_model):
            filters = {**dict(filters or {}), **kwargs}
        return cls.vendor_class.parse_filters(filters)

    # -- sync ------------------------------------------------------------------------------------

    def iter_orders(
        self, filters: Mapping[str, Any] | OrderFilters | None = None, **kwargs: Any
    ) -> Iterator[Order]:
        """Yield every order matching the filters, fetching one page at a time.

        Filters come as a mapping, as validated :class:`OrderFilters`, or as keywords; they are
        validated before any request (see the vendor's filter model for the names).
        Raises :class:`~airflow_provider_orders.errors.OrdersError` subclasses.
        """
        parsed = self.validate_filters(filters, **kwargs)
        return self._sync.iterate(self.engine.list_orders(parsed))

    def list_orders(
        self, filters: Mapping[str, Any] | OrderFilters | None = None, **kwargs: Any
    ) -> list[Order]:
        """Every order matching the filters, as a list (prefer :meth:`iter_orders` for large listings)."""
        return list(self.iter_orders(filters, **kwargs))

    def get_order(self, order_id: str | int, **scope: Any) -> Order:
        """One order by the id in :attr:`Order.id`.

        :param order_id: the vendor's order id.
        :param scope: the lookup scope where the vendor needs one (Crayon ``customer_tenant_id``, Adobe
            ``customer_id``); checked before any request.
        :raises OrderNotFoundError: the vendor has no such order.
        """
        return self._sync.run(self.engine.get_order(order_id, scope))

    def test_connection(self) -> tuple[bool, str]:
        """Authenticate against the vendor and make one cheap API call; ``(False, message)`` names the host
        and which credential the vendor refused where its answer tells, and never contains a secret.

        Messages say "the connection", not its id: Airflow's Test button and ``airflow connections test``
        try a copy of the connection under a random id.
        """
        self._unnamed()
        try:
            return True, self._sync.run(self.engine.test_connection())
        except Exception as exc:
            return False, self._failed(exc)

    def _unnamed(self) -> None:
        if "vendor" not in self.__dict__:
            self._name_connection = False

    def _failed(self, exc: Exception) -> str:
        text = (
            exc.describe(with_vendor=False)
            if isinstance(exc, OrdersError)
            else f"{type(exc).__name__}: {exc}"
        )
        host = self.vendor.settings.host if "vendor" in self.__dict__ else None
        where = f"{self.vendor_class.display_name} at {host}" if host else self.vendor_class.display_name
        return f"{where}: {text}"

    # -- async (triggers) ------------------------------------------------------------------------

    async def aget_engine(self) -> OrdersEngine:
        """The engine, with the connection read by ``get_async_connection``.

        Reading the extras and building the engine register secrets with the masker, a synchronous call
        to the supervisor that Airflow 3.0 refuses on the event loop's thread: that part runs off the loop.
        """
        if "engine" not in self.__dict__:
            from asgiref.sync import sync_to_async

            if self._connection is None:
                from airflow.providers.common.compat.connection import get_async_connection

                self._connection = await get_async_connection(self.conn_id)
            await sync_to_async(lambda: self.engine)()
        return self.engine

    @cached_property
    def _async(self) -> AsyncTransport:
        # httpx is imported here, in the triggerer, not when a DAG file that defers is parsed.
        from airflow_provider_orders.engine.aio import AsyncTransport

        return AsyncTransport(self.vendor.settings, vendor=self.vendor_class.conn_type)

    async def aget_order(self, order_id: str | int, **scope: Any) -> Order:
        """:meth:`get_order` on the event loop (shared ``httpx`` pool, no thread)."""
        engine = await self.aget_engine()
        return await self._async.run(engine.get_order(order_id, scope))

    async def afind_orders(
        self, order_ids: Iterable[str | int], *, max_pages: int | None = None, **scope: Any
    ) -> tuple[dict[str, Order], bool]:
        """Many orders of one scope from one listing of it: what the orders found are, by id, and whether
        the listing was read far enough that an order not found is not in the scope (see
        :meth:`OrdersEngine.find_orders`). Used by the triggerer to answer many waits with one listing."""
        engine = await self.aget_engine()
        return await self._async.run(engine.find_orders(order_ids, scope, max_pages=max_pages))

    async def aiter_orders(
        self, filters: Mapping[str, Any] | OrderFilters | None = None, **kwargs: Any
    ) -> AsyncIterator[Order]:
        """:meth:`iter_orders` on the event loop."""
        parsed = self.validate_filters(filters, **kwargs)
        engine = await self.aget_engine()
        async for order in self._async.iterate(engine.list_orders(parsed)):
            yield order

    async def atest_connection(self) -> tuple[bool, str]:
        """:meth:`test_connection` on the event loop."""
        self._unnamed()
        try:
            engine = await self.aget_engine()
            return True, await self._async.run(engine.test_connection())
        except Exception as exc:
            return False, self._failed(exc)

    # -- connection form -------------------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Field behaviour of the connection form (also published as ``ui-field-behaviour``)."""
        return ui_field_behaviour(cls.vendor_class, python_style=True)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (also published as ``conn-fields``)."""
        return form_widgets(cls.vendor_class)


__all__ = ["OrdersHook"]
