"""``asyncio.wait_for`` without losing the caller's cancellation.

Before Python 3.12, ``asyncio.wait_for`` drops a cancellation that arrives in the same loop turn as the
awaited result (CPython gh-86296): the caller carries on as if it had not been cancelled. A trigger the
triggerer removes, or a poller whose last wait left, would then run one more round. From 3.12 on,
``wait_for`` is built on ``asyncio.timeout`` and keeps the cancellation, so it is used as it is.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_within(awaitable: Awaitable[T], timeout: float | None) -> T:
    """The awaitable's result, or :class:`asyncio.TimeoutError` after ``timeout`` seconds (it is cancelled).

    A cancellation of the caller always propagates (and cancels the awaitable).
    """
    if sys.version_info >= (3, 12):
        return await asyncio.wait_for(awaitable, timeout)
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except BaseException:
        task.cancel()
        raise
    if not done:
        task.cancel()
        await asyncio.wait({task})  # let it unwind, as wait_for does; our own cancellation still propagates
        raise asyncio.TimeoutError
    return task.result()
