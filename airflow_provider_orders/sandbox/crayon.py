"""Crayon Cloud-iQ, emulated: password-grant tokens and the purchase-order list of a tenant.

A listing record is an order line, as at Crayon: about one order in four has more than one line, and
its lines share ``OrderReferenceId`` and ``Created`` but each has its own product and state. Record ``i``
of the store is a line; it continues the order of record ``i - 1`` unless it starts an order.
"""

from __future__ import annotations

import base64
from typing import Any

from airflow_provider_orders.sandbox.core import (
    Request,
    Response,
    SandboxConfig,
    VendorApp,
    apply_faults,
)
from airflow_provider_orders.sandbox.store import OrderSet

PRODUCTS = ("Microsoft 365 Business Premium", "Windows 11 Pro Upgrade", "AI Builder Capacity Add-on T1",
            "Azure Reserved VM Instance", "Dynamics 365 Sales Enterprise")  # fmt: skip
STATE_FILTER = {"1": "Succeeded", "2": "Failed", "4": "Processing"}

#: The sandbox's fixed credentials. They open nothing but the sandbox.
CREDENTIALS = {
    "username": "sandbox-user",
    "password": "sandbox-password",
    "client_id": "sandbox-crayon-client",
    "client_secret": "sandbox-crayon-secret",
}


def error(status: int, message: str, code: str | None = None) -> Response:
    return Response(status, {"ErrorCode": code or f"E{status}", "Message": message, "Parameters": {},
                             "ObjectErrors": []})  # fmt: skip


class CrayonApp(VendorApp):
    name = "crayon"
    prefix = "crayon"
    credentials = CREDENTIALS
    states = ("Succeeded", "Failed", "Processing")
    weights = (80, 12, 8)
    live_states = ("Processing", "Succeeded", "Failed")

    @classmethod
    def connection(cls, base_url: str, sandbox_url: str, config: SandboxConfig) -> dict[str, Any]:
        c = cls.credentials
        return {"host": base_url, "login": c["username"], "password": c["password"],
                "extra": {"client_id": c["client_id"], "client_secret": c["client_secret"]}}  # fmt: skip

    def handle(self, request: Request) -> Response:
        if request.path == "/api/v1/connect/token/" and request.method == "POST":
            return self.token(request)
        if request.path.rstrip("/") == "/api/v1/purchaserequest/orders" and request.method == "GET":
            if self.bearer(request) is None:
                return error(401, "Authorization has been denied for this request.", "Unauthorized")
            return apply_faults(self, request, error) or self.list_orders(request)
        return error(404, f"no route {request.method} {request.path}", "NotFound")

    def token(self, request: Request) -> Response:
        c = CREDENTIALS
        basic = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{c['client_id']}:{c['client_secret']}".encode()).decode()
        form = request.form()
        if basic != f"Basic {expected}":
            return Response(401, {"Error": "invalid_client"})
        if form.get("grant_type") != "password" or form.get("scope") != "CustomerApi":
            return Response(400, {"Error": "unsupported_grant_type"})
        if form.get("username") != c["username"] or form.get("password") != c["password"]:
            return Response(400, {"Error": "invalid_grant"})
        return Response(200, {"AccessToken": self.issue_token(form["username"]), "ExpiresIn": int(self.config.token_ttl),
                              "TokenType": "Bearer", "RefreshToken": None, "IdentityToken": None, "Error": None})  # fmt: skip

    def list_orders(self, request: Request) -> Response:
        tenant = request.arg("customerTenantId")
        if not tenant or not tenant.isdigit():
            return error(400, "customerTenantId is required and must be an integer", "InvalidParameter")
        try:
            page = int(request.arg("page") or 1)
            size = int(request.arg("pageSize") or 15)
        except ValueError:
            return error(400, "page and pageSize must be integers", "InvalidParameter")
        if page < 1 or size < 1:
            return error(400, "page and pageSize must be positive", "InvalidParameter")
        state = request.arg("orderState") or "0"
        if state not in ("0", *STATE_FILTER):
            return error(400, f"orderState {state!r} is not valid", "InvalidParameter")
        store = self.orders(tenant)
        wanted = frozenset({STATE_FILTER[state]}) if state != "0" else None
        selection = store.select(wanted, range(store.size))
        descending = (request.arg("sortOrder") or "Ascending") == "Descending"
        search = request.arg("search") or ""
        if search:
            indices = [
                i
                for i in self._search(store, search, descending)
                if wanted is None or store.state(i) in wanted
            ]
            total = len(indices)
            indices = indices[(page - 1) * size : page * size]
        else:
            total = len(selection)
            indices = selection.page((page - 1) * size, size, newest_first=descending)
        return Response(200, {"Items": [self.record(store, i) for i in indices], "TotalHits": total})

    def _search(self, store: OrderSet, term: str, descending: bool) -> list[int]:
        base = self._id_base(store)
        start = int(term) - base if term.isdigit() else -1
        if 0 <= start < store.size:
            if not self._starts_order(store, start):
                return []
            lines = [start]
            while lines[-1] + 1 < store.size and not self._starts_order(store, lines[-1] + 1):
                lines.append(lines[-1] + 1)
            return lines[::-1] if descending else lines
        order = range(store.size - 1, -1, -1) if descending else range(store.size)
        needle = term.lower()
        return [i for i in order if needle in self.record(store, i)["Name"].lower()]

    @staticmethod
    def _id_base(store: OrderSet) -> int:
        return 100_000 + (store.salt % 900) * 10_000_000

    @staticmethod
    def _starts_order(store: OrderSet, i: int) -> bool:
        """Whether line ``i`` starts an order (live orders, the newest and the aged, have one line each)."""
        return i <= store.aged or i >= store.live_start - 1 or store.rand(i, 5) % 4 != 0

    def _order_start(self, store: OrderSet, i: int) -> int:
        while not self._starts_order(store, i):
            i -= 1
        return i

    def record(self, store: OrderSet, i: int) -> dict[str, Any]:
        start = self._order_start(store, i)
        created = store.created(start)
        r = store.rand(i, 2)
        state = store.state(i)
        return {
            "OrderReferenceId": self._id_base(store) + start,
            "CatalogId": f"CFQ7TTC0{r % 10000:04d}",
            "Name": PRODUCTS[r % len(PRODUCTS)],
            "Quantity": 1 + r % 25,
            "BillingCycle": ("Monthly", "Annual", "OneTime")[r % 3],
            "TermDuration": ("P1M", "P1Y", "P3Y")[r % 3],
            "EmailReceiver": f"buyer{r % 97}@example.com",
            # Crayon writes times without a zone, with a variable fraction.
            "Created": created.replace(tzinfo=None)
            .isoformat(timespec="milliseconds")
            .rstrip("0")
            .rstrip("."),
            "OrderState": state,
            "Error": "Provisioning failed: seat limit exceeded" if state == "Failed" else None,
        }

    def order_id(self, record: dict[str, Any]) -> str:
        return str(record["OrderReferenceId"])
