"""Streamers as real processes (`python -m streamer.cli streamer`), their log lines kept
and awaitable, for the takeover and fault tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["StreamerProcess"]

ROOT = Path(__file__).resolve().parent.parent


class StreamerProcess:
    """One `drift-stream streamer` child process; its stderr lines (with the time each
    arrived) in `lines`. An async context manager: SIGKILLed on exit if still running."""

    def __init__(
        self,
        instance_id: str,
        env: Mapping[str, str],
        *,
        args: Sequence[str] = (),
        argv: Sequence[str] | None = None,
    ) -> None:
        self.instance_id = instance_id
        self._env = {**os.environ, **env}
        self._argv = list(argv) if argv is not None else [sys.executable, "-m", "streamer.cli"]
        self._args = ["streamer", "--instance-id", instance_id, *args]
        self.lines: list[tuple[float, str]] = []  # (unix time it arrived, line)
        self._new_line = asyncio.Event()
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StreamerProcess:
        self._proc = await asyncio.create_subprocess_exec(
            *self._argv,
            *self._args,
            env=self._env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read(), name=f"log {self.instance_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 5)

    async def _read(self) -> None:
        assert self._proc is not None
        assert self._proc.stderr is not None
        try:
            async for raw in self._proc.stderr:
                self.lines.append((time.time(), raw.decode(errors="replace").rstrip()))
                self._new_line.set()
        finally:
            self._new_line.set()  # the end too: waiters see that it exited

    def signal(self, sig: signal.Signals) -> float:
        """Send `sig`; the unix time it was sent."""
        assert self._proc is not None
        self._proc.send_signal(sig)
        return time.time()

    async def wait(self) -> int:
        assert self._proc is not None
        return await self._proc.wait()

    def find(self, text: str) -> float | None:
        """When the first line holding `text` arrived (None: not yet)."""
        return next((at for at, line in self.lines if text in line), None)

    async def wait_for(self, text: str, timeout: float = 30.0) -> float:
        """When a line holding `text` arrived, waiting for it up to `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while (at := self.find(text)) is None:
                self._new_line.clear()
                if self._reader is not None and self._reader.done():
                    raise AssertionError(f"{self.instance_id} exited before logging {text!r}")
                await self._new_line.wait()
        return at
