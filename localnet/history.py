"""A bounded history of account versions, to read an account as of a past slot.

Each write is kept as a version stamped with its slot. Per account at most
`max_versions` are kept, and versions older than `window_slots` behind the current
slot are dropped (except the newest of them, which is still the account's value at
the start of the window), so memory stays bounded however long the simulation runs.
An account as of slot S is its last version written in a slot <= S.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localnet.ledger import Account

__all__ = [
    "DEFAULT_MAX_VERSIONS",
    "DEFAULT_WINDOW_SLOTS",
    "AccountHistory",
    "HistoryConfig",
    "NotKept",
]

DEFAULT_WINDOW_SLOTS = 512
DEFAULT_MAX_VERSIONS = 64


class NotKept(LookupError):
    """The account's version at that slot is not (or no longer) known."""


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """How much history to keep."""

    window_slots: int = DEFAULT_WINDOW_SLOTS
    max_versions: int = DEFAULT_MAX_VERSIONS

    def __post_init__(self) -> None:
        if self.window_slots < 1 or self.max_versions < 1:
            raise ValueError("history window_slots and max_versions must be at least 1")


class AccountHistory:
    """Versions of every account, bounded by a `HistoryConfig`."""

    def __init__(self, config: HistoryConfig | None = None) -> None:
        self.config = config or HistoryConfig()
        self._versions: dict[str, deque[Account]] = {}
        self._dropped: dict[str, int] = {}  # account -> slot of its newest dropped version

    def __len__(self) -> int:
        """How many versions are kept, over all accounts."""
        return sum(len(v) for v in self._versions.values())

    def record(self, address: str, account: Account, current_slot: int) -> None:
        versions = self._versions.get(address)
        if versions is None:
            versions = self._versions[address] = deque()
        versions.append(account)
        cutoff = current_slot - self.config.window_slots
        while len(versions) > self.config.max_versions or (
            len(versions) > 1 and versions[1].slot <= cutoff
        ):
            self._dropped[address] = versions.popleft().slot

    def at(self, address: str, slot: int, current_slot: int) -> Account | None:
        """The account as of `slot`; None if it did not exist then.

        NotKept if `slot` is before the window or before the oldest kept version.
        """
        if slot < current_slot - self.config.window_slots:
            raise NotKept(
                f"slot {slot} is older than the {self.config.window_slots} slots of history kept"
                f" (current slot {current_slot})"
            )
        versions = self._versions.get(address, deque())
        for account in reversed(versions):
            if account.slot <= slot:
                return account
        if address in self._dropped:
            raise NotKept(f"versions of {address} before slot {versions[0].slot} are not kept")
        return None
