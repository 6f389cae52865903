"""Running `ip` and `nft`: found once (root's PATH may lack /usr/sbin), run with their
stderr kept, a failure raised as `NetnsError` naming the command.

`run` is for the event loop (building hosts, applying faults); `run_sync` for paths that
must not be interrupted by cancellation (cleanup, `sweep`, atexit).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from functools import cache

from tests.netns.errors import NetnsError

__all__ = ["run", "run_sync", "tool"]

_SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])
_PACKAGES = {"ip": "iproute2", "nft": "nftables"}


@cache
def tool(name: str) -> str:
    """The path of `ip` or `nft`; NetnsError naming the Debian package if missing."""
    found = shutil.which(name, path=_SEARCH)
    if found is None:
        package = _PACKAGES.get(name, name)
        raise NetnsError(f"`{name}` is not installed: apt-get install -y {package}")
    return found


def _failed(argv: tuple[str, ...], code: int, stderr: bytes) -> NetnsError:
    command = " ".join(argv)
    return NetnsError(f"`{command}` exited {code}: {stderr.decode(errors='replace').strip()}")


async def run(*argv: str, stdin: str | None = None, check: bool = True) -> str:
    """Run `argv` (argv[0] looked up with `tool`), feeding `stdin`; its stdout."""
    full = (tool(argv[0]), *argv[1:])
    process = await asyncio.create_subprocess_exec(
        *full,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    if check and process.returncode != 0:
        raise _failed(argv, process.returncode or 0, err)
    return out.decode()


def run_sync(*argv: str, stdin: str | None = None, check: bool = True) -> str:
    """`run`, blocking: for cleanup, which a cancellation must not cut short."""
    full = (tool(argv[0]), *argv[1:])
    done = subprocess.run(
        full, input=stdin.encode() if stdin is not None else None, capture_output=True, check=False
    )
    if check and done.returncode != 0:
        raise _failed(argv, done.returncode, done.stderr)
    return done.stdout.decode()
