"""The newest version of every account the feed follows, from reads and notifications.

Reads (getMultipleAccounts) and websocket notifications race: a refetch after a
reconnect may answer from an older slot than a notification that arrived meanwhile.
`AccountStore.put` keeps a version only when its slot is not older than the one held,
and keeps the held object when the bytes did not change (so a pass that finds the same
bytes reuses every decode and computed state). Decodes are cached per account version.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["AccountStore", "Version"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Version:
    """An account's bytes and the slot they were first seen at."""

    slot: int
    data: bytes


class AccountStore:
    """Account versions by base58 address; `changed` is set on every new version."""

    def __init__(self) -> None:
        self._versions: dict[str, Version] = {}
        self._decoded: dict[str, tuple[Version, Any]] = {}
        self.changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._versions)

    def __iter__(self) -> Iterator[str]:
        return iter(self._versions)

    def __contains__(self, key: object) -> bool:
        return key in self._versions

    def put(self, key: str, slot: int, data: bytes) -> bool:
        """Store `data` as of `slot` unless a newer version is held; True if it is new."""
        held = self._versions.get(key)
        if held is not None and (slot < held.slot or data == held.data):
            return False
        self._versions[key] = Version(slot, data)
        self.changed.set()
        return True

    def get(self, key: str) -> Version | None:
        return self._versions.get(key)

    def decoded(self, key: str, decode: Callable[[bytes], T]) -> tuple[T, int] | None:
        """`decode(bytes)` of the held version and its slot, decoded once per version
        (a key is always decoded by the same `decode`); None when no version is held.
        Raises what `decode` raises."""
        version = self._versions.get(key)
        if version is None:
            return None
        cached = self._decoded.get(key)
        if cached is not None and cached[0] is version:
            value: T = cached[1]
            return value, version.slot
        value = decode(version.data)
        self._decoded[key] = (version, value)
        return value, version.slot

    def discard(self, key: str) -> None:
        self._versions.pop(key, None)
        self._decoded.pop(key, None)
