"""A guard around one nats-py 2.16 bug, applied when the library is imported.

`Client._process_headers` raises IndexError (a header block of 8 bytes or less) or
UnicodeDecodeError (a non-UTF-8 status line) outside any try, and the connection's
read loop then stops: the client stays "connected" but deaf. Anyone who may publish
(an engine, on an api subject or as a presence value) could silence the streamer that
way (found by tests/test_fuzz.py). Unreadable headers now read as none, so the message
is dropped or skipped like any other malformed one, and the connection lives on.
"""

from __future__ import annotations

import logging
from typing import Any

from nats.aio.client import Client

__all__ = ["install"]

log = logging.getLogger("drift_stream.nats")


def install() -> None:
    """Wrap `Client._process_headers` once per process."""
    original: Any = Client._process_headers
    if getattr(original, "_drift_stream_guard", False):
        return

    async def process_headers(self: Client, headers: Any) -> Any:
        try:
            return await original(self, headers)
        except (IndexError, UnicodeDecodeError, ValueError) as exc:
            log.warning("dropped an unreadable NATS header block: %r", exc)
            return {}

    process_headers._drift_stream_guard = True  # type: ignore[attr-defined]
    Client._process_headers = process_headers  # type: ignore[method-assign]


install()
