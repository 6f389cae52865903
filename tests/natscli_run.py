"""The real nats CLI (natscli) in tests: where `make` puts it, an environment that keeps
it out of the user's home, and three ways to run it: to completion, streaming until
enough was read, and in a terminal (`nats stream view` refuses to run without one).

natscli reads `~/.config/nats` (contexts) and makes `~/.local/share/nats/cli/plugins` on
every start; `Sandbox` points HOME, XDG_CONFIG_HOME and XDG_DATA_HOME at a temporary
folder so a test can check what it wrote there, and drops the caller's NATS_* variables
(NATS_URL would override a context's server).
"""

from __future__ import annotations

import asyncio
import os
import pty
import re
import selectors
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

__all__ = ["NATSCLI", "Result", "Sandbox", "natscli", "pinned_version", "read_lines"]

ROOT = Path(__file__).resolve().parent.parent
NATSCLI = ROOT / ".tools" / "bin" / "nats"

# A terminal's answer to "where is the cursor?" (ESC [ 6 n): the prompt library asks.
_CURSOR_QUERY = b"\x1b[6n"
_CURSOR_AT = b"\x1b[1;1R"


def pinned_version() -> str:
    """The natscli version the Makefile installs (NATSCLI_VERSION)."""
    found = re.search(r"^NATSCLI_VERSION\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert found is not None, "Makefile: no NATSCLI_VERSION"
    return found.group(1)


def natscli() -> Path:
    """The nats CLI `make` built into .tools/bin; a test fails (never skips) without it."""
    if not os.access(NATSCLI, os.X_OK):
        pytest.fail(
            f"{NATSCLI} is missing: run make (it builds natscli {pinned_version()} with Go)"
        )
    return NATSCLI


def _command(argv: list[str]) -> tuple[str, ...]:
    """A README command line's arguments, with `make`'s nats in place of `nats`."""
    assert argv[0] == "nats", argv
    return (str(natscli()), *argv[1:])


@dataclass(frozen=True)
class Result:
    """One finished nats command: exit code and its two streams."""

    argv: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:  # what an assertion shows: the command and what it said
        return f"$ {' '.join(self.argv)}\nexit {self.code}\n{self.stdout}\n{self.stderr}"


@dataclass(frozen=True)
class Sandbox:
    """A working directory and a home of its own for the nats CLI."""

    cwd: Path
    home: Path

    @property
    def config_home(self) -> Path:
        return self.home / "xdg-config"

    @property
    def data_home(self) -> Path:
        return self.home / "xdg-data"

    def env(self, **extra: str) -> dict[str, str]:
        """The caller's environment without NATS_* and XDG_*, home in the sandbox."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "XDG_"))}
        env.update(
            HOME=str(self.home / "home"),
            XDG_CONFIG_HOME=str(self.config_home),
            XDG_DATA_HOME=str(self.data_home),
            **extra,
        )
        return env

    def written(self) -> list[str]:
        """Every path under the sandbox's home folders, relative, sorted."""
        return sorted(str(p.relative_to(self.home)) for p in self.home.rglob("*"))

    def make(self) -> Sandbox:
        """Create the (empty) home folders; the sandbox, for chaining."""
        for path in (self.home / "home", self.config_home, self.data_home):
            path.mkdir(parents=True, exist_ok=True)
        return self

    def run(self, argv: list[str], env: dict[str, str], timeout: float = 20) -> Result:
        """Run `nats ARGS` to completion (stdin empty: natscli reads it when it is a pipe)."""
        done = subprocess.run(
            _command(argv),
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(tuple(argv), done.returncode, done.stdout, done.stderr)

    async def run_async(self, argv: list[str], env: dict[str, str], timeout: float = 20) -> Result:
        """`run` for a test that awaits other things meanwhile (several commands at once)."""
        proc = await asyncio.create_subprocess_exec(
            *_command(argv),
            cwd=self.cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode is not None
        return Result(tuple(argv), proc.returncode, out.decode(), err.decode())

    def stream(
        self,
        argv: list[str],
        env: dict[str, str],
        enough: Callable[[list[str]], bool],
        timeout: float = 20,
    ) -> list[str]:
        """Run a command that streams forever; its stdout lines once `enough` holds.

        The process is killed and reaped whatever happens."""
        proc = subprocess.Popen(
            _command(argv),
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert proc.stdout is not None
            return read_lines(proc.stdout, enough, timeout, " ".join(argv))
        finally:
            proc.kill()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()

    def in_terminal(
        self,
        argv: list[str],
        env: dict[str, str],
        prompt: bytes,
        answer: bytes,
        timeout: float = 20,
    ) -> Result:
        """Run a command on a pseudo-terminal that types `answer` at `prompt` (e.g.
        `n\\r` at "(Y/n)"), answering the cursor-position queries of natscli's prompt
        library as a terminal does. stdout and stderr are one stream there.

        The prompt asks for the cursor twice before it reads keys, and keys that arrive
        with a cursor report can be lost: the answer is typed again each time the
        terminal stays quiet for 0.3 s (nothing signals that the prompt is reading)."""
        main, child = pty.openpty()
        proc = subprocess.Popen(
            _command(argv),
            cwd=self.cwd,
            env={**env, "TERM": "xterm"},
            stdin=child,
            stdout=child,
            stderr=child,
            start_new_session=True,
        )
        os.close(child)
        seen = b""
        answered = 0
        typed = False
        try:
            deadline = time.monotonic() + timeout
            with selectors.DefaultSelector() as selector:
                selector.register(main, selectors.EVENT_READ)
                while proc.poll() is None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise AssertionError(
                            f"{' '.join(argv)}: no exit after {timeout}s: {seen!r}"
                        )
                    if not selector.select(min(left, 0.3)):
                        if typed:  # quiet: the keys were lost, or it exits (poll again)
                            os.write(main, answer)
                        continue
                    try:
                        chunk = os.read(main, 65536)
                    except OSError:  # EIO: the terminal's other side is closed
                        break
                    seen += chunk
                    while seen.count(_CURSOR_QUERY) > answered:
                        os.write(main, _CURSOR_AT)
                        answered += 1
                    at = seen.find(prompt)
                    if not typed and at >= 0 and seen[at:].count(_CURSOR_QUERY) >= 2:
                        os.write(main, answer)
                        typed = True
            code = proc.wait(timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            os.close(main)
        return Result(tuple(argv), code, seen.decode(errors="replace"), "")


def read_lines(
    stream: IO[bytes], enough: Callable[[list[str]], bool], timeout: float, what: str
) -> list[str]:
    """Lines of a process's output (read as they come) until `enough` of them holds;
    AssertionError when the output ends or `timeout` seconds pass first."""
    lines: list[str] = []
    buffer = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while not enough(lines):
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise AssertionError(f"{what}: not enough output in {timeout} s: {lines}")
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"{what}: output ended: {lines}")
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            lines += [line.decode() for line in complete]
    return lines
