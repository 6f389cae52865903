"""Processes of a benchmark run: start and stop them, read their memory and CPU from
/proc (no psutil)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["cpu_seconds", "machine_ticks", "pss_mb", "python", "rss_mb", "stop_all"]

_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (0 once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional memory in MB: shared pages (libraries, the interpreter) divided
    among the processes that map them, so a sum over processes does not count them
    twice (0 once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat: two readings
    give how busy it was between them, whoever used it."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


async def python(
    module: str,
    *args: str,
    env: dict[str, str] | None = None,
    nice: int = 0,
    stdin: bool = False,
) -> asyncio.subprocess.Process:
    """`python -m module args...` with stdout piped (each prints JSON lines), `nice`
    steps below this process's priority; with `stdin`, its input piped too."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )


async def stop_all(procs: Sequence[asyncio.subprocess.Process], within: float = 20.0) -> None:
    """SIGTERM each, then SIGKILL what is still running after `within` seconds."""
    for proc in procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
    waits = [asyncio.ensure_future(p.wait()) for p in procs]
    if waits:
        _, pending = await asyncio.wait(waits, timeout=within)
        for proc in procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        if pending:
            await asyncio.wait(pending)
