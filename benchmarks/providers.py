"""The Drift side on every RPC provider profile: driftpy's DriftClient and the feed.

For each localnet provider profile (mainnet preset, prices moving) both sources start
side by side, each against a localnet of its own, and get `WINDOW_S` to price every
perp market: driftpy's `DriftClient` in websocket find-all mode (`DriftpySource`, what
engines ran before the streamer) and the streamer's feed (`DriftSource`). The table
says whether each started, how many of the 85 perp markets it priced, how long that
took, what the RPC was asked and refused, and how many websockets it opened.

.venv/bin/python -m benchmarks.providers
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from localnet.server import LocalnetServer
from localnet.simulation import SimulationConfig
from streamer.driftpy_source import DriftpySource
from streamer.source import DriftSource, MarketSource

__all__ = ["PROFILES", "ProviderResult", "run_providers", "table"]

PROFILES = ("public", "no-gpa", "capped", "strict-429", "ws-churn")
WINDOW_S = 30.0
_SIMULATION = SimulationConfig(price_interval_s=0.5, funding_interval_s=10.0, seed=3)


@dataclass
class ProviderResult:
    provider: str
    source: str
    error: str | None
    priced: int
    to_priced_s: float | None
    requests: int
    refused: dict[str, int]
    websockets: int


async def _one(provider: str, name: str, make: Any) -> ProviderResult:
    async with LocalnetServer(preset="mainnet", provider=provider, simulation=_SIMULATION) as ln:
        if provider == "ws-churn":  # recycle sockets within the window, not after it
            await ln.set_faults(_churn())
        source: MarketSource = make(ln.url)
        started_at = time.perf_counter()
        error: str | None = None
        priced, to_priced = 0, None
        try:
            async with asyncio.timeout(WINDOW_S):
                await source.start()
                while True:
                    snap = await source.snapshot(int(time.time()))
                    priced = sum(m.bid_price is not None for m in snap.markets)
                    if priced == len(ln.markets.perps):
                        to_priced = time.perf_counter() - started_at
                        break
                    await asyncio.sleep(0.1)  # a benchmark's poll: sources have no event
        except Exception as exc:  # what each source does on this provider is the result
            error = f"{type(exc).__name__}: {str(exc)[:80]}"
        finally:
            stats = ln.stats_json()
            await source.stop()
    http = stats["http_status"]
    refused = {k: v for k, v in http.items() if k != "200"}
    for code, n in stats["rpc_errors"].items():
        refused[f"rpc {code}"] = n
    return ProviderResult(
        provider=provider,
        source=name,
        error=error,
        priced=priced,
        to_priced_s=to_priced,
        requests=stats["http_requests"],
        refused=refused,
        websockets=stats["ws_connections_total"],
    )


def _churn() -> Any:
    from localnet import FaultRequest

    return FaultRequest.model_validate({"provider": "ws-churn", "ws_lifetime_s": 5})


async def run_providers(profiles: tuple[str, ...] = PROFILES) -> list[ProviderResult]:
    """Both sources on each profile, side by side."""
    results: list[ProviderResult] = []
    for provider in profiles:
        results += await asyncio.gather(
            _one(provider, "driftpy DriftClient", DriftpySource),
            _one(provider, "feed (streamer)", DriftSource),
        )
    return results


def table(results: list[ProviderResult]) -> str:
    lines = [
        "| provider | source | perp markets priced | time to all | requests | refused "
        "(HTTP / JSON-RPC) | websockets | error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        took = "-" if r.to_priced_s is None else f"{r.to_priced_s:.1f} s"
        refused = ", ".join(f"{k}: {v}" for k, v in sorted(r.refused.items())) or "none"
        lines.append(
            f"| {r.provider} | {r.source} | {r.priced}/85 | {took} | {r.requests} | "
            f"{refused} | {r.websockets} | {r.error or ''} |"
        )
    return "\n".join(lines)


def main() -> None:
    print(table(asyncio.run(run_providers())))


if __name__ == "__main__":
    main()
