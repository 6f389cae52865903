"""The official SDK's DriftClient as a reference for whole markets (`tests/sdk/driftclient.js`).

`SdkDriftClient` runs the node script: `subscribe(url)` subscribes a real SDK
DriftClient to an RPC (localnet), `figures(now)` returns what the SDK computes for
every perp and spot market at `now`, `compute(perps, spots)` the same from given
account bytes with no RPC. `figure_state` / `spot_figure_state` turn a figure into the
`MarketState` / `SpotState` our streamer would have to produce (`perp_state_of` /
`spot_state_of` against one of ours, so a comparison is one `==`); the published models
built from them go through the same unit conversion as ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

from schemas import FundingRate, MarketSnapshot, SpotMarketSnapshot
from schemas.models.base import SchemaModel
from streamer.models import funding_rate, market_snapshot, spot_snapshot
from streamer.state import MarketState, SpotState

__all__ = [
    "SdkDriftClient",
    "figure_state",
    "funding_problems",
    "model_differences",
    "perp_state_of",
    "price_problems",
    "spot_figure_state",
    "spot_problems",
    "spot_state_of",
    "state_differences",
]

SCRIPT = Path(__file__).parent / "sdk" / "driftclient.js"
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_LINE_LIMIT = 1 << 26  # a figures reply for 150 markets is a few hundred KB


def _int(value: str | None) -> int | None:
    return None if value is None else int(value)


def _snake(variant: str) -> str:
    return _CAMEL.sub("_", variant).lower()


class SdkDriftClient:
    """One `node tests/sdk/driftclient.js` process (an async context manager)."""

    def __init__(self, timeout: float = 60.0) -> None:
        self._timeout = timeout
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> SdkDriftClient:
        self._proc = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPT),
            cwd=SCRIPT.parent,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=_LINE_LIMIT,
        )
        return self

    async def __aexit__(self, exc_type: object, *exc: object) -> None:
        """A clean exit unsubscribes the SDK client; after an error or a cancellation
        (Ctrl-C) the process is killed at once, whatever it was computing."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if exc_type is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ask(proc, {"cmd": "close"}), 10)
        if proc.returncode is None:
            proc.kill()
        await proc.wait()

    async def _ask(self, proc: asyncio.subprocess.Process, request: dict[str, Any]) -> Any:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        await proc.stdin.drain()
        line = await asyncio.wait_for(proc.stdout.readline(), self._timeout)
        if not line:
            raise RuntimeError(f"the SDK DriftClient process exited ({request['cmd']})")
        reply = json.loads(line)
        if "error" in reply and len(reply) == 1:
            raise RuntimeError(f"SDK DriftClient: {reply['error']}")
        return reply

    async def request(self, request: dict[str, Any]) -> Any:
        if self._proc is None:
            raise RuntimeError("use `async with SdkDriftClient()`")
        return await self._ask(self._proc, request)

    async def subscribe(self, url: str) -> None:
        await self.request({"cmd": "subscribe", "url": url})

    async def figures(self, now: int) -> dict[str, list[dict[str, Any]]]:
        """Every market of the subscribed client, as the SDK computes it at `now`."""
        reply: dict[str, list[dict[str, Any]]] = await self.request({"cmd": "figures", "now": now})
        return reply

    async def compute(
        self, perps: list[dict[str, Any]], spots: list[dict[str, Any]]
    ) -> dict[str, list[dict[str, Any]]]:
        """The same figures from account bytes (see the script's header for the items)."""
        reply: dict[str, list[dict[str, Any]]] = await self.request(
            {"cmd": "compute", "perps": perps, "spots": spots}
        )
        return reply


def figure_state(
    fig: dict[str, Any],
    now: int,
    *,
    oracle: str = "",
    oracle_source: str = "",
    due_ts: int | None = None,
) -> MarketState:
    """The state the SDK's figure says a streamer publishes for this perp market at `now`.

    The oracle's address and source are not figures (pass them to compare them too);
    the account slots are the figure's. `next_funding_ts` is `now` + the SDK's time
    remaining while that is positive; once due the SDK says only "now", so `due_ts` (the
    published one) stands if it is due by `now`.
    """
    remaining = int(fig["time_remaining"])
    if remaining > 0 or due_ts is None or due_ts > now:
        due_ts = now + remaining
    predicted = fig.get("predicted_long")
    return MarketState(
        market_index=int(fig["market_index"]),
        symbol=fig["symbol"].upper(),
        status=_snake(fig["status"]),
        contract_type=_snake(fig["contract_type"]),
        oracle=oracle,
        oracle_source=oracle_source,
        oracle_price=_int(fig.get("oracle_price")),
        oracle_slot=_int(fig.get("oracle_slot")),
        last_funding_rate=int(fig["last_funding_rate"]),
        last_funding_rate_long=int(fig["last_funding_rate_long"]),
        last_funding_rate_short=int(fig["last_funding_rate_short"]),
        last24h_avg_funding_rate=int(fig["last24h_avg_funding_rate"]),
        last_funding_rate_ts=int(fig["last_funding_rate_ts"]),
        last_funding_oracle_twap=int(fig["last_funding_oracle_twap"]),
        last_oracle_price_twap=int(fig["last_oracle_price_twap"]),
        funding_period=int(fig["funding_period"]),
        base_asset_amount_long=int(fig["base_asset_amount_long"]),
        base_asset_amount_short=int(fig["base_asset_amount_short"]),
        bid_price=_int(fig.get("bid_price")),
        ask_price=_int(fig.get("ask_price")),
        mark_price=_int(fig.get("mark_price")),
        predicted_long=_int(predicted),
        predicted_short=_int(fig.get("predicted_short")),
        market_slot=_int(fig.get("market_slot")) or 0,
        predicted_at=None if predicted is None else now,
        priced_at=None if fig.get("bid_price") is None else now,
        mark_twap_live=_int(fig.get("mark_twap_live")),
        oracle_twap_live=_int(fig.get("oracle_twap_live")),
        next_funding_ts=due_ts,
        mm_oracle_price=_int(fig.get("mm_oracle_price")),
        mm_oracle_used=bool(fig.get("mm_oracle_used", False)),
    )


def perp_state_of(fig: dict[str, Any], ours: MarketState, now: int) -> MarketState:
    """`figure_state` with what the figure has no word on (oracle address and source,
    account slots) taken from `ours`, so the two compare with one `==`."""
    return dataclasses.replace(
        figure_state(
            fig,
            now,
            oracle=ours.oracle,
            oracle_source=ours.oracle_source,
            due_ts=ours.next_funding_ts,
        ),
        market_slot=ours.market_slot,
        oracle_slot=ours.oracle_slot,
    )


def spot_figure_state(
    fig: dict[str, Any], *, oracle: str = "", oracle_source: str = ""
) -> SpotState:
    """The state the SDK's figure says a streamer publishes for this spot market."""
    return SpotState(
        market_index=int(fig["market_index"]),
        symbol=fig["symbol"],
        status=_snake(fig["status"]),
        decimals=int(fig["decimals"]),
        oracle=oracle,
        oracle_source=oracle_source,
        oracle_price=_int(fig.get("oracle_price")),
        oracle_slot=_int(fig.get("oracle_slot")),
        market_slot=_int(fig.get("market_slot")) or 0,
        deposit_rate=_int(fig.get("deposit_rate")),
        borrow_rate=_int(fig.get("borrow_rate")),
        utilization=_int(fig.get("utilization")),
        total_deposits=int(fig["total_deposits"]),
        total_borrows=int(fig["total_borrows"]),
    )


def spot_state_of(fig: dict[str, Any], ours: SpotState) -> SpotState:
    """`spot_figure_state` with our oracle address, source and slots."""
    return dataclasses.replace(
        spot_figure_state(fig, oracle=ours.oracle, oracle_source=ours.oracle_source),
        market_slot=ours.market_slot,
        oracle_slot=ours.oracle_slot,
    )


def state_differences(ours: Any, sdk: Any) -> list[str]:
    """Field by field, where our state and the SDK's differ (empty when equal)."""
    return [
        f"{f.name}: ours {getattr(ours, f.name)!r}, SDK {getattr(sdk, f.name)!r}"
        for f in dataclasses.fields(ours)
        if getattr(ours, f.name) != getattr(sdk, f.name)
    ]


_NOT_FIGURES = {"v", "ts", "slot", "epoch", "market_slot", "oracle_slot"}


def model_differences(ours: SchemaModel | None, sdk: SchemaModel | None) -> list[str]:
    """Where two published models differ: every field but time, slots and epoch,
    floats within 1e-12 relative (both went through the same unit conversion)."""
    if ours is None or sdk is None:
        return [] if ours is sdk else [f"ours {ours!r}, SDK {sdk!r}"]
    a, b = ours.model_dump(exclude=_NOT_FIGURES), sdk.model_dump(exclude=_NOT_FIGURES)
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=1e-12, abs_tol=0.0):
                out.append(f"{key}: ours {x!r}, SDK {y!r}")
        elif x != y:
            out.append(f"{key}: ours {x!r}, SDK {y!r}")
    return out


def funding_problems(fig: dict[str, Any], rate: FundingRate) -> list[str]:
    """Where a published FundingRate differs from the SDK's figure at its predicted_at."""
    assert rate.predicted_at is not None
    state = figure_state(fig, rate.predicted_at, due_ts=rate.next_funding_ts)
    expected = funding_rate(state, network="local", slot=0, ts=0, epoch=0)
    return [f"{rate.symbol} funding {d}" for d in model_differences(rate, expected)]


def price_problems(fig: dict[str, Any], price: MarketSnapshot) -> list[str]:
    """Where a published MarketSnapshot differs from the SDK's figure at its priced_at."""
    assert price.priced_at is not None
    expected = market_snapshot(
        figure_state(fig, price.priced_at), network="local", slot=0, ts=0, epoch=0
    )
    return [f"{price.symbol} market {d}" for d in model_differences(price, expected)]


def spot_problems(fig: dict[str, Any], spot: SpotMarketSnapshot) -> list[str]:
    """Where a published SpotMarketSnapshot differs from the SDK's figure."""
    state = spot_figure_state(fig, oracle=spot.oracle or "", oracle_source=spot.oracle_source or "")
    expected = spot_snapshot(state, network="local", slot=0, ts=0, epoch=0)
    return [f"{spot.symbol} spot {d}" for d in model_differences(spot, expected)]
