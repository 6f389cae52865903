"""Market symbols: CCXT's `SOL/USDC:USDC` and Drift's `SOL-PERP`, both ways.

Drift's perp markets are USDC-settled linear swaps, so CCXT names one
`<BASE>/USDC:USDC`: the base is the Drift name without `-PERP` (`1MBONK-PERP` is
`1MBONK/USDC:USDC`), or the whole name for markets without that suffix (prediction
markets such as `TRUMP-WIN-2024-BET`). Reading a CCXT symbol gives candidates,
`<BASE>-PERP` first; the market list decides which one exists. (A network listing both
`X` and `X-PERP` would give them one CCXT symbol, taken by `X-PERP`; Drift lists no
such pair.) Drift names are accepted in any case, CCXT symbols too.
"""

from __future__ import annotations

import re
from collections.abc import Container

from schemas import validate_symbol
from schemas.errors import SchemaError
from subscribers.ccxt.errors import BadSymbol

__all__ = ["SETTLE", "ccxt_symbol", "drift_candidates", "resolve_symbol"]

SETTLE = "USDC"
"""The quote and settlement currency of every Drift perp market."""
_PERP_SUFFIX = "-PERP"
_CCXT_RE = re.compile(r"(?P<base>[^/:]+)/(?P<quote>[^/:]+):(?P<settle>[^/:]+)")
_PREVIEW = 40


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 3] + "..."


def ccxt_symbol(drift: str) -> str:
    """The CCXT symbol of a Drift perp market: `SOL-PERP` -> `SOL/USDC:USDC`."""
    symbol = validate_symbol(drift)
    base = symbol[: -len(_PERP_SUFFIX)] if symbol.endswith(_PERP_SUFFIX) else symbol
    return f"{base or symbol}/{SETTLE}:{SETTLE}"


def drift_candidates(symbol: str) -> list[str]:
    """The Drift names `symbol` may mean, most likely first: `SOL/USDC:USDC` ->
    [`SOL-PERP`, `SOL`], `sol-perp` -> [`SOL-PERP`]. BadSymbol if it can be neither
    form (a spot pair `SOL/USDC`, another quote or settlement, a dated future)."""
    if not isinstance(symbol, str):
        raise BadSymbol(f"drift: a symbol is a str, not {type(symbol).__name__}")
    if "/" not in symbol:
        try:
            return [validate_symbol(symbol)]
        except SchemaError as exc:
            raise BadSymbol(f"drift: invalid symbol {_show(symbol)}: {exc}") from exc
    match = _CCXT_RE.fullmatch(symbol)
    settled = match is not None and {match["quote"].upper(), match["settle"].upper()} == {SETTLE}
    if match is None or not settled:
        raise BadSymbol(
            f"drift: invalid symbol {_show(symbol)}: Drift has USDC-settled perps only,"
            f" e.g. SOL/{SETTLE}:{SETTLE} or SOL-PERP"
        )
    base = match["base"].upper()
    candidates = []
    for name in (base + _PERP_SUFFIX, base):
        try:
            candidates.append(validate_symbol(name))
        except SchemaError:
            continue  # too long or not a symbol: the other one may still be
    if not candidates:
        raise BadSymbol(f"drift: invalid symbol {_show(symbol)}: no Drift market name")
    return candidates


def resolve_symbol(symbol: str, known: Container[str]) -> str:
    """The Drift name of `symbol` (either form) among the `known` Drift names; BadSymbol
    if it is malformed or names none of them."""
    for candidate in drift_candidates(symbol):
        if candidate in known:
            return candidate
    raise BadSymbol(f"drift does not have market symbol {_show(symbol)}")
