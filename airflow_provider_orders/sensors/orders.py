"""``OrderStateSensor``: wait until an order reaches a status, in poke, reschedule or deferrable mode."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_orders.engine.waiting import StatusMatcher, as_status_list, failure_message
from airflow_provider_orders.errors import OrderNotFoundError, OrdersError
from airflow_provider_orders.hooks.resolve import conn_type_if_known, get_orders_hook, hook_class_for
from airflow_provider_orders.models import Order, OrderStatus

if TYPE_CHECKING:
    from airflow_provider_orders.hooks.base import OrdersHook

StatusArg = str | OrderStatus | Sequence[str | OrderStatus]


class OrderStateSensor(BaseSensorOperator):
    """Waits until an order reaches a target status; fails at once on a failure status.

    Works for every vendor of this provider: the hook comes from the connection's type.

    :param conn_id: the Airflow connection of the vendor. (templated)
    :param order_id: the order's id, as in :attr:`Order.id`. (templated)
    :param target_status: one status or a list, normalised (``completed``) or vendor-native
        (``Succeeded``, ``1000``, ``received_full``). (templated)
    :param failure_status: statuses that fail the task at once, without waiting out its timeout.
        (templated)
    :param scope: the vendor's lookup scope: ``{"customer_tenant_id": ...}`` for Crayon,
        ``{"customer_id": ...}`` for Adobe. (templated)
    :param fail_if_missing: fail when the vendor has no such order, instead of waiting for it to appear.
    :param deferrable: wait in the triggerer instead of a worker slot; defaults to
        ``[operators] default_deferrable``.
    :return: the final order as JSON (``Order.model_dump(mode="json")``), the sensor's XCom.
    """

    template_fields: Sequence[str] = ("conn_id", "order_id", "target_status", "failure_status", "scope")
    ui_color = "#d7ecf7"

    def __init__(
        self,
        *,
        conn_id: str,
        order_id: str | int,
        target_status: StatusArg = OrderStatus.COMPLETED,
        failure_status: StatusArg = (OrderStatus.FAILED, OrderStatus.CANCELED),
        scope: dict[str, Any] | None = None,
        fail_if_missing: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.order_id = order_id
        self.target_status: Any = as_status_list(target_status)
        self.failure_status: Any = as_status_list(failure_status)
        self.scope = scope or {}
        self.fail_if_missing = fail_if_missing
        self.deferrable = deferrable
        self._validate_at_parse()

    def _validate_at_parse(self) -> None:
        """Check statuses and scope for the vendor at DAG parse, when the connection is known already.

        At run time the same checks run before the first request: the statuses in :attr:`matcher`, the
        scope in the engine.
        """
        conn_type = conn_type_if_known(self.conn_id)
        if conn_type is None or _templated(self.target_status, self.failure_status, self.scope):
            return
        try:
            vendor_class = hook_class_for(conn_type, self.conn_id).vendor_class
            StatusMatcher.build(vendor_class, self.target_status, self.failure_status)
            vendor_class.check_scope(self.scope)
        except OrdersError as exc:
            raise AirflowException(f"{self.task_id}: {exc}") from None

    @cached_property
    def hook(self) -> OrdersHook:
        """The vendor's hook; the connection is read once per task attempt."""
        return get_orders_hook(self.conn_id)

    @cached_property
    def matcher(self) -> StatusMatcher:
        """Which of the vendor's states end the wait, and how."""
        return StatusMatcher.build(self.hook.vendor_class, self.target_status, self.failure_status)

    def _check(self) -> Order | None:
        try:
            order = self.hook.get_order(str(self.order_id), **self.scope)
        except OrderNotFoundError:
            if self.fail_if_missing:
                raise
            self.log.info(
                "Order %s not found yet at %s; waiting", self.order_id, self.hook.vendor_class.display_name
            )
            return None
        outcome = self.matcher.decide(order)
        if outcome == "failure":
            raise AirflowFailException(failure_message(order, self.hook.vendor_class))
        self.log.info("Order %s is %s (%s)", order.id, order.status.value, order.vendor_status)
        return order if outcome == "success" else None

    def poke(self, context: Any) -> PokeReturnValue:
        from airflow_provider_orders.boundary import airflow_errors  # loaded when a task runs, not at parse

        with airflow_errors():
            order = self._check()
        if order is None:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=order.model_dump(mode="json"))

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        # One check first (statuses and scope are checked before its request): an order already done needs no triggerer round trip.
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        from airflow_provider_orders.triggers.orders import OrderStateTrigger

        timeout_at = time.time() + self.timeout if self.timeout else None
        self.defer(
            trigger=OrderStateTrigger(
                conn_id=self.conn_id,
                order_id=str(self.order_id),
                target_status=self.target_status,
                failure_status=self.failure_status,
                scope=self.scope,
                poll_interval=self.poke_interval,
                timeout_at=timeout_at,
                fail_if_missing=self.fail_if_missing,
            ),
            method_name="execute_complete",
            # A backstop: the trigger reports its own timeout first, with the last state it saw.
            timeout=timedelta(seconds=self.timeout + 60) if self.timeout else None,
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Turn the trigger's event into the task's result."""
        status = event.get("status")
        if status == "success":
            order = event["order"]
            self.log.info("Order %s reached %s (%s)", order["id"], order["status"], order["vendor_status"])
            return order
        message = event.get("message") or f"order {self.order_id}: {status}"
        if status == "failure":
            raise AirflowFailException(message)
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        from airflow_provider_orders.boundary import error_from_event, to_airflow

        error = error_from_event(event)
        raise to_airflow(error) from error


def _templated(*values: Any) -> bool:
    return "{{" in repr(values)
