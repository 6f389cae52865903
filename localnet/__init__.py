"""localnet: a local Solana RPC serving real Drift-encoded accounts, with faults.

An unmodified driftpy `DriftClient` (and the official SDK's) runs against it in
websocket, polling and cached modes. JSON-RPC on `port`, pubsub websocket on
`port + 1`, control under `/admin/`:

- `GET /admin/stats`: requests per method, HTTP status counts (429 included), open
  websockets, active subscriptions; `POST /admin/stats/reset` zeroes them.
- `GET /admin/markets`: every perp and spot market's served values.
- `POST /admin/market`: set fields of a perp market, e.g.
  `{"symbol": "SOL-PERP", "last_funding_rate": 1250000}`; subscribers are notified.
- `POST /admin/spot`: set fields of a spot market, e.g.
  `{"symbol": "USDC", "borrow_balance": 0}`.
- `GET /admin/account?pubkey=...&slot=...`: an account as of a recent slot.
- `POST /admin/faults`: e.g. `{"rate_limit": {"requests": 100, "per_s": 10,
  "per_method": 40}}`, `{"latency_ms": 200}`, `{"drop_websockets": true}`,
  `{"refuse_connections": true}`, `{"max_connections": 40}`,
  `{"errors": {"getMultipleAccounts": {"code": -32005, "count": 3}}}`,
  `{"corrupt_accounts": true}`, `{"clear": true}`; provider profiles, e.g.
  `{"provider": "capped", "max_keys": 3}` (`localnet.providers`, docs/LOCALNET.md).
- `POST /admin/funding-update`: a funding update on every market now.

Markets look like mainnet's (spreads, open interest, TWAPs, MM oracles, spot
balances): see docs/LOCALNET.md. `LocalnetServer(snapshot=DIR)` serves a snapshot
folder instead (`load_snapshot` checks it; docs/LOCALNET.md "Serving a snapshot").
"""

from localnet.errors import AdminError, EncodingError, LocalnetError, RpcError, SnapshotError
from localnet.faults import FaultConfig, FaultRequest, RateLimit
from localnet.history import HistoryConfig, NotKept
from localnet.markets import DriftMarkets, PerpView
from localnet.mm_oracle import DEFAULT_MM_ORACLE_SHARE, MM_MODES, MmMode
from localnet.patches import MarketPatch, SpotPatch
from localnet.presets import PRESETS, Preset, preset
from localnet.server import LocalnetServer
from localnet.simulation import MarketSimulator, SimulationConfig
from localnet.snapshot import Snapshot, load_snapshot
from localnet.spots import SpotView

__all__ = [
    "DEFAULT_MM_ORACLE_SHARE",
    "MM_MODES",
    "PRESETS",
    "AdminError",
    "DriftMarkets",
    "EncodingError",
    "FaultConfig",
    "FaultRequest",
    "HistoryConfig",
    "LocalnetError",
    "LocalnetServer",
    "MarketPatch",
    "MarketSimulator",
    "MmMode",
    "NotKept",
    "PerpView",
    "Preset",
    "RateLimit",
    "RpcError",
    "SimulationConfig",
    "Snapshot",
    "SnapshotError",
    "SpotPatch",
    "SpotView",
    "load_snapshot",
    "preset",
]
