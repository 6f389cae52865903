"""Errors of the CCXT view, named after the CCXT errors a bot already handles.

DriftStreamError (subscribers.errors)
 ├── BadSymbol             a symbol that is malformed or names no Drift perp market
 │                         (also a ValueError); CCXT's `BadSymbol` is a BadRequest:
 │                         retrying the same call cannot help
 └── ExchangeNotAvailable  no live value to answer with: NATS unreachable within the
                           timeout, no market list or no funding from the streamer
                           (not running, or starting); CCXT's `ExchangeNotAvailable`
                           is a NetworkError: retry later
"""

from __future__ import annotations

from subscribers.errors import DriftStreamError

__all__ = ["BadSymbol", "ExchangeNotAvailable"]


class BadSymbol(DriftStreamError, ValueError):
    """A symbol that is malformed or names no Drift perp market (like CCXT's BadSymbol)."""


class ExchangeNotAvailable(DriftStreamError):
    """No live value to answer with, now: retry later (like CCXT's ExchangeNotAvailable)."""
