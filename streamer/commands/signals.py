"""SIGINT and SIGTERM stop a long-running command at whatever stage it is in.

`until_signal()` is entered first by every long-running command: the first signal
cancels the command's task, wherever it waits (a server starting, NATS unreachable,
a retry's backoff, running), so its exit stack unwinds in reverse and everything it
started is stopped; leaving the block swallows that cancellation, and a server-like
command ends normally (exit 0), while a job that was cut short (`interrupt=True`: a
snapshot, a one-shot read) raises KeyboardInterrupt after its cleanup (exit 130). A
second signal cancels again, which hurries a slow cleanup
(a nats-server still stopping is then killed at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

__all__ = ["Stop", "forever", "until_signal"]

log = logging.getLogger("drift_stream.cli")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Stop:
    """The signal that stopped the command (None while none came)."""

    signal: signal.Signals | None = None

    @property
    def requested(self) -> bool:
        return self.signal is not None


@contextlib.asynccontextmanager
async def until_signal(
    on_stop: Callable[[], None] | None = None, *, interrupt: bool = False
) -> AsyncIterator[Stop]:
    """Cancel the current task on SIGINT or SIGTERM; `on_stop` runs once, at the first
    signal (e.g. to print "stopping"); `interrupt`: end in KeyboardInterrupt once the
    block has unwound."""
    task = asyncio.current_task()
    assert task is not None, "until_signal() runs inside a task"
    loop = asyncio.get_running_loop()
    stop = Stop()
    cancels = 0

    def received(sig: signal.Signals) -> None:
        nonlocal cancels
        if stop.signal is None:
            stop.signal = sig
            log.info("%s received: stopping", sig.name)
            if on_stop is not None:
                on_stop()
        else:
            log.info("%s received again: hurrying the cleanup", sig.name)
        cancels += 1
        task.cancel()

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, received, sig)
    try:
        yield stop
    except asyncio.CancelledError:
        if not stop.requested:
            raise
    finally:
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)
        for _ in range(cancels):  # ours, now handled: the task goes on normally
            task.uncancel()
    if interrupt and stop.requested:
        raise KeyboardInterrupt


async def forever() -> None:
    """Wait until cancelled (by a signal, through `until_signal`)."""
    await asyncio.get_running_loop().create_future()
