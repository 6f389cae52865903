"""The Drift side the streamer depends on: `MarketSource`, and `DriftSource`, which
implements it on any Solana RPC provider (see `streamer.feed`).

Foreign errors are converted where they enter: every failure is a `SourceError` whose
`kind` says what happened (`rpc_429`, `rpc`, `refused`, `ws`, `timeout`, `decode`).
"""

from __future__ import annotations

from streamer.feed.source import DriftSource
from streamer.rpc_errors import classify
from streamer.source_types import MarketSource, SourceHealth, SourceMode, SourceSnapshot

__all__ = [
    "DriftSource",
    "MarketSource",
    "SourceHealth",
    "SourceMode",
    "SourceSnapshot",
    "classify",
]
