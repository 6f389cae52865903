"""Processes spawned in hosts: started in the host's namespace, each in a process group
of its own, told by the kernel to die with the harness, stopped by the lab.

- `Processes.spawn` starts `argv` with `start_new_session=True` (its own session and
  process group, pgid == pid) and a `preexec_fn` that, in the child before exec, enters
  the host's namespace (setns(2) on `/run/netns/<netns>`, opened by the parent so a
  missing namespace fails there) and then runs `streamer.nats_process.die_with_parent`
  (PR_SET_PDEATHSIG: SIGTERM when the harness's thread dies, SIGKILL included). So
  the program is in its host from its first instruction, under its own pid (with
  `ip netns exec` it would run as `ip` in the root namespace for a moment).
- Signals go to the whole process group (`send_signal`, `kill`, `pause` = SIGSTOP,
  `resume` = SIGCONT), so whatever a program started freezes and dies with it. A group
  that is already gone is not an error.
- `Processes.stop_all(grace)`: SIGTERM and SIGCONT (a paused process could not act on
  SIGTERM) to every group still running, up to `grace` seconds for them to exit, then
  SIGKILL to each of those groups (a leader that exited may leave members) and reap.
  `kill_all_now` is the synchronous SIGKILL for paths that cannot wait (cancellation,
  atexit). Processes that left their group (setsid) are found by `runs.remove_run`,
  which kills every process still in a lab's namespaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from streamer.nats_process import die_with_parent
from tests.netns.errors import NetnsError
from tests.netns.setns import enter

__all__ = ["Processes", "Stream", "kill", "pause", "resume", "send_signal"]

log = logging.getLogger("drift_stream.tests.netns")

Process = asyncio.subprocess.Process
Stream = int | IO[Any] | None  # what subprocess takes for stdin, stdout, stderr
_REAP_TIMEOUT = 5.0


def send_signal(process: Process, sig: signal.Signals) -> None:
    """Send `sig` to the process group of a spawned process (no-op if it is gone)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def kill(process: Process) -> None:
    """SIGKILL the spawned process's group."""
    send_signal(process, signal.SIGKILL)


def pause(process: Process) -> None:
    """SIGSTOP the spawned process's group (it keeps its sockets, answers nothing)."""
    send_signal(process, signal.SIGSTOP)


def resume(process: Process) -> None:
    """SIGCONT the spawned process's group."""
    send_signal(process, signal.SIGCONT)


def _in_namespace(fd: int, then: Callable[[], None] | None) -> Callable[[], None]:
    """A `preexec_fn`: enter the namespace open as `fd`, then run `then`. (The fd is
    still open here: subprocess closes fds only after `preexec_fn`; CLOEXEC at exec.)"""

    def preexec() -> None:
        enter(fd)
        if then is not None:
            then()

    return preexec


class Processes:
    """Every process a lab spawned, so the lab can stop those still running."""

    def __init__(self) -> None:
        self._spawned: list[Process] = []

    async def spawn(
        self,
        netns: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        stdin: Stream = subprocess.DEVNULL,
        stdout: Stream = None,
        stderr: Stream = None,
    ) -> Process:
        """Start `argv` inside `netns`, tracked until `stop_all`."""
        try:
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise NetnsError(f"no network namespace {netns}: {exc}") from exc
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                env=env,
                cwd=cwd,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                preexec_fn=_in_namespace(fd, die_with_parent()),
            )
        finally:
            os.close(fd)
        self._spawned.append(process)
        return process

    async def stop_all(self, grace: float) -> None:
        """SIGTERM (and SIGCONT) every running group, SIGKILL after `grace` s, reap."""
        running = [process for process in self._spawned if process.returncode is None]
        self._spawned.clear()
        if not running:
            return
        for process in running:
            send_signal(process, signal.SIGTERM)
            send_signal(process, signal.SIGCONT)
        waits = {asyncio.ensure_future(process.wait()): process for process in running}
        try:
            await asyncio.wait(waits, timeout=grace)
            for process in running:
                kill(process)
            _, stuck = await asyncio.wait(waits, timeout=_REAP_TIMEOUT)
            for wait in stuck:
                log.warning(
                    "pid %d did not exit %s s after SIGKILL", waits[wait].pid, _REAP_TIMEOUT
                )
        finally:
            for wait in waits:
                wait.cancel()

    def kill_all_now(self) -> None:
        """SIGKILL every group still running, without waiting (cancellation, atexit)."""
        for process in self._spawned:
            if process.returncode is None:
                kill(process)
        self._spawned.clear()
