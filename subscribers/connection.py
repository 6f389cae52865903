"""NATS URLs as the settings hold them: one URL, or several separated by commas."""

from __future__ import annotations

__all__ = ["server_list"]


def server_list(url: str) -> list[str]:
    """`nats://a:4222,nats://b:4222` -> both URLs: a cluster's seed list (nats-py also
    learns the other nodes from the one it reaches, but must reach one to start)."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError("no NATS server URL given")
    return servers
