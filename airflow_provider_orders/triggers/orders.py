"""``OrderStateTrigger``: waits for an order's state in the triggerer, fully async."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_orders.boundary import event_from_error
from airflow_provider_orders.engine.deadlines import wait_within
from airflow_provider_orders.engine.waiting import StatusMatcher, as_status_list, failure_message
from airflow_provider_orders.errors import OrderNotFoundError, OrdersError

if TYPE_CHECKING:
    from airflow_provider_orders.models import Order
    from airflow_provider_orders.triggers.polling import Subscription


class OrderStateTrigger(BaseTrigger):
    """Waits for one order to reach a target or failure status, or until ``timeout_at``.

    Every trigger of a triggerer that waits on the same connection and scope shares one poll of that
    scope (:mod:`airflow_provider_orders.triggers.polling`): 2,000 waits on one Crayon tenant cost one
    listing per interval, not 2,000; the event each fires is the one its own poll would have given.
    It holds no state between polls beyond its arguments, so a triggerer restart loses nothing, and it
    serializes to plain JSON. It fires exactly one event, whose payload is a dict with ``status``:

    - ``success``: ``order`` is the final :class:`~airflow_provider_orders.models.Order` as JSON;
    - ``failure``: the order reached a failure status; ``order`` and ``message`` say which;
    - ``timeout``: ``timeout_at`` passed; ``order`` is the last one seen (or ``None``);
    - ``error``: the vendor or the connection failed; ``message``, ``error_type``, ``vendor``,
      ``http_status`` and ``code`` (see :func:`airflow_provider_orders.boundary.event_from_error`).

    :param conn_id: the Airflow connection of the vendor.
    :param order_id: the order's id (:attr:`Order.id`).
    :param target_status: statuses that end the wait with success.
    :param failure_status: statuses that end the wait with failure.
    :param scope: the vendor's lookup scope, for example ``{"customer_id": ...}``.
    :param poll_interval: seconds between polls (waits sharing a scope are polled at the shortest).
    :param timeout_at: a UNIX time after which the trigger gives up; ``None`` waits forever.
    :param fail_if_missing: fire ``error`` when the order does not exist instead of waiting for it.
    """

    def __init__(
        self,
        *,
        conn_id: str,
        order_id: str,
        target_status: list[str],
        failure_status: list[str],
        scope: dict[str, Any] | None = None,
        poll_interval: float = 60.0,
        timeout_at: float | None = None,
        fail_if_missing: bool = False,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.order_id = str(order_id)
        self.target_status = as_status_list(target_status)
        self.failure_status = as_status_list(failure_status)
        self.scope = dict(scope or {})
        self.poll_interval = float(poll_interval)
        self.timeout_at = timeout_at
        self.fail_if_missing = fail_if_missing

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "order_id": self.order_id,
                "target_status": list(self.target_status),
                "failure_status": list(self.failure_status),
                "scope": dict(self.scope),
                "poll_interval": self.poll_interval,
                "timeout_at": self.timeout_at,
                "fail_if_missing": self.fail_if_missing,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        base: dict[str, Any] = {"order_id": self.order_id, "conn_id": self.conn_id}
        last: dict[str, Any] | None = None
        subscription: Subscription | None = None
        try:
            # Imported here: the triggerer needs it, a DAG file that defers to this trigger does not.
            from airflow_provider_orders.triggers.polling import subscribe

            subscription = await subscribe(self.conn_id, self.scope, self.order_id, self.poll_interval)
            vendor_class = subscription.vendor_class
            base["vendor"] = vendor_class.conn_type
            matcher = StatusMatcher.build(vendor_class, self.target_status, self.failure_status)
            while True:
                try:
                    order = await self._poll(subscription)
                except asyncio.TimeoutError:
                    yield self._timeout(base, last)
                    return
                except OrderNotFoundError as exc:
                    if self.fail_if_missing:
                        yield TriggerEvent({**base, **event_from_error(exc)})
                        return
                    self.log.info(
                        "%s order %s not found yet; waiting", vendor_class.display_name, self.order_id
                    )
                else:
                    last = order.model_dump(mode="json")
                    outcome = matcher.decide(order)
                    if outcome == "success":
                        yield TriggerEvent({**base, "status": "success", "order": last})
                        return
                    if outcome == "failure":
                        yield TriggerEvent({**base, "status": "failure", "order": last,
                                            "message": failure_message(order, vendor_class)})  # fmt: skip
                        return
                    self.log.info("%s order %s is %s (%s); next check in %gs", vendor_class.display_name,
                                  self.order_id, order.status.value, order.vendor_status, self.poll_interval)  # fmt: skip
                if self.timeout_at is not None and self.timeout_at <= time.time():
                    yield self._timeout(base, last)
                    return
        except OrdersError as exc:
            yield TriggerEvent({**base, **event_from_error(exc)})
        except Exception as exc:  # a missing connection, say: report it instead of dying silently
            self.log.exception("order %s: unexpected error while waiting", self.order_id)
            yield TriggerEvent({**base, "status": "error", "message": f"{type(exc).__name__}: {exc}",
                                "error_type": type(exc).__name__, "http_status": None, "code": None})  # fmt: skip
        finally:
            if subscription is not None:
                subscription.close()

    async def _poll(self, subscription: Subscription) -> Order:
        """The order at the next poll of its scope, given up at ``timeout_at`` even in the middle of one."""
        if self.timeout_at is None:
            return await subscription.next()
        return await wait_within(subscription.next(), max(0.0, self.timeout_at - time.time()))

    def _timeout(self, base: dict[str, Any], last: dict[str, Any] | None) -> TriggerEvent:
        message = f"order {self.order_id} did not reach {self.target_status} in time"
        return TriggerEvent({**base, "status": "timeout", "order": last, "message": message})
