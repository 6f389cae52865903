"""Runs: the names one lab uses, who owns them, and removing what dead owners left.

Names. Every lab is a run with a 6-hex-digit random id, and every name it makes in the
root namespace starts with `dsn<run>`: the bridge `dsn<run>br`, the root end of host
i's veth `dsn<run>v<i>` (13 characters at most: IFNAMSIZ allows 15), the namespaces
`dsn<run>-<host>`. The host's end of its veth is created inside its namespace as
`eth0`, so it never exists in the root namespace and cannot collide.

Owners. Before it makes any name, a lab claims its run under an flock on
`/run/drift-stream-netns/lock`: a run id no state file, namespace or link uses yet,
then `/run/drift-stream-netns/<run>.json` = `{run, pid, start, subnet}` (`start` is the
owner's start time from /proc, so a reused pid is not mistaken for the owner). The
file is removed after the lab's last name is gone.

Sweep. Under the same lock, a run whose owner is dead (no such pid, or a pid with
another start time) is removed: SIGKILL to every process in its namespaces, its veths
and bridge deleted, its namespaces deleted, then its state file. Names with the prefix
and no state file at all are removed too (a live lab writes its file before its first
name and removes it after its last one, so such names have no owner). `/run` is a
tmpfs: a reboot clears state files and namespaces together.

Subnet. A random 10.x.y.0/24 that overlaps no IPv4 address or route of the root
namespace (every table) and no subnet claimed by another live run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from tests.netns.commands import run_sync
from tests.netns.errors import NetnsError

__all__ = [
    "STATE_DIR",
    "Claim",
    "RunNames",
    "claim",
    "link_names",
    "locked",
    "netns_names",
    "sweep",
]

STATE_DIR = Path("/run/drift-stream-netns")
PREFIX = "dsn"
_NAME = re.compile(rf"^{PREFIX}([0-9a-f]{{6}})(?:br|v\d+|-[a-z0-9-]+)$")
_ATTEMPTS = 200


@dataclass(frozen=True)
class RunNames:
    """The names of run `run` (see the module docstring)."""

    run: str

    @property
    def bridge(self) -> str:
        return f"{PREFIX}{self.run}br"

    def veth(self, index: int) -> str:
        """The root end of host `index`'s veth (its other end is `eth0` in the host)."""
        return f"{PREFIX}{self.run}v{index}"

    def netns(self, host: str) -> str:
        return f"{PREFIX}{self.run}-{host}"


@dataclass(frozen=True)
class Claim:
    """A run claimed for this process: its names, its subnet, its state file."""

    names: RunNames
    subnet: IPv4Network
    state_file: Path


def run_of(name: str) -> str | None:
    """The run id in a harness name, None for any other name."""
    match = _NAME.match(name)
    return match.group(1) if match else None


def netns_names() -> list[str]:
    """Every named network namespace (`ip netns list`)."""
    return [str(entry["name"]) for entry in _json("ip", "-j", "netns", "list")]


def link_names() -> list[str]:
    """Every link of the root namespace (`ip link`)."""
    return [str(entry["ifname"]) for entry in _json("ip", "-j", "link", "show")]


def claim() -> Claim:
    """Sweep dead runs, then claim a fresh run id and a free /24 for this process."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with locked():
        _sweep_locked()
        used = {run_of(name) for name in netns_names() + link_names()}
        records = [record for _, record in _records()]
        subnet = _free_subnet([IPv4Network(str(r["subnet"])) for r in records if "subnet" in r])
        for _ in range(_ATTEMPTS):
            run = secrets.token_hex(3)
            state_file = STATE_DIR / f"{run}.json"
            if run in used:
                continue
            record = {"run": run, "pid": os.getpid(), "start": _start_time(os.getpid())}
            record["subnet"] = str(subnet)
            try:
                with state_file.open("x") as f:
                    f.write(json.dumps(record) + "\n")
            except FileExistsError:
                continue
            return Claim(RunNames(run), subnet, state_file)
    raise NetnsError(f"no free run id after {_ATTEMPTS} tries")


def sweep() -> list[str]:
    """Remove every run whose owner process is dead; the run ids removed."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with locked():
        return _sweep_locked()


def remove_run(run: str) -> None:
    """Kill the processes in run `run`'s namespaces, delete its links and namespaces,
    then its state file; NetnsError if a name is still there afterwards."""
    spaces = [name for name in netns_names() if run_of(name) == run]
    for space in spaces:
        for pid in run_sync("ip", "netns", "pids", space, check=False).split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    # veths before the bridge (sorted: "...br" < "...v1"), so ports leave it first
    links = sorted((name for name in link_names() if run_of(name) == run), reverse=True)
    batch = [f"link del {name}" for name in links] + [f"netns del {name}" for name in spaces]
    if batch:
        run_sync("ip", "-force", "-batch", "-", stdin="\n".join(batch) + "\n", check=False)
    left = [name for name in netns_names() + link_names() if run_of(name) == run]
    if left:
        raise NetnsError(f"run {run}: could not remove {', '.join(left)}")
    (STATE_DIR / f"{run}.json").unlink(missing_ok=True)


def _sweep_locked() -> list[str]:
    live = {str(record.get("run")) for _, record in _records() if _owner_alive(record)}
    dead = {run_of(name) for name in netns_names() + link_names()}
    dead |= {str(record.get("run")) for _, record in _records()}
    removed = sorted(run for run in dead if run is not None and run not in live)
    for run in removed:
        remove_run(run)
    return removed


def _records() -> Iterator[tuple[Path, dict[str, object]]]:
    for path in sorted(STATE_DIR.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            record = {}
        if not isinstance(record, dict):
            record = {}
        record.setdefault("run", path.stem)  # an unreadable file still names its run
        yield path, record


def _owner_alive(record: dict[str, object]) -> bool:
    pid, start = record.get("pid"), record.get("start")
    return isinstance(pid, int) and start is not None and _start_time(pid) == start


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/pid/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _free_subnet(claimed: list[IPv4Network]) -> IPv4Network:
    used = list(claimed)
    for link in _json("ip", "-j", "-4", "addr", "show"):
        for addr in link.get("addr_info", []):
            used.append(IPv4Network(f"{addr['local']}/{addr['prefixlen']}", strict=False))
    for route in _json("ip", "-j", "-4", "route", "show", "table", "all"):
        destination = route.get("dst", "default")
        if destination != "default":
            used.append(IPv4Network(destination, strict=False))
    for _ in range(_ATTEMPTS):
        octets = secrets.randbelow(256), secrets.randbelow(256)
        candidate = IPv4Network(f"10.{octets[0]}.{octets[1]}.0/24")
        if not any(candidate.overlaps(network) for network in used):
            return candidate
    raise NetnsError("no free /24 in 10.0.0.0/8: every one tried overlaps an address or route")


def _json(*argv: str) -> list[dict[str, Any]]:
    out = run_sync(*argv).strip()
    parsed = json.loads(out) if out else []
    return parsed if isinstance(parsed, list) else []


@contextlib.contextmanager
def locked() -> Iterator[None]:
    with (STATE_DIR / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock
