"""Keep secrets out of logs, status and errors.

RPC URLs carry API keys (in the path, the query or the user part) and NATS URLs carry
passwords: anything shown to a person goes through `redact`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

__all__ = ["redact", "redact_url", "secret_parts"]

_URL = re.compile(r"\b(?:https?|wss?|nats|tls)://[^\s'\"<>()\[\]{},;]+")
_KEYISH = re.compile(r"[A-Za-z0-9_-]{20,}")


def redact_url(url: str) -> str:
    """`https://user:pw@rpc.example/abc...?api-key=x` -> `https://***@rpc.example/***`.

    Keeps scheme, host and port (enough to tell endpoints apart); drops user info, the
    query and any path segment long enough to be a key.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<url>"
    netloc = ("***@" if parts.username or parts.password else "") + host
    if port is not None:
        netloc += f":{port}"
    path = "/".join("***" if _KEYISH.fullmatch(seg) else seg for seg in parts.path.split("/"))
    return urlunsplit((parts.scheme, netloc, path, "***" if parts.query else "", ""))


def redact(value: Any) -> Any:
    """Redact every URL inside a string; other values pass through."""
    if isinstance(value, str) and "://" in value:
        return _URL.sub(lambda m: redact_url(m.group(0)), value)
    return value


def secret_parts(url: str) -> set[str]:
    """What `redact_url` hides of a URL (or of several, comma separated), as plain
    strings: the password, the query and its values, key-like path segments (a user
    name is no secret, and "streamer" must stay readable). The
    logs scrub these wherever they show, even in a library's line without the URL."""
    found: set[str] = set()
    for one in url.split(","):
        try:
            parts = urlsplit(one.strip())
        except ValueError:
            continue
        if parts.password:
            found.add(parts.password)
        if parts.query:
            found.add(parts.query)
            found.update(value for _, value in parse_qsl(parts.query) if value)
        found.update(seg for seg in parts.path.split("/") if _KEYISH.fullmatch(seg))
    found |= {unquote(part) for part in found}
    return {part for part in found if len(part) >= 6}
