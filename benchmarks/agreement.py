"""How often each math gives the official SDK's figures: streamer.math and driftpy.

Every perp market of localnet's mainnet preset, at several `now`s, computed three ways
from the same account bytes: by the SDK (`tests/sdk/driftclient.js compute`), by the
streamer's math, and by driftpy's. The table counts the markets whose oracle price,
bid/ask, live TWAPs and live estimates equal the SDK's, and those a side failed on.

.venv/bin/python -m benchmarks.agreement      # needs `make install` (the SDK, Node 20)
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from typing import Any

from driftpy.accounts.oracle import decode_oracle as driftpy_decode_oracle
from driftpy.math.amm import calculate_bid_ask_price as driftpy_bid_ask
from driftpy.math.funding import calculate_long_short_funding_and_live_twaps

from benchmarks.math_cost import _run_sync
from localnet import codec
from localnet.ledger import Ledger
from localnet.markets import STATE_ADDRESS, DriftMarkets
from localnet.presets import preset
from localnet.simulation import MarketSimulator, SimulationConfig
from streamer.account_decode import decode_perp
from streamer.decode import OracleReading, guard_rails_of, market_state, variant
from streamer.oracles import decode_oracle
from tests.sdk_figures import SdkDriftClient

__all__ = ["main", "run_agreement"]

_OFFSETS = (0, 60, 1800)
_T0 = 1_796_000_000  # a fixed start, so every run counts the same cases
_FIELDS = ("oracle price", "bid/ask", "live TWAPs", "live estimates")


def _driftpy(market: Any, source: Any, data: bytes, now: int) -> tuple[Any, ...] | None:
    try:
        oracle = driftpy_decode_oracle(data, source)
        bid, ask = driftpy_bid_ask(market.amm, oracle)
        twaps_rates = _run_sync(
            calculate_long_short_funding_and_live_twaps(market, oracle, (bid + ask) // 2, now)
        )
    except Exception:  # driftpy's math raising is what is counted
        return None
    return int(oracle.price), (int(bid), int(ask)), tuple(int(x) for x in twaps_rates)


def _sdk(fig: dict[str, Any]) -> tuple[Any, ...] | None:
    if "predicted_long" not in fig:
        return None
    live = ("mark_twap_live", "oracle_twap_live", "predicted_long", "predicted_short")
    return (
        int(fig["oracle_price"]),
        (int(fig["bid_price"]), int(fig["ask_price"])),
        tuple(int(fig[k]) for k in live),
    )


def _compare(
    side: tuple[Any, ...] | None, sdk: tuple[Any, ...] | None, counts: Counter[str]
) -> None:
    if side is None or sdk is None:
        counts["failed" if side is None else "SDK failed"] += 1
        return
    price, bid_ask, live = side
    counts["oracle price"] += price == sdk[0]
    counts["bid/ask"] += bid_ask == sdk[1]
    counts["live TWAPs"] += live[:2] == sdk[2][:2]
    counts["live estimates"] += live[2:] == sdk[2][2:]


async def run_agreement(steps: int = 20) -> dict[str, Any]:
    """Counts per side over the preset's markets after `steps` simulated price steps."""
    ledger = Ledger()
    markets = DriftMarkets(ledger, preset("mainnet"), now=_T0)
    simulator = MarketSimulator(markets, SimulationConfig(seed=5))
    for step in range(steps):
        simulator.step_prices(now=_T0 + step)
    state = ledger.get(str(STATE_ADDRESS))
    assert state is not None
    rails = guard_rails_of(codec.decode(state.data))
    now0 = _T0 + steps
    cases = []
    for view in markets.perps:
        account, oracle = ledger.get(str(view.address)), ledger.get(str(view.spec.oracle))
        assert account is not None
        assert oracle is not None
        for offset in _OFFSETS:
            cases.append((view, account, oracle, now0 + offset))
    async with SdkDriftClient() as sdk:
        figures = await sdk.compute(
            [
                {
                    "market": base64.b64encode(account.data).decode(),
                    "oracle": base64.b64encode(oracle.data).decode(),
                    "oracle_source": variant(view.spec.oracle_source),
                    "state": base64.b64encode(state.data).decode(),
                    "now": now,
                    "market_slot": account.slot,
                    "oracle_slot": oracle.slot,
                }
                for view, account, oracle, now in cases
            ],
            [],
        )
    counts: dict[str, Counter[str]] = {"streamer.math": Counter(), "driftpy 0.8.89": Counter()}
    for (view, account, oracle, now), fig in zip(cases, figures["perps"], strict=True):
        decoded = codec.decode(account.data)
        source = view.spec.oracle_source
        reading = OracleReading(decode_oracle(variant(source), oracle.data), oracle.slot)
        ours = market_state(decode_perp(account.data), account.slot, reading, rails, now)
        mine = (
            None
            if ours.predicted_long is None or ours.bid_price is None or ours.ask_price is None
            else (
                ours.oracle_price,
                (ours.bid_price, ours.ask_price),
                (
                    ours.mark_twap_live,
                    ours.oracle_twap_live,
                    ours.predicted_long,
                    ours.predicted_short,
                ),
            )
        )
        sdk_side = _sdk(fig)
        _compare(mine, sdk_side, counts["streamer.math"])
        _compare(_driftpy(decoded, source, oracle.data, now), sdk_side, counts["driftpy 0.8.89"])
    return {"cases": len(cases), "markets": len(markets.perps), "counts": counts}


def table(result: dict[str, Any]) -> str:
    header = "| math | " + " | ".join(f"{f} = SDK" for f in _FIELDS) + " | failed |"
    lines = [
        f"{result['markets']} perp markets x {len(_OFFSETS)} `now`s = {result['cases']} cases "
        "(localnet mainnet preset after 20 price steps):",
        "",
        header,
        "|---" * (len(_FIELDS) + 2) + "|",
    ]
    for side, counts in result["counts"].items():
        cells = " | ".join(str(counts[f]) for f in _FIELDS)
        lines.append(f"| {side} | {cells} | {counts['failed']} |")
    return "\n".join(lines)


def main() -> None:
    print(table(asyncio.run(run_agreement())))


if __name__ == "__main__":
    main()
