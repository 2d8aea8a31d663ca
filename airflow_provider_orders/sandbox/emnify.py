"""emnify's shop order API, emulated: JWT auth, ``q``/``sort``, header-driven pages, last page repeated."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from datetime import datetime
from typing import Any

from airflow_provider_orders.sandbox.core import (
    Request,
    Response,
    SandboxConfig,
    VendorApp,
    apply_faults,
)
from airflow_provider_orders.sandbox.store import STEP, OrderSet

NAMES = ("EDITING", "SUBMITTED", "SHIPPED", "DELIVERED", "CANCELED")
CODES = {name: code for code, name in enumerate(NAMES)}
CRITERION = re.compile(r"^(id|submit_date|status|paid)(!:|>=|<=|\^~|:|>|<)(.+)$")

#: The sandbox's fixed credentials. They open nothing but the sandbox.
CREDENTIALS = {"application_token": "sandbox-emnify-application-token"}


def error(status: int, message: str, code: int | None = None) -> Response:
    token = {401: "unauthorized", 400: "bad request", 404: "not found"}.get(status, "error")
    return Response(
        status, {"error_code": code or status, "error_token": token, "message": message, "errors": []}
    )


def _jwt(ttl: float, subject: str, nonce: str) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    now = int(time.time())
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': subject, 'iat': now, 'exp': now + int(ttl)})}.{nonce}"


class EmnifyApp(VendorApp):
    name = "emnify"
    prefix = "emnify"
    credentials = CREDENTIALS
    states = NAMES
    weights = (5, 7, 10, 70, 8)
    live_states = ("SHIPPED", "DELIVERED", "CANCELED")

    @classmethod
    def connection(cls, base_url: str, sandbox_url: str, config: SandboxConfig) -> dict[str, Any]:
        return {"host": base_url, "password": cls.credentials["application_token"]}

    def handle(self, request: Request) -> Response:
        if request.path == "/api/v1/authenticate" and request.method == "POST":
            return self.authenticate(request)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return error(401, "Authorization header is missing", 1101)
        if self.state.tokens.check(self.name, auth[7:]) is None:
            return error(401, "Token expired or invalid", 1103)
        match = re.fullmatch(r"/api/v1/shop/order(?:/(\d+))?/?", request.path)
        if not match or request.method != "GET":
            return error(404, f"no route {request.method} {request.path}")
        fault = apply_faults(self, request, error)
        if fault:
            return fault
        store = self.orders("")
        if match.group(1):
            i = int(match.group(1)) - 1000
            if 0 <= i < store.size:
                return Response(200, self.record(store, i))
            return error(404, "Order not found", 1400)
        return self.list_orders(request, store)

    def authenticate(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return error(400, "body must be JSON")
        if not isinstance(body, dict) or body.get("application_token") != CREDENTIALS["application_token"]:
            return error(401, "Invalid application token", 1102)
        token = _jwt(self.config.token_ttl, "application", secrets.token_urlsafe(24))
        self.state.tokens.issue(self.name, "application", token=token)
        return Response(200, {"auth_token": token})

    def list_orders(self, request: Request, store: OrderSet) -> Response:
        try:
            page = max(1, int(request.arg("page") or 1))
            per_page = max(1, min(1000, int(request.arg("per_page") or 100)))
        except ValueError:
            return error(400, "page and per_page must be integers")
        since = until = None
        statuses: set[str] | None = None
        paid: bool | None = None
        for criterion in filter(None, (request.arg("q") or "").split(",")):
            match = CRITERION.match(criterion)
            if not match:
                return error(400, f"invalid q criterion {criterion!r}", 1301)
            field, op, value = match.groups()
            try:
                if field == "submit_date":
                    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
                    if op in (">=", ">"):
                        since = when if op == ">=" else when + STEP / 1000
                    elif op in ("<", "<="):
                        until = when if op == "<" else when + STEP / 1000
                    else:
                        return error(400, f"operator {op} is not supported for submit_date here", 1301)
                elif field == "status" and op == ":":
                    statuses = {NAMES[int(value)]}
                elif field == "paid" and op == ":":
                    paid = value == "1"
                else:
                    return error(400, f"criterion {criterion!r} is not supported by the sandbox", 1301)
            except (ValueError, IndexError):
                return error(400, f"invalid value in {criterion!r}", 1301)
        sort = request.arg("sort") or "-submit_date"
        if sort not in ("-submit_date", "+submit_date", "submit_date", "-id", "+id", "id"):
            return error(400, f"invalid sort {sort!r}", 1302)
        selection = store.select(frozenset(statuses) if statuses else None, store.index_range(since, until))
        newest_first = sort.startswith("-")
        if paid is not None:
            ordered = [selection.at(k) for k in range(len(selection))]
            kept = [i for i in ordered if self._paid(store, i) == paid]
            if newest_first:
                kept.reverse()
            total = len(kept)
            pages = max(1, -(-total // per_page))
            page_now = min(page, pages)  # past the end: the last page again
            indices = kept[(page_now - 1) * per_page : page_now * per_page]
        else:
            total = len(selection)
            pages = max(1, -(-total // per_page))
            page_now = min(page, pages)
            indices = selection.page((page_now - 1) * per_page, per_page, newest_first=newest_first)
        headers = {
            "X-page": str(page_now),
            "X-per-page": str(per_page),
            "X-pages": str(pages),
            "X-count": str(total),
        }
        return Response(200, [self.record(store, i) for i in indices], headers=headers)

    def _paid(self, store: OrderSet, i: int) -> bool:
        return store.state(i) != "EDITING" and store.rand(i, 4) % 5 != 0

    def record(self, store: OrderSet, i: int) -> dict[str, Any]:
        r = store.rand(i, 2)
        state = store.state(i)
        submitted = store.created(i)
        quantity = 1 + r % 200
        total = round(quantity * 2.5, 2)
        stamp = "%Y-%m-%dT%H:%M:%S.000Z"
        return {
            "id": 1000 + i,
            "line": [{"product": {"id": 1 + r % 3, "name": "SIM card"}, "quantity": quantity}],
            "paid": self._paid(store, i),
            "status": {"id": CODES[state], "description": state},
            "customer_organisation": {"id": 5000 + r % 40, "name": f"IoT customer {r % 40}"},
            "currency": {"id": 1, "code": "EUR", "symbol": "€"},
            "submit_date": submitted.strftime(stamp),
            "shipped_date": (submitted + STEP / 2).strftime(stamp) if CODES[state] in (2, 3) else None,
            "delivered_date": (submitted + STEP).strftime(stamp) if state == "DELIVERED" else None,
            "external_payment_reference": f"PAY-{r % 10**6:06d}",
            "total": total,
            "vat": round(total * 0.19, 2),
            "vat_rate": 0.19,
            "purchase_order_number": f"PO-{1000 + i}",
        }

    def order_id(self, record: dict[str, Any]) -> str:
        return str(record["id"])
