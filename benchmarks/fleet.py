"""N engine processes (`benchmarks.engine`), started a few at a time.

Fifty engines importing driftpy at once on two cores would spend the first minute
fighting over the CPU, so at most `concurrency` are importing at any moment: the next
one starts when one has printed `{"started": ...}` (its imports done) or exited.
Every JSON line an engine prints is kept; the fleet stops them all when it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from benchmarks.procs import cpu_seconds, pss_mb, python, rss_mb, stop_all

__all__ = ["Engine", "Fleet"]

_START_TIMEOUT_S = 120.0


@dataclass
class Engine:
    """One engine process and what it printed."""

    proc: asyncio.subprocess.Process
    lines: list[dict[str, Any]] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            with contextlib.suppress(ValueError):
                line = json.loads(raw)
                self.lines.append(line)
                if "started" in line:
                    self.started.set()
                if "ready" in line:
                    self.ready.set()
        self.started.set()  # exited: it no longer holds a start slot

    def ready_ms(self) -> float | None:
        return next((float(x["ready"]) for x in self.lines if "ready" in x), None)

    def report(self) -> dict[str, Any]:
        """Its last report line (printed on SIGTERM), or {} if it printed none."""
        return next((x for x in reversed(self.lines) if "mode" in x), {})


class Fleet:
    """`n` engines of `args`, launched in the background with bounded concurrency
    (`nice` steps below this process's priority)."""

    def __init__(self, n: int, args: Sequence[str], *, concurrency: int = 4, nice: int = 0) -> None:
        self._n = n
        self._nice = nice
        self._args = list(args)
        self._slots = asyncio.Semaphore(concurrency)
        self.engines: list[Engine] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.all_started = asyncio.Event()

    async def __aenter__(self) -> Fleet:
        self._tasks.append(asyncio.create_task(self._launch()))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._tasks[0].cancel()
        await asyncio.gather(self._tasks[0], return_exceptions=True)
        await stop_all([e.proc for e in self.engines])
        await asyncio.gather(*self._tasks[1:], return_exceptions=True)

    async def _launch(self) -> None:
        for _ in range(self._n):
            await self._slots.acquire()
            engine = Engine(await python("benchmarks.engine", *self._args, nice=self._nice))
            self.engines.append(engine)
            self._tasks.append(asyncio.create_task(engine.read()))
            self._tasks.append(asyncio.create_task(self._release_when_started(engine)))
        await asyncio.gather(*(e.started.wait() for e in self.engines))
        self.all_started.set()

    async def _release_when_started(self, engine: Engine) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(engine.started.wait(), _START_TIMEOUT_S)
        self._slots.release()

    async def all_ready(self) -> None:
        """Until every engine has started and has its funding."""
        await self.all_started.wait()
        await asyncio.gather(*(e.ready.wait() for e in self.engines))

    def rss_mb(self) -> float:
        return sum(rss_mb(e.proc.pid) for e in self.engines)

    def pss_mb(self) -> float:
        return sum(pss_mb(e.proc.pid) for e in self.engines)

    def cpu_s(self) -> float:
        return sum(cpu_seconds(e.proc.pid) for e in self.engines)
