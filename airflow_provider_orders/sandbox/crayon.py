"""Crayon Cloud-iQ, emulated: password-grant tokens and the purchase-order list of a tenant."""

from __future__ import annotations

import base64
from typing import Any

from airflow_provider_orders.sandbox import credentials
from airflow_provider_orders.sandbox.server import Request, Response, VendorApp, apply_faults
from airflow_provider_orders.sandbox.store import OrderSet

PRODUCTS = ("Microsoft 365 Business Premium", "Windows 11 Pro Upgrade", "AI Builder Capacity Add-on T1",
            "Azure Reserved VM Instance", "Dynamics 365 Sales Enterprise")  # fmt: skip
STATE_FILTER = {"1": "Succeeded", "2": "Failed", "4": "Processing"}


def error(status: int, message: str, code: str | None = None) -> Response:
    return Response(status, {"ErrorCode": code or f"E{status}", "Message": message, "Parameters": {},
                             "ObjectErrors": []})  # fmt: skip


class CrayonApp(VendorApp):
    name = "crayon"
    prefix = "crayon"
    states = ("Succeeded", "Failed", "Processing")
    weights = (80, 12, 8)
    live_states = ("Processing", "Succeeded", "Failed")

    def handle(self, request: Request) -> Response:
        if request.path == "/api/v1/connect/token/" and request.method == "POST":
            return self.token(request)
        if request.path.rstrip("/") == "/api/v1/purchaserequest/orders" and request.method == "GET":
            if self.bearer(request) is None:
                return error(401, "Authorization has been denied for this request.", "Unauthorized")
            return apply_faults(self, request, error) or self.list_orders(request)
        return error(404, f"no route {request.method} {request.path}", "NotFound")

    def token(self, request: Request) -> Response:
        c = credentials.CRAYON
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
        if term.isdigit() and 0 <= int(term) - base < store.size:
            return [int(term) - base]
        order = range(store.size - 1, -1, -1) if descending else range(store.size)
        needle = term.lower()
        return [i for i in order if needle in self.record(store, i)["Name"].lower()]

    @staticmethod
    def _id_base(store: OrderSet) -> int:
        return 100_000 + (store.salt % 900) * 10_000_000

    def record(self, store: OrderSet, i: int) -> dict[str, Any]:
        created = store.created(i)
        r = store.rand(i, 2)
        state = store.state(i)
        return {
            "OrderReferenceId": self._id_base(store) + i,
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
