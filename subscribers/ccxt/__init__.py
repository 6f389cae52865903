"""Drift funding through CCXT's unified funding API, for bots written against CCXT.

```python
from subscribers.ccxt import DriftExchange

async with DriftExchange(network="mainnet", nats_url=url) as drift:  # like ccxt.pro.binance()
    sol = await drift.fetch_funding_rate("SOL/USDC:USDC")  # or "SOL-PERP"
    sol["fundingRate"], sol["fundingDatetime"]             # 0.0000125, "2026-12-02T02:00:00.000Z"
    while True:
        updated = await drift.watch_funding_rates()        # the markets that changed
```

`fetch_funding_rate`, `fetch_funding_rates`, `watch_funding_rate`,
`watch_funding_rates` and `fetch_funding_rate_history` (also by CCXT's camelCase
names) return CCXT's unified `FundingRate` / `FundingRateHistory` dicts, filled as
CCXT fills them for Binance (`subscribers.ccxt.structures` tells which of our fields
each key holds). Errors are CCXT's names: `BadSymbol`, `ExchangeNotAvailable`.

| module | what |
|---|---|
| `exchange` | `DriftExchange`, the exchange object |
| `structures` | the unified dicts, CCXT's ISO 8601, since/limit |
| `symbols` | `SOL/USDC:USDC` <-> `SOL-PERP` |
| `watch` | which markets updated since a watcher last looked |
| `history` | settled fundings from the history stream |
| `errors` | `BadSymbol`, `ExchangeNotAvailable` |

CCXT itself is not needed (nor imported): the tests hold these dicts to its types and
formatters.
"""

from __future__ import annotations

from subscribers.ccxt.errors import BadSymbol, ExchangeNotAvailable
from subscribers.ccxt.exchange import DriftExchange
from subscribers.ccxt.structures import CcxtFundingRate, CcxtFundingRateHistory, iso8601
from subscribers.ccxt.symbols import ccxt_symbol, drift_candidates, resolve_symbol

__all__ = [
    "BadSymbol",
    "CcxtFundingRate",
    "CcxtFundingRateHistory",
    "DriftExchange",
    "ExchangeNotAvailable",
    "ccxt_symbol",
    "drift_candidates",
    "iso8601",
    "resolve_symbol",
]
