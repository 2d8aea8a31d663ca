"""What a vendor module declares about its vendor for the rest of the package: its ``SPEC``.

The hook and the sandbox app are named by dotted path, not imported: they import the vendor module, and
the vendor layer imports nothing above it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_orders.vendors.base import Vendor


@dataclass(frozen=True)
class VendorSpec:
    """Everything the rest of the package needs to know about one vendor.

    :param vendor_class: the vendor module's :class:`~airflow_provider_orders.vendors.base.Vendor`
        subclass; it carries the connection type, display name, form fields and states.
    :param hook: dotted path of the vendor's hook class (a string: hooks import vendor modules).
    :param sandbox_app: dotted path of the vendor's sandbox app class.
    :param sandbox_filters: the filters that select the sandbox's orders (the lookup scope where the
        vendor needs one), for the demo, the example DAGs and the sandbox's live-order listing.
    """

    vendor_class: type[Vendor]
    hook: str
    sandbox_app: str
    sandbox_filters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def conn_type(self) -> str:
        return self.vendor_class.conn_type

    @property
    def display_name(self) -> str:
        return self.vendor_class.display_name

    @property
    def default_conn_id(self) -> str:
        return f"{self.conn_type}_default"

    def hook_class(self) -> Any:
        """The hook class (an ``OrdersHook`` subclass), imported now."""
        return _load(self.hook)

    def sandbox_app_class(self) -> Any:
        """The sandbox app class (a ``VendorApp`` subclass), imported now."""
        return _load(self.sandbox_app)


def _load(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)
