"""Acme Supply, emulated."""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_orders.sandbox.core import Request, Response, SandboxConfig, VendorApp, apply_faults
from airflow_provider_orders.sandbox.store import OrderSet

CREDENTIALS = {"api_key": "sandbox-acme-api-key"}


def error(status: int, message: str, code: str | None = None) -> Response:
    return Response(status, {"error": code or str(status), "message": message})


class AcmeSupplyApp(VendorApp):
    name = "acme_supply"
    prefix = "acme"
    credentials = CREDENTIALS
    states = ("open", "done", "error", "void")
    weights = (10, 70, 10, 10)
    live_states = ("open", "done", "error")

    @classmethod
    def connection(cls, base_url: str, sandbox_url: str, config: SandboxConfig) -> dict[str, Any]:
        return {"host": base_url, "password": cls.credentials["api_key"]}

    def handle(self, request: Request) -> Response:
        if request.headers.get("x-api-key") != CREDENTIALS["api_key"]:
            return error(401, "bad API key", "unauthorized")
        match = re.fullmatch(r"/v2/orders(?:/(\d+))?", request.path)
        if not match or request.method != "GET":
            return error(404, f"no route {request.method} {request.path}")
        fault = apply_faults(self, request, error)
        if fault:
            return fault
        store = self.orders("")
        if match.group(1):
            i = int(match.group(1)) - 5000
            return (
                Response(200, self.record(store, i)) if 0 <= i < store.size else error(404, "no such order")
            )
        page, per_page = int(request.arg("page") or 1), int(request.arg("per_page") or 100)
        selection = store.select(frozenset(request.args("state")) or None, store.index_range(None, None))
        indices = selection.page((page - 1) * per_page, per_page, newest_first=True)
        return Response(200, {"orders": [self.record(store, i) for i in indices], "total": len(selection)})

    def record(self, store: OrderSet, i: int) -> dict[str, Any]:
        state = store.state(i)
        return {"id": 5000 + i, "state": state, "created": store.created(i).isoformat(),
                "problem": "out of stock" if state == "error" else None}  # fmt: skip

    def order_id(self, record: dict[str, Any]) -> str:
        return str(record["id"])
