"""The official Drift TypeScript SDK as a reference: one `node tests/sdk/harness.js`.

`SdkReference` starts the harness once and sends it lines of calls (the protocol is
in `tests/sdk/harness.js`, the encodings in `tests/sdk_wire.py`, re-exported here);
`call` is one call, `batch` many in one round trip.

A call the SDK threw on returns an `SdkError` value, so tests can compare "both
fail". A mistake in what we sent (unknown function or field, a value that does not
fit its on-chain width) and any protocol or process failure raise `SdkHarnessError`;
no reply within the timeout raises `SdkTimeout`. After a failed exchange the process
is killed (its state is unknown) and the next call starts a new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tests.sdk_wire import Call, SdkError, bn, decode, encode, enum, mm_oracle_data, num, state

__all__ = [
    "HARNESS",
    "Call",
    "SdkError",
    "SdkHarnessError",
    "SdkReference",
    "SdkTimeout",
    "bn",
    "decode",
    "encode",
    "enum",
    "mm_oracle_data",
    "num",
    "state",
]

SDK_DIR = Path(__file__).parent / "sdk"
HARNESS = SDK_DIR / "harness.js"
_HARNESS_ERRORS = frozenset({"HarnessError", "ProtocolError"})
_STDERR_TAIL = 4000


class SdkHarnessError(RuntimeError):
    """The harness could not answer: a bad call, a broken protocol, a dead process."""


class SdkTimeout(SdkHarnessError):
    """No reply (or no ready line) within the timeout."""


class SdkReference:
    """One long-lived harness process; a context manager, not reopened after close."""

    def __init__(
        self,
        *,
        command: Sequence[str] | None = None,
        start_timeout: float = 30.0,
        reply_timeout: float = 30.0,
    ) -> None:
        self._command = list(command) if command is not None else ["node", str(HARNESS)]
        self._check_install = command is None
        self._start_timeout = start_timeout
        self._reply_timeout = reply_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._buffer = bytearray()
        self._next_id = 0
        self._closed = False
        self.starts = 0  # processes started over this object's life
        self.start_seconds = 0.0  # how long the last start took (until the ready line)
        self.ready: dict[str, Any] = {}  # the harness's ready line

    def __enter__(self) -> SdkReference:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the process (if not running) and wait for its ready line."""
        if self._closed:
            raise SdkHarnessError("SdkReference is closed")
        if self._proc is not None:
            return
        if self._check_install and not (SDK_DIR / "node_modules").is_dir():
            raise SdkHarnessError(
                f"{SDK_DIR}/node_modules is missing: run `make install` (npm ci --prefix tests/sdk)"
            )
        began = time.monotonic()
        if self._stderr is not None:
            self._stderr.close()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process)
        try:
            self._proc = subprocess.Popen(
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                cwd=SDK_DIR,
            )
        except OSError as exc:
            raise SdkHarnessError(f"cannot start {self._command[0]}: {exc}") from exc
        self._buffer.clear()
        self.starts += 1
        try:
            ready = json.loads(self._read_line(began + self._start_timeout))
        except BaseException:
            self._kill()
            raise
        if not isinstance(ready, dict) or ready.get("ready") is not True:
            self._kill()
            raise SdkHarnessError(f"the harness did not start: {ready!r}")
        self.ready = ready
        self.start_seconds = time.monotonic() - began

    def call(self, fn: str, *args: Any, now: int | None = None) -> Any:
        """One SDK call: its decoded result, or an `SdkError` if the SDK threw."""
        return self.batch([Call(fn, *args, now=now)])[0]

    def batch(self, calls: Iterable[Call]) -> list[Any]:
        """Many calls in one round trip; results in order, as `call` returns them."""
        calls = list(calls)
        self.start()
        self._next_id += 1
        request_id = self._next_id
        line = json.dumps(
            {"id": request_id, "calls": [c.wire() for c in calls]},
            allow_nan=False,
            separators=(",", ":"),
        )
        reply = self._exchange(request_id, line.encode() + b"\n")
        if "results" not in reply:
            raise SdkHarnessError(f"request {request_id} refused: {reply.get('error')}")
        results = reply["results"]
        if len(results) != len(calls):
            raise SdkHarnessError(f"{len(results)} results for {len(calls)} calls")
        return [self._result(c, r) for c, r in zip(calls, results, strict=True)]

    def close(self) -> None:
        """Stop the process: close its stdin (it exits), kill it if it does not."""
        self._closed = True
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @property
    def pid(self) -> int | None:
        """The running process's id (None when not running)."""
        return None if self._proc is None else self._proc.pid

    def stderr_tail(self) -> str:
        """The end of what the process wrote to stderr (for error messages)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - _STDERR_TAIL))
        return self._stderr.read().decode(errors="replace")

    def _result(self, call: Call, result: dict[str, Any]) -> Any:
        if "ok" in result:
            return decode(result["ok"])
        error = result["error"]
        if error["type"] in _HARNESS_ERRORS:
            raise SdkHarnessError(f"{call.fn}: {error['message']}")
        return SdkError(error["type"], error["message"])

    def _exchange(self, request_id: int, payload: bytes) -> dict[str, Any]:
        """Send one request line and read its reply; on any failure the process is killed
        (it may still be busy with, or about to answer, this request)."""
        deadline = time.monotonic() + self._reply_timeout
        try:
            self._write(payload, deadline)
            line = self._read_line(deadline)
            reply = json.loads(line)
            if not isinstance(reply, dict) or reply.get("id") != request_id:
                raise SdkHarnessError(f"bad reply to request {request_id}: {line[:500]!r}")
        except BaseException:
            self._kill()
            raise
        return reply

    def _write(self, payload: bytes, deadline: float) -> None:
        assert self._proc is not None
        assert self._proc.stdin is not None
        fd = self._proc.stdin.fileno()
        os.set_blocking(fd, False)
        view = memoryview(payload)
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_WRITE)
            while view:
                if not selector.select(self._remaining(deadline, "writing")):
                    continue
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:
                    continue
                except BrokenPipeError as exc:
                    raise self._died() from exc

    def _read_line(self, deadline: float) -> bytes:
        assert self._proc is not None
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while (end := self._buffer.find(b"\n")) < 0:
                if not selector.select(self._remaining(deadline, "waiting for a reply")):
                    continue
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise self._died()
                self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def _remaining(self, deadline: float, doing: str) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SdkTimeout(f"the SDK harness timed out {doing}; stderr:\n{self.stderr_tail()}")
        return remaining

    def _died(self) -> SdkHarnessError:
        assert self._proc is not None
        try:
            code: int | None = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None  # it closed its stdout but lives on; _kill ends it
        return SdkHarnessError(f"the SDK harness exited ({code}); stderr:\n{self.stderr_tail()}")

    def _kill(self) -> None:
        """Kill a process in an unknown state; the next call starts a new one."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
