"""The account store and slot clock behind localnet's RPC.

Every write goes through `Ledger.set_account`, which stamps the current slot, keeps
the version in a bounded history (`account_at` reads an account as of a past slot)
and tells the listeners (the pubsub side) synchronously, so a subscriber never
misses a change. `Ledger.load` fills an empty ledger at once (a snapshot), without
notifications.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import base58

from localnet.errors import INVALID_PARAMS, RpcError
from localnet.history import AccountHistory, HistoryConfig

__all__ = [
    "DEFAULT_START_SLOT",
    "RENT_EPOCH",
    "Account",
    "AccountListener",
    "Ledger",
    "SlotListener",
    "matches_filters",
]

RENT_EPOCH = 18_446_744_073_709_551_615  # u64::MAX: rent-exempt, as every account is now
DEFAULT_START_SLOT = 300_000_000


@dataclass(frozen=True, slots=True)
class Account:
    """An account as a Solana node stores it."""

    data: bytes
    owner: str
    lamports: int = 10_000_000
    executable: bool = False
    slot: int = 0  # the slot it was last written in
    rent_epoch: int = RENT_EPOCH

    def to_json(
        self,
        encoding: str = "base64",
        data_slice: Mapping[str, Any] | None = None,
        *,
        corrupt: bool = False,
    ) -> dict[str, Any]:
        """The account as JSON-RPC returns it; `corrupt` cuts the data in half (a fault)."""
        data = self.data[: len(self.data) // 2] if corrupt else self.data
        if data_slice is not None:
            offset, length = int(data_slice.get("offset", 0)), int(data_slice.get("length", 0))
            data = data[offset : offset + length]
        if encoding == "base64":
            encoded: Any = [base64.b64encode(data).decode(), "base64"]
        elif encoding == "base58":
            encoded = [base58.b58encode(data).decode(), "base58"]
        else:
            raise RpcError(INVALID_PARAMS, f"unsupported encoding {encoding!r}: use base64")
        return {
            "data": encoded,
            "executable": self.executable,
            "lamports": self.lamports,
            "owner": self.owner,
            "rentEpoch": self.rent_epoch,
            "space": len(self.data),
        }


AccountListener = Callable[[str, Account], None]
SlotListener = Callable[[int], None]


def _filter_bytes(memcmp: Mapping[str, Any]) -> bytes:
    raw = memcmp.get("bytes")
    if not isinstance(raw, str):
        raise RpcError(INVALID_PARAMS, "memcmp filter needs 'bytes' as a string")
    try:
        if memcmp.get("encoding", "base58") == "base64":
            return base64.b64decode(raw, validate=True)
        return base58.b58decode(raw)
    except ValueError as exc:
        raise RpcError(INVALID_PARAMS, f"memcmp bytes do not decode: {exc}") from exc


def matches_filters(data: bytes, filters: object) -> bool:
    """Solana's getProgramAccounts filters: `dataSize` and `memcmp` (all must hold)."""
    if filters is None:
        return True
    if not isinstance(filters, list):
        raise RpcError(INVALID_PARAMS, "filters must be a list")
    for f in filters:
        if not isinstance(f, dict):
            raise RpcError(INVALID_PARAMS, "each filter must be an object")
        if "dataSize" in f:
            if len(data) != f["dataSize"]:
                return False
        elif "memcmp" in f and isinstance(f["memcmp"], dict):
            offset = f["memcmp"].get("offset", 0)
            if not isinstance(offset, int) or offset < 0:
                raise RpcError(INVALID_PARAMS, "memcmp offset must be a non-negative integer")
            want = _filter_bytes(f["memcmp"])
            if data[offset : offset + len(want)] != want:
                return False
        else:
            raise RpcError(INVALID_PARAMS, f"unsupported filter {f!r}")
    return True


class Ledger:
    """Accounts by base58 address, their recent versions, the current slot, and change
    listeners."""

    def __init__(
        self, slot: int = DEFAULT_START_SLOT, history: HistoryConfig | None = None
    ) -> None:
        self.slot = slot
        self._accounts: dict[str, Account] = {}
        self.history = AccountHistory(history)
        self._account_listeners: list[AccountListener] = []
        self._slot_listeners: list[SlotListener] = []

    def __len__(self) -> int:
        return len(self._accounts)

    def get(self, address: str) -> Account | None:
        return self._accounts.get(address)

    def set_account(self, address: object, data: bytes, owner: object) -> Account:
        """Write an account at the current slot and notify every listener.

        An account has one version per slot, as a validator's notifications give it: a
        second write to the same account in a slot moves the clock to the next slot
        first, so every version a subscriber sees is the one history keeps for its slot.
        A write changes data and owner; lamports, executable and rent epoch stay.
        """
        key = str(address)
        previous = self._accounts.get(key)
        if previous is None:
            account = Account(data=data, owner=str(owner), slot=self.slot)
        else:
            if previous.slot >= self.slot:
                self.advance_slot()
            account = dataclasses.replace(previous, data=data, owner=str(owner), slot=self.slot)
        self._accounts[key] = account
        self.history.record(key, account, self.slot)
        for listener in self._account_listeners:
            listener(key, account)
        return account

    def load(self, accounts: Mapping[str, Account], slot: int) -> None:
        """Fill an empty ledger with `accounts` as they are and set the clock to `slot`.

        Each account keeps its own `slot` (when it was read; none may be after `slot`),
        is recorded in the history, and no listener is told (nobody can be subscribed
        to accounts that did not exist).
        """
        if self._accounts:
            raise RuntimeError("Ledger.load needs an empty ledger")
        late = [key for key, account in accounts.items() if account.slot > slot]
        if late:
            raise ValueError(f"accounts written after slot {slot}: {sorted(late)[:5]}")
        self.slot = slot
        for key, account in accounts.items():
            self._accounts[key] = account
            self.history.record(key, account, slot)

    def account_at(self, address: str, slot: int) -> Account | None:
        """The account as of `slot` (its last write in a slot <= `slot`); None if it did
        not exist then; `localnet.history.NotKept` if that is older than the history."""
        return self.history.at(address, slot, self.slot)

    def program_accounts(self, owner: str, filters: object = None) -> Iterator[tuple[str, Account]]:
        for key, account in self._accounts.items():
            if account.owner == owner and matches_filters(account.data, filters):
                yield key, account

    def advance_slot(self) -> int:
        self.slot += 1
        for listener in self._slot_listeners:
            listener(self.slot)
        return self.slot

    def on_account(self, listener: AccountListener) -> Callable[[], None]:
        """Call `listener(address, account)` on every write; returns the remover."""
        self._account_listeners.append(listener)
        return lambda: self._account_listeners.remove(listener)

    def on_slot(self, listener: SlotListener) -> Callable[[], None]:
        self._slot_listeners.append(listener)
        return lambda: self._slot_listeners.remove(listener)
