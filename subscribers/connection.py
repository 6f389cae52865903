"""Connecting to NATS: one URL or a comma-separated cluster seed list, credentials that
fail fast, and NATS errors logged without flooding.

nats-py retries a refused password forever when reconnects are unlimited (its first
connect loops while the server answers `Authorization Violation`); `connect` stops at
the first refusal with `AuthenticationError` instead. A permissions violation at run
time (the server refuses one publish or subscription but keeps the connection) is
logged once per subject by `ErrorLog`, then counted quietly.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from nats.aio.client import Client
from nats.errors import AuthorizationError

from subscribers.errors import AuthenticationError

__all__ = ["ErrorLog", "connect", "drop_pending", "is_auth_error", "public_url", "server_list"]

_AUTH_REFUSALS = ("authorization violation", "authentication expired", "authentication timeout")
_PERMISSION = re.compile(r"permissions violation for (\w+) to \"?([^\"']+)", re.IGNORECASE)


def server_list(url: str) -> list[str]:
    """`nats://a:4222,nats://b:4222` -> both URLs: a cluster's seed list (nats-py also
    learns the other nodes from the one it reaches, but must reach one to start)."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError("no NATS server URL given")
    return servers


def public_url(url: str) -> str:
    """The URL(s) with every password hidden (`nats://engine:***@host:4222`); the user
    name stays, it tells which credentials were used."""
    shown = []
    for server in server_list(url):
        try:
            parts = urlsplit(server)
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port is not None else ""
        except ValueError:
            shown.append("<url>")
            continue
        user = f"{parts.username}:***@" if parts.username else ""
        if parts.username and not parts.password:  # a token alone
            user = "***@"
        shown.append(f"{parts.scheme}://{user}{host}{port}")
    return ",".join(shown)


def is_auth_error(exc: BaseException) -> bool:
    """Whether NATS refused the credentials (not a network failure)."""
    if isinstance(exc, AuthorizationError):
        return True
    text = str(exc).lower()
    return any(refusal in text for refusal in _AUTH_REFUSALS)


ErrorCallback = Callable[[Exception], Awaitable[None]]


async def connect(url: str, *, error_cb: ErrorCallback | None = None, **options: Any) -> Client:
    """`nats.connect` to `url` (one URL or a seed list) with `options`, except that a
    refused password raises `AuthenticationError` at once instead of being retried;
    `error_cb` sees every other error as before."""
    nc = Client()
    connecting = True
    disconnected = options.pop("disconnected_cb", None)

    async def on_disconnected() -> None:
        if not connecting and disconnected is not None:  # not a refused first connect
            await disconnected()

    async def on_error(exc: Exception) -> None:
        if connecting and is_auth_error(exc):
            # nats-py awaits this inside its connect loop: raising ends the loop
            raise AuthenticationError(public_url(url), _reason(exc)) from exc
        if error_cb is not None:
            await error_cb(exc)

    try:
        await nc.connect(
            server_list(url), error_cb=on_error, disconnected_cb=on_disconnected, **options
        )
    except AuthenticationError:
        await nc.close()
        raise
    except Exception as exc:
        if is_auth_error(exc):  # refused with reconnects off: converted the same way
            await nc.close()
            raise AuthenticationError(public_url(url), _reason(exc)) from exc
        raise
    finally:
        connecting = False
    return nc


def drop_pending(nc: Client) -> int:
    """Drop what nats-py buffered for a connection that broke (it would send it after the
    reconnect); the number of bytes dropped. A writer whose requests then time out
    retries them with fresh values, instead of having stale ones land late."""
    dropped = nc._pending_data_size
    nc._pending = []
    nc._pending_data_size = 0
    return dropped


def _reason(exc: BaseException) -> str:
    text = str(exc).removeprefix("nats: ").strip().strip("'")
    return text or type(exc).__name__


class ErrorLog:
    """Logs a NATS client's errors without flooding: a permissions violation once per
    (operation, subject) for the connection's life; a refused password or any other
    error once per kind until the next successful (re)connect, when the connection is
    lost and retried twice a second. `counts` keeps how often each was seen. nats-py
    reports server errors in lower case, subjects included."""

    def __init__(self, log: logging.Logger, who: str, extra: dict[str, Any] | None = None) -> None:
        self._log = log
        self._who = who
        self._extra = extra or {}
        self._until_connected: set[str] = set()
        self._refusals: dict[str, asyncio.Event] = {}
        self.counts: dict[str, int] = {}

    def refusal(self, subject: str) -> asyncio.Event:
        """An event set when NATS refuses a publish to `subject` (matched regardless of
        case: nats-py lowercases the server's message)."""
        return self._refusals.setdefault(f"publish to {subject.lower()}", asyncio.Event())

    async def __call__(self, exc: Exception) -> None:
        permission = _PERMISSION.search(str(exc))
        if permission is not None:
            key = f"{permission.group(1).lower()} to {permission.group(2)}"
            refused = self._refusals.get(key.lower())
            if refused is not None:
                refused.set()
            if self._count(key) == 1:
                self._log.error(
                    "%s: NATS refused to %s (permissions); not logged again",
                    self._who,
                    key,
                    extra=self._extra,
                )
            return
        kind = "auth" if is_auth_error(exc) else type(exc).__name__
        self._count(kind)
        if kind in self._until_connected:
            return
        self._until_connected.add(kind)
        if kind == "auth":
            self._log.error(
                "%s: NATS refused the credentials: %s", self._who, _reason(exc), extra=self._extra
            )
        elif isinstance(exc, OSError | TimeoutError):
            self._log.warning(
                "%s: cannot reach NATS (%r); retrying, logged again only after a reconnect",
                self._who,
                exc,
                extra=self._extra,
            )
        else:
            self._log.warning("%s: NATS: %r", self._who, exc, extra=self._extra)

    def connected(self) -> None:
        """A (re)connect succeeded: the next failure of each kind is logged again."""
        self._until_connected.clear()

    def _count(self, key: str) -> int:
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]
