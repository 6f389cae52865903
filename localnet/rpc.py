"""Solana JSON-RPC methods over the ledger, as plain functions of (params) -> result.

Only what a DriftClient and the Solana client around it call; anything else answers
METHOD_NOT_FOUND. Bad params answer INVALID_PARAMS with a message that says why. A
`minContextSlot` ahead of the current slot answers -32016, as a Solana node does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localnet.errors import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MIN_CONTEXT_SLOT_NOT_REACHED,
    RpcError,
)
from localnet.ledger import Account, Ledger, matches_filters

__all__ = ["BLOCKHASH", "RpcMethods", "address"]

BLOCKHASH = "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N"
_MAX_KEYS = 100  # getMultipleAccounts limit on a real node
_ADDRESS_CHARS = set("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")


def address(value: object) -> str:
    """A base58 account address, or RpcError INVALID_PARAMS."""
    if not isinstance(value, str) or not 32 <= len(value) <= 44 or not set(value) <= _ADDRESS_CHARS:
        raise RpcError(
            INVALID_PARAMS, f"Invalid param: {str(value)[:64]!r} is not a base58 address"
        )
    return value


def _config(params: list[Any], index: int) -> dict[str, Any]:
    if len(params) <= index or params[index] is None:
        return {}
    cfg = params[index]
    if not isinstance(cfg, dict):
        raise RpcError(INVALID_PARAMS, "Invalid params: configuration must be an object")
    return cfg


def _check_min_context_slot(cfg: dict[str, Any], slot: int) -> None:
    wanted = cfg.get("minContextSlot")
    if wanted is None:
        return
    if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < 0:
        raise RpcError(INVALID_PARAMS, "Invalid params: minContextSlot must be a slot number")
    if wanted > slot:
        raise RpcError(
            MIN_CONTEXT_SLOT_NOT_REACHED,
            "Minimum context slot has not been reached",
            {"contextSlot": slot},
        )


class RpcMethods:
    """The JSON-RPC methods localnet answers, bound to one ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self.corrupt = False  # the corrupt_accounts fault
        self._methods: dict[str, Callable[[list[Any]], Any]] = {
            "getAccountInfo": self.get_account_info,
            "getMultipleAccounts": self.get_multiple_accounts,
            "getProgramAccounts": self.get_program_accounts,
            "getSlot": self.get_slot,
            "getBlockHeight": lambda p: self._ledger.slot - 20_000_000,
            "getHealth": lambda p: "ok",
            "getVersion": lambda p: {"solana-core": "2.1.0", "feature-set": 1},
            "getGenesisHash": lambda p: "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d",
            "getBalance": self.get_balance,
            "getLatestBlockhash": self.get_latest_blockhash,
            "getMinimumBalanceForRentExemption": lambda p: 890_880 + 6_960 * int(p[0] if p else 0),
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._methods)

    def call(self, method: object, params: object) -> Any:
        """Run one method; raises RpcError for anything a node would refuse."""
        if not isinstance(method, str):
            raise RpcError(INVALID_REQUEST, "Invalid request: 'method' must be a string")
        handler = self._methods.get(method)
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method[:64]}")
        if params is None:
            params = []
        if not isinstance(params, list):
            raise RpcError(INVALID_PARAMS, "Invalid params: 'params' must be an array")
        try:
            return handler(params)
        except RpcError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, ArithmeticError) as exc:
            raise RpcError(INVALID_PARAMS, f"Invalid params: {exc}") from exc

    def _context(self) -> dict[str, Any]:
        return {"apiVersion": "2.1.0", "slot": self._ledger.slot}

    def _encode(self, account: Account | None, cfg: dict[str, Any]) -> dict[str, Any] | None:
        if account is None:
            return None
        return account.to_json(
            cfg.get("encoding") or "base64", cfg.get("dataSlice"), corrupt=self.corrupt
        )

    def get_account_info(self, params: list[Any]) -> dict[str, Any]:
        if not params:
            raise RpcError(INVALID_PARAMS, "Invalid params: expected an address")
        cfg = _config(params, 1)
        _check_min_context_slot(cfg, self._ledger.slot)
        return {
            "context": self._context(),
            "value": self._encode(self._ledger.get(address(params[0])), cfg),
        }

    def get_multiple_accounts(self, params: list[Any]) -> dict[str, Any]:
        if not params or not isinstance(params[0], list):
            raise RpcError(INVALID_PARAMS, "Invalid params: expected an array of addresses")
        if len(params[0]) > _MAX_KEYS:
            raise RpcError(INVALID_PARAMS, f"Too many inputs provided; max {_MAX_KEYS}")
        cfg = _config(params, 1)
        _check_min_context_slot(cfg, self._ledger.slot)
        keys = [address(k) for k in params[0]]
        return {
            "context": self._context(),
            "value": [self._encode(self._ledger.get(k), cfg) for k in keys],
        }

    def get_program_accounts(self, params: list[Any]) -> Any:
        if not params:
            raise RpcError(INVALID_PARAMS, "Invalid params: expected a program id")
        cfg = _config(params, 1)
        _check_min_context_slot(cfg, self._ledger.slot)
        program = address(params[0])
        matches_filters(b"", cfg.get("filters"))  # bad filters are an error even with no match
        value = [
            {"pubkey": key, "account": self._encode(account, cfg)}
            for key, account in self._ledger.program_accounts(program, cfg.get("filters"))
        ]
        return {"context": self._context(), "value": value} if cfg.get("withContext") else value

    def get_slot(self, params: list[Any]) -> int:
        _check_min_context_slot(_config(params, 0), self._ledger.slot)
        return self._ledger.slot

    def get_balance(self, params: list[Any]) -> dict[str, Any]:
        _check_min_context_slot(_config(params, 1), self._ledger.slot)
        account = self._ledger.get(address(params[0])) if params else None
        return {"context": self._context(), "value": account.lamports if account else 0}

    def get_latest_blockhash(self, params: list[Any]) -> dict[str, Any]:
        _check_min_context_slot(_config(params, 0), self._ledger.slot)
        return {
            "context": self._context(),
            "value": {"blockhash": BLOCKHASH, "lastValidBlockHeight": self._ledger.slot + 150},
        }
