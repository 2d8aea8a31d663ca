"""Adobe VIP Marketplace (CPAPI v3) and Adobe IMS, emulated."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from airflow_provider_orders.sandbox.core import (
    Request,
    Response,
    SandboxConfig,
    SandboxState,
    VendorApp,
    apply_faults,
)
from airflow_provider_orders.sandbox.store import OrderSet

ZULU = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?Z)?$")
OFFERS = ("65304520CA01A12", "65322651CA01A12", "80004567CA01A12", "86756309CA02A12")

#: The sandbox's fixed credentials. They open nothing but the sandbox.
CREDENTIALS = {"client_id": "sandbox-adobe-client", "client_secret": "sandbox-adobe-secret"}


def error(status: int, message: str, code: str | None = None) -> Response:
    return Response(status, {"code": code or str(status), "message": message, "additionalDetails": []})


class ImsApp(VendorApp):
    """Adobe IMS: ``POST /ims/token/v3`` with client credentials."""

    name = "adobe_vip_marketplace"
    prefix = "adobe-ims"

    def handle(self, request: Request) -> Response:
        if request.path != "/ims/token/v3" or request.method != "POST":
            return Response(404, {"error": "not_found"})
        form = request.form()
        c = CREDENTIALS
        if form.get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != c["client_id"] or form.get("client_secret") != c["client_secret"]:
            return Response(
                401, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        token = self.state.tokens.issue(self.name, form["client_id"])
        return Response(
            200, {"access_token": token, "token_type": "bearer", "expires_in": int(self.config.token_ttl)}
        )


#: The values the order-history reference documents for ``status`` and ``order-type``.
STATUS_PARAM = ("1000", "1002", "1004", "1026")
ORDER_TYPE_PARAM = ("NEW", "TRANSFER", "RENEWAL")


class AdobeApp(VendorApp):
    """CPAPI v3 orders, as the order-history reference describes them.

    - Without ``start-date`` a listing starts at the customer's current term (here
      ``SandboxConfig.adobe_term_days`` before the newest order); without ``end-date`` it ends now.
    - ``status`` takes only 1000, 1002, 1004 and 1026, and ``order-type`` only NEW, TRANSFER and
      RENEWAL: any other value is answered 400, code 1132. Orders carry other codes (1008 cancelled,
      1020-1024 failed) and the RETURN type all the same.
    """

    name = "adobe_vip_marketplace"
    prefix = "adobe"
    credentials = CREDENTIALS
    companions = (ImsApp,)
    states = ("1000", "1002", "1004", "1008", "1020", "1024", "1026")
    weights = (75, 8, 7, 6, 2, 2, 4)
    live_states = ("1002", "1000", "1004")

    def __init__(self, state: SandboxState) -> None:
        super().__init__(state)
        self._request_ids: OrderedDict[str, None] = OrderedDict()
        self._ids_lock = threading.Lock()

    @classmethod
    def connection(cls, base_url: str, sandbox_url: str, config: SandboxConfig) -> dict[str, Any]:
        c = cls.credentials
        return {"host": base_url, "login": c["client_id"], "password": c["client_secret"],
                "extra": {"ims_url": f"{sandbox_url}/{ImsApp.prefix}"}}  # fmt: skip

    def handle(self, request: Request) -> Response:
        h = request.headers
        if self.bearer(request) is None:
            return error(401, "Invalid Authorization token", "401")
        if h.get("x-api-key") != CREDENTIALS["client_id"]:
            return error(403, "Invalid API Key", "403")
        if not h.get("x-correlation-id"):
            return error(400, "X-Correlation-Id header is required", "4119")
        request_id = h.get("x-request-id")
        if request_id:
            with self._ids_lock:
                if request_id in self._request_ids:
                    return error(400, "Duplicate X-Request-Id", "4120")
                self._request_ids[request_id] = None
                while len(self._request_ids) > 100_000:
                    self._request_ids.popitem(last=False)
        match = re.fullmatch(r"/v3/customers/([^/]+)/orders(?:/([^/]+))?/?", request.path)
        if not match or request.method != "GET":
            return error(404, f"no route {request.method} {request.path}", "404")
        fault = apply_faults(self, request, error)
        if fault:
            return fault
        customer, order_id = match.groups()
        store = self.orders(customer)
        if order_id:
            return self.one(store, customer, order_id)
        return self.list_orders(request, store, customer)

    def one(self, store: OrderSet, customer: str, order_id: str) -> Response:
        base = self._id_base(store)
        if order_id.isdigit() and 0 <= int(order_id) - base < store.size:
            return Response(200, self.record(store, int(order_id) - base))
        return error(404, "Invalid Order ID", "2115")

    def list_orders(self, request: Request, store: OrderSet, customer: str) -> Response:
        try:
            limit = int(request.arg("limit") or 25)
            offset = int(request.arg("offset") or 0)
        except ValueError:
            return error(400, "limit and offset must be integers", "1132")
        if limit < 1 or offset < 0:
            return error(400, "limit must be 1..100 and offset 0..N", "1132")
        limit = min(limit, 100)
        dates = {}
        for key in ("start-date", "end-date"):
            value = request.arg(key)
            if value is not None:
                if not ZULU.match(value):
                    return error(400, f"{key} must be a date or an ISO-8601 Zulu time, got {value!r}", "1132")
                dates[key] = _parse(value)
        statuses = frozenset(request.args("status")) or None
        if statuses and not statuses <= set(STATUS_PARAM):
            return error(
                400, f"invalid search parameter status {sorted(statuses - set(STATUS_PARAM))}", "1132"
            )
        types = set(request.args("order-type"))
        if not types <= set(ORDER_TYPE_PARAM):
            return error(400, f"invalid search parameter order-type {sorted(types - set(ORDER_TYPE_PARAM))}",
                         "1132")  # fmt: skip
        start = dates.get("start-date") or self._term_start(store)
        window = store.index_range(start, dates.get("end-date"), until_inclusive=True)
        selection = store.select(statuses, window)
        if types:
            # Few orders match a type filter in the sandbox, so it is applied by scanning.
            matching = [i for i in (selection.at(len(selection) - 1 - k) for k in range(len(selection)))
                        if self._order_type(store, i) in types]  # fmt: skip
            total = len(matching)
            if offset > total:
                return error(400, "offset is greater than the total count", "1133")
            indices = matching[offset : offset + limit]
        else:
            total = len(selection)
            if offset > total:
                return error(400, "offset is greater than the total count", "1133")
            indices = selection.page(offset, limit, newest_first=True)
        path = f"/{self.prefix}/v3/customers/{customer}/orders"
        keep = [(k, v) for k, v in request.query if k not in ("offset", "limit")]

        def link(at: int) -> dict[str, Any]:
            query = urlencode([*keep, ("offset", str(at)), ("limit", str(limit))])
            return {"uri": f"{path}?{query}", "method": "GET", "headers": []}

        links = {"self": link(offset)}
        if offset + limit < total:
            links["next"] = link(offset + limit)
        if offset > 0:
            links["prev"] = link(max(0, offset - limit))
        items = [self.record(store, i) for i in indices]
        return Response(200, {"totalCount": total, "count": len(items), "offset": offset, "limit": limit,
                              "items": items, "links": links})  # fmt: skip

    @staticmethod
    def _id_base(store: OrderSet) -> int:
        return 5_120_000_000 + (store.salt % 1000) * 1_000_000

    def _term_start(self, store: OrderSet) -> datetime:
        """The start of the customer's current term: Adobe's default ``start-date``."""
        return store.created(store.size - 1) - timedelta(days=self.config.adobe_term_days)

    def _order_type(self, store: OrderSet, i: int) -> str:
        return ("NEW", "NEW", "RENEWAL", "TRANSFER", "NEW", "RETURN")[store.rand(i, 3) % 6]

    def record(self, store: OrderSet, i: int) -> dict[str, Any]:
        r = store.rand(i, 2)
        status = store.state(i)
        order_id = str(self._id_base(store) + i)
        customer = store.tenant
        order_type = self._order_type(store, i)
        return {
            "externalReferenceId": str(700 + i),
            "orderId": order_id,
            "customerId": customer,
            "orderType": order_type,
            "referenceOrderId": str(self._id_base(store) + i - 1) if order_type == "RETURN" and i else "",
            "currencyCode": "USD",
            "creationDate": store.created(i).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": status,
            "lineItems": [
                {
                    "extLineItemNumber": 1,
                    "offerId": OFFERS[r % len(OFFERS)],
                    "quantity": 1 + r % 50,
                    "subscriptionId": f"{r % 10**8:08d}" if status == "1000" else "",
                    "status": status,
                    "currencyCode": "USD",
                }
            ],
            "links": {
                "self": {"uri": f"/v3/customers/{customer}/orders/{order_id}", "method": "GET", "headers": []}
            },
        }

    def order_id(self, record: dict[str, Any]) -> str:
        return str(record["orderId"])


def _parse(value: str) -> datetime:
    if "T" not in value:
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
