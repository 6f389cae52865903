"""Which engine a connection is: the `<engine>` token of its presence keys.

`streamer.auth` gives each engine a NATS user of its own, allowed to write only the
presence keys `<net>.<user>.<consumer_id>`. So a client's engine is its connection's NATS
user when the connection names one (the user of its URL, `nats://funding-engine:pw@host`,
or nats-py's `user=` option), else the client's `name` (a server without users, or
credentials that name no user: a token, an nkey, a creds file; the name must then be
the user's). `register` puts the first presence value and turns NATS's refusal of that
key into one `EngineIdentityError` at once, not a timeout seconds later.
"""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

from nats.aio.client import Client

from schemas import SchemaError, validate_engine
from schemas.buckets import CONSUMERS_BUCKET
from schemas.subjects import kv_subject
from subscribers.connection import public_url
from subscribers.errors import EngineIdentityError
from subscribers.presence import Presence

__all__ = ["connection_url", "connection_user", "engine_of", "presence_subject", "register"]


def connection_user(nc: Client) -> str | None:
    """The NATS user a connection authenticated as, if its URL or options name one."""
    url = nc.connected_url
    user = (url.username if url is not None else None) or nc.options.get("user")
    return unquote(user) if user else None


def connection_url(nc: Client) -> str:
    """The server a connection reached, its password hidden (for error messages)."""
    url = nc.connected_url
    return public_url(url.geturl()) if url is not None else "<not connected>"


def engine_of(nc: Client, name: str) -> str:
    """The engine token of a client named `name` on `nc`: the connection's NATS user,
    else `name`. EngineIdentityError if it cannot be a key token."""
    user = connection_user(nc)
    try:
        return validate_engine(user or name)
    except SchemaError as exc:
        who = f"NATS user {user!r}" if user else f"client name {name!r} (no NATS user named)"
        message = f"{who} cannot name an engine: {exc}"
        raise EngineIdentityError(connection_url(nc), message) from exc


def presence_subject(presence: Presence) -> str:
    """The subject a presence value is published on (what a refusal names)."""
    return kv_subject(CONSUMERS_BUCKET, presence.key)


async def register(nc: Client, presence: Presence, refused: asyncio.Event) -> None:
    """Enter `presence` (its first put) on `nc`. EngineIdentityError as soon as `refused`
    is set (NATS refused the presence subject); any other failure of the put as it is."""
    entering = asyncio.ensure_future(presence.__aenter__())
    waiting = asyncio.ensure_future(refused.wait())
    try:
        await asyncio.wait({entering, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (entering, waiting):
            if not task.done():
                task.cancel()
        await asyncio.gather(entering, waiting, return_exceptions=True)
    if entering.cancelled() or entering.exception() is not None:
        if refused.is_set():
            message = _refused(connection_user(nc), presence)
            raise EngineIdentityError(connection_url(nc), message)
        entering.result()  # its own error


def _refused(user: str | None, presence: Presence) -> str:
    who = f"NATS user {user}" if user else "this connection (its URL names no NATS user)"
    return (
        f"{who} may not write presence for engine {presence.engine} (refused: "
        f"{presence_subject(presence)}); an engine connects as its own NATS user, named "
        "like the engine (`drift-stream users add NAME` makes one)"
    )
