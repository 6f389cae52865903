"""Waiting for an event with a timeout, without ever swallowing a cancellation.

`asyncio.wait_for` and `asyncio.timeout` around `event.wait()` can, on Python 3.11,
lose a task's cancellation when it races with the timeout: the task then loops on
forever and its TaskGroup never exits. `asyncio.wait` neither cancels nor absorbs.
"""

from __future__ import annotations

import asyncio

__all__ = ["raise_if_cancelled", "wait_event"]


async def wait_event(event: asyncio.Event, timeout: float) -> bool:  # noqa: ASYNC109
    """True if `event` was set within `timeout` seconds; a cancellation propagates."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    return bool(done)


def raise_if_cancelled() -> None:
    """Raise CancelledError if this task was asked to stop.

    Some library calls (nats-py's KV helpers among them) turn a cancellation into their
    own timeout error, which a loop's `except Exception` then absorbs; the request stays
    counted in `Task.cancelling()`, so a loop that checks it still stops."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
