"""The Drift side on every RPC provider profile: driftpy's DriftClient and the feed.

For each localnet provider profile (mainnet preset, prices moving) both sources start
side by side, each against a localnet of its own, and get `WINDOW_S` to price every
perp market: driftpy's `DriftClient` in websocket find-all mode (`DriftpySource`, what
engines ran before the streamer) and the streamer's feed (`DriftSource`). The table
says whether each started, how many of the 85 perp markets it priced, how long that
took, whether it then follows the prices (of the markets whose price moved at
localnet during `OBSERVE_S`, how many it saw move), what the RPC was asked and
refused, and how many websockets it opened.

.venv/bin/python -m benchmarks.providers

Each run is a process of its own, killed if it outlives its window by a minute:
driftpy's DriftClient can hang for good (a websocket close that waits on a full
message queue, seen under ws-churn), and that is a result too.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from localnet.server import LocalnetServer
from localnet.simulation import SimulationConfig
from streamer.driftpy_source import DriftpySource
from streamer.source import DriftSource, MarketSource

__all__ = ["PROFILES", "ProviderResult", "run_providers", "table"]

PROFILES = ("public", "no-gpa", "capped", "strict-429", "ws-churn")
WINDOW_S = 60.0
OBSERVE_S = 6.0
_SIMULATION = SimulationConfig(price_interval_s=0.5, funding_interval_s=10.0, seed=3)


@dataclass
class ProviderResult:
    provider: str
    source: str
    error: str | None
    priced: int
    to_priced_s: float | None
    moved: int  # markets whose price moved at localnet while observed
    followed: int  # of those, the ones whose move the source saw
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
        priced, to_priced, moved, followed = 0, None, 0, 0
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
            moved, followed = await _follow(ln, source)
        except Exception as exc:  # what each source does on this provider is the result
            error = f"{type(exc).__name__}: {str(exc)[:80]}"
        finally:
            stats = ln.stats_json()
            await source.stop()  # never raises
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
        moved=moved,
        followed=followed,
        requests=stats["http_requests"],
        refused=refused,
        websockets=stats["ws_connections_total"],
    )


async def _follow(ln: LocalnetServer, source: MarketSource) -> tuple[int, int]:
    """Over OBSERVE_S: the markets whose served price moved, and of those the ones
    whose price moved in the source's snapshots too."""
    served: dict[int, set[int]] = {}
    seen: dict[int, set[int | None]] = {}
    deadline = time.monotonic() + OBSERVE_S
    while time.monotonic() < deadline:
        for view in ln.markets.perps:
            served.setdefault(view.spec.market_index, set()).add(view.oracle_price)
        for m in (await source.snapshot(int(time.time()))).markets:
            seen.setdefault(m.market_index, set()).add(m.oracle_price)
        await asyncio.sleep(0.25)
    moved = [i for i, prices in served.items() if len(prices) > 1]
    return len(moved), sum(len(seen.get(i, ())) > 1 for i in moved)


def _churn() -> Any:
    from localnet import FaultRequest

    return FaultRequest.model_validate({"provider": "ws-churn", "ws_lifetime_s": 5})


SOURCES: dict[str, Any] = {"driftpy DriftClient": DriftpySource, "feed (streamer)": DriftSource}


async def _in_process(provider: str, name: str) -> ProviderResult:
    """`_one` in a child process; killed if it hangs past the window and a minute."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.providers",
        "--one",
        provider,
        name,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,  # driftpy prints its errors
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), WINDOW_S + OBSERVE_S + 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return ProviderResult(provider, name, "hung: killed", 0, None, 0, 0, 0, {}, 0)
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    if not lines:
        return ProviderResult(provider, name, "no result", 0, None, 0, 0, 0, {}, 0)
    return ProviderResult(**json.loads(lines[-1]))


async def run_providers(profiles: tuple[str, ...] = PROFILES) -> list[ProviderResult]:
    """Both sources on each profile, side by side, each in a process of its own."""
    results: list[ProviderResult] = []
    for provider in profiles:
        results += await asyncio.gather(*(_in_process(provider, name) for name in SOURCES))
    return results


def table(results: list[ProviderResult]) -> str:
    lines = [
        "| provider | source | perp markets priced | time to all | moves followed | requests "
        "| refused (HTTP / JSON-RPC) | websockets | error |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        took = "-" if r.to_priced_s is None else f"{r.to_priced_s:.1f} s"
        refused = ", ".join(f"{k}: {v}" for k, v in sorted(r.refused.items())) or "none"
        lines.append(
            f"| {r.provider} | {r.source} | {r.priced}/85 | {took} | {r.followed}/{r.moved} | "
            f"{r.requests} | "
            f"{refused} | {r.websockets} | {r.error or ''} |"
        )
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        provider, name = sys.argv[2], sys.argv[3]
        result = asyncio.run(_one(provider, name, SOURCES[name]))
        print(json.dumps(asdict(result)), flush=True)
        return
    print(table(asyncio.run(run_providers())))


if __name__ == "__main__":
    main()
