"""Fleetio purchase orders, emulated: static key headers, API versions, filters and keyset cursors.

The answer follows the ``X-Api-Version`` the request names, as Fleetio's versioned reference pages of
``GET /api/v1/purchase_orders`` describe it:

- from 2024-03-15: ``{start_cursor, next_cursor, per_page, estimated_remaining_count, filtered_by,
  sorted_by, records}``, with ``per_page``, ``start_cursor``, ``filter[...]`` and ``sort[...]`` applied;
- before it: a bare array of up to 100 records, newest first, paged by ``page`` with
  ``X-Pagination-Limit``, ``X-Pagination-Current-Page``, ``X-Pagination-Total-Pages`` and
  ``X-Pagination-Total-Count``; ``filter``, ``sort``, ``start_cursor`` and ``per_page`` are ignored, and a
  page past the last is empty.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_orders.sandbox.core import (
    Request,
    Response,
    SandboxConfig,
    VendorApp,
    apply_faults,
)
from airflow_provider_orders.sandbox.store import OrderSet

STATES = ("draft", "submitted_for_approval", "approved", "rejected", "purchased", "received_partial",
          "received_full", "closed")  # fmt: skip
FILTER = re.compile(r"^filter\[(\w+)\]\[(\w+)\]$")
#: The time filters the sandbox understands: created_at in both directions, updated_at from a time on.
TIME_FILTERS = {("created_at", op) for op in ("gte", "gt", "lt", "lte")} | {("updated_at", "gte")}
MOUNTAIN = timezone(timedelta(hours=-6))
#: From this version on the list answers cursor pages with filters and sort applied.
CURSOR_VERSION = "2024-03-15"
#: The version the sandbox's API key is locked to (sent when a request names none).
KEY_VERSION = "2024-01-01"
LEGACY_PAGE_SIZE = 100

#: The sandbox's fixed credentials. They open nothing but the sandbox.
CREDENTIALS = {"api_key": "sandbox-fleetio-api-key", "account_token": "sandbox-fleetio-account"}


def problem(status: int, title: str, detail: str) -> Response:
    return Response(
        status, {"status": status, "title": title, "detail": detail, "instance": "/api/v1/purchase_orders"}
    )


def error(status: int, message: str, code: str | None = None) -> Response:
    if status == 429:
        return Response(429, {"error": message}, headers={"Retry-After": "1"})
    return problem(status, "Error", message)


def bad_request(field: str, message: str) -> Response:
    return Response(400, {"errors": {field: [message]}})


class FleetioApp(VendorApp):
    name = "fleetio"
    prefix = "fleetio"
    credentials = CREDENTIALS
    states = STATES
    weights = (5, 6, 6, 3, 10, 5, 45, 20)
    live_states = ("purchased", "received_full", "rejected")

    @classmethod
    def connection(cls, base_url: str, sandbox_url: str, config: SandboxConfig) -> dict[str, Any]:
        c = cls.credentials
        return {"host": base_url, "password": c["api_key"], "extra": {"account_token": c["account_token"]}}

    def handle(self, request: Request) -> Response:
        h = request.headers
        if re.fullmatch(r"/api/v1/accounts/?", request.path) and request.method == "GET":
            return self.accounts(request)
        if (
            h.get("authorization") != f"Token {CREDENTIALS['api_key']}"
            or h.get("account-token") != CREDENTIALS["account_token"]
        ):
            return problem(401, "Unauthorized", "Request could not be authenticated")
        version = h.get("x-api-version") or KEY_VERSION
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version) or version < "2023-03-01":
            return bad_request("X-Api-Version", f"{version!r} is not an API version")
        match = re.fullmatch(r"/api/v1/purchase_orders(?:/(\d+))?/?", request.path)
        if not match or request.method != "GET":
            return problem(404, "Not Found", f"no route {request.method} {request.path}")
        fault = apply_faults(self, request, error)
        if fault:
            return fault
        store = self.orders("")
        if match.group(1):
            i = int(match.group(1)) - 1
            if 0 <= i < store.size:
                return Response(200, self.record(store, i))
            return problem(404, "Not Found", "Purchase order not found")
        if version < CURSOR_VERSION:
            return self.list_numbered(request, store)
        return self.list_orders(request, store)

    def accounts(self, request: Request) -> Response:
        """``GET /api/v1/accounts``: the API key's accounts, with their tokens; no Account-Token needed."""
        if request.headers.get("authorization") != f"Token {CREDENTIALS['api_key']}":
            return problem(401, "Unauthorized", "Request could not be authenticated")
        account = {
            "id": 1,
            "name": "Sandbox Fleet",
            "user_type": "admin",
            "token": CREDENTIALS["account_token"],
        }
        version = request.headers.get("x-api-version") or KEY_VERSION
        if version < CURSOR_VERSION:
            return Response(200, [account])
        return Response(200, {"start_cursor": None, "next_cursor": None, "per_page": 50,
                              "estimated_remaining_count": 1, "records": [account]})  # fmt: skip

    def list_numbered(self, request: Request, store: OrderSet) -> Response:
        """The answer of versions before 2024-03-15: every order, newest first, 100 a page."""
        try:
            page = max(1, int(request.arg("page") or 1))
        except ValueError:
            page = 1
        total = store.size
        pages = -(-total // LEGACY_PAGE_SIZE)
        first = (page - 1) * LEGACY_PAGE_SIZE
        indices = [total - 1 - k for k in range(first, min(total, first + LEGACY_PAGE_SIZE))]
        headers = {
            "X-PaginationLimit": str(LEGACY_PAGE_SIZE),
            "X-Pagination-Current-Page": str(page),
            "X-Pagination-Total-Pages": str(pages),
            "X-Pagination-Total-Count": str(total),
        }
        return Response(200, [self.legacy_record(store, i) for i in indices], headers=headers)

    def legacy_record(self, store: OrderSet, i: int) -> dict[str, Any]:
        record = self.record(store, i)
        record["label_list"] = [label["name"] for label in record.pop("labels")]
        return record

    def list_orders(self, request: Request, store: OrderSet) -> Response:
        try:
            per_page = int(request.arg("per_page") or 50)
        except ValueError:
            return bad_request("per_page", "must be an integer")
        if not 2 <= per_page <= 100:
            return bad_request("per_page", "must be between 2 and 100")
        since = until = updated = None
        states: frozenset[str] | None = None
        eq: dict[str, str] = {}
        for key, value in request.query:
            m = FILTER.match(key)
            if not m:
                continue
            field, op = m.groups()
            try:
                if (field, op) in TIME_FILTERS:
                    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
                    if when.tzinfo is None:
                        return bad_request(key, "needs a time zone")
                    if field == "updated_at":
                        updated = when
                    elif op in ("gte", "gt"):
                        since = when + (timedelta(microseconds=1) if op == "gt" else timedelta())
                    else:
                        until = when + (timedelta(microseconds=1) if op == "lte" else timedelta())
                elif field == "state" and op == "include":
                    states = frozenset(value.split(","))
                    if not states <= set(STATES):
                        return bad_request(key, f"unknown state {sorted(states - set(STATES))}")
                elif op == "eq" and field in ("number", "vendor_id"):
                    eq[field] = value
                else:
                    return bad_request(key, "filter not supported by the sandbox")
            except ValueError:
                return bad_request(key, "invalid value")
        ascending = request.arg("sort[created_at]") == "asc" or request.arg("sort[id]") == "asc"
        selection = store.select(states, store.index_range(since, until))
        if eq or updated is not None:
            positions = [k for k in range(len(selection)) if all(
                str(self.record(store, selection.at(k))[f]) == v for f, v in eq.items())]  # fmt: skip
            if updated is not None:
                positions = [k for k in positions if self.updated_at(store, selection.at(k)) >= updated]
            indices_all = [selection.at(k) for k in positions]
        else:
            indices_all = None
        total = len(indices_all) if indices_all is not None else len(selection)
        cursor = request.arg("start_cursor")
        start = 0
        if cursor:
            try:
                start = int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":")[1])
            except (ValueError, IndexError):
                return bad_request("start_cursor", "invalid cursor")
        if indices_all is not None:
            ordered = indices_all if ascending else indices_all[::-1]
            indices = ordered[start : start + per_page]
        else:
            indices = selection.page(start, per_page, newest_first=not ascending)
        end = start + len(indices)
        next_cursor = base64.urlsafe_b64encode(f"pos:{end}".encode()).decode() if end < total else None
        return Response(200, {
            "start_cursor": cursor, "next_cursor": next_cursor, "per_page": per_page,
            "estimated_remaining_count": min(500, total - start), "filtered_by": [], "sorted_by": [],
            "records": [self.record(store, i) for i in indices],
        })  # fmt: skip

    def updated_at(self, store: OrderSet, i: int) -> datetime:
        """An hour or more after creation; a live order's when it settled (the wall clock)."""
        changed = store.changed_at(i)
        if changed is not None:
            return changed.replace(microsecond=0)
        return store.created(i) + timedelta(hours=1 + store.rand(i, 2) % 48)

    def record(self, store: OrderSet, i: int) -> dict[str, Any]:
        r = store.rand(i, 2)
        created = store.created(i).astimezone(MOUNTAIN)
        subtotal = 1000 + r % 900_000
        return {
            "id": 9_000_000 + i,
            "number": 1 + i,
            "description": f"Brake pads and rotors, unit {r % 300}",
            "state": store.state(i),
            "created_at": created.isoformat(),
            "updated_at": self.updated_at(store, i).astimezone(MOUNTAIN).isoformat(),
            "subtotal_cents": subtotal,
            "shipping_cents": 1500,
            "tax_1_cents": subtotal // 10,
            "discount_cents": 0,
            "total_amount_cents": subtotal + 1500 + subtotal // 10,
            "vendor_id": 300 + r % 12,
            "created_by_id": 40 + r % 5,
            "labels": [{"id": 7, "name": "urgent"}] if r % 5 == 0 else [],
            "vendor": {"name": f"Parts vendor {r % 12}", "country": "US"},
        }

    def order_id(self, record: dict[str, Any]) -> str:
        return str(record["number"])
