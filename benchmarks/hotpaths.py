"""Where the streamer's time goes: cProfile over its hot paths, and account decoding.

Two views. `profile_pass`: a streamer pass in this process (decode every market, build
and encode the models; KV writes left out), timed and profiled on the mainnet preset.
`summarize`: the profile of a whole streamer process (written by `python -m cProfile`
while it served the fan-out), by package and by function: that one also counts what
a pass does not (decoding websocket account updates, nats-py, asyncio).
`decode_costs`: what decoding one market account update costs, our decoder and
driftpy's side by side.

.venv/bin/python -m benchmarks.hotpaths [--rounds 20]   # prints the decode table
"""

from __future__ import annotations

import argparse
import builtins
import cProfile
import pstats
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.harness import localnet
from localnet import codec
from localnet.ledger import Ledger
from localnet.markets import DriftMarkets
from localnet.presets import preset
from streamer.decoders import DECODERS
from streamer.idl import decode_account
from streamer.publisher import Publisher
from streamer.source import DriftSource
from tests.fence_fakes import FakeFenceStream

__all__ = ["decode_costs", "decode_table", "main", "profile_pass", "summarize"]

_SITE = re.compile(r"^.*/(site-packages|python3\.\d+)/")
_C_OWNER = re.compile(r"(?:of '|built-in method )_?([A-Za-z]\w*)")
_TTLS = {"drift_funding": 30.0, "drift_prices": 10.0, "drift_markets": 60.0, "drift_spot": 10.0}


async def _holds() -> bool:
    return True


def _where(filename: str) -> str:
    return _SITE.sub("", filename).removeprefix(str(Path.cwd()) + "/")


def _package(filename: str, name: str) -> str:
    """The top-level package (or stdlib module) a function belongs to; for a C function
    the module its name gives (`<method 'to_json' of 'pydantic_core...' objects>`)."""
    if filename == "~":
        found = _C_OWNER.search(name)
        owner = found.group(1) if found else "builtins"
        return f"{'builtins' if owner in vars(builtins) else owner} (C)"
    return _where(filename).split("/", 1)[0].removesuffix(".py")


def _rows(stats: pstats.Stats, per: float, limit: int) -> list[dict[str, Any]]:
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    ordered = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:limit]
    return [
        {
            "function": f"{_where(filename)}:{line}({name})",
            "calls_per_unit": calls / per,
            "own_us_per_unit": 1e6 * own / per,
            "cum_us_per_unit": 1e6 * cum / per,
        }
        for (filename, line, name), (_, calls, own, cum, _) in ordered
    ]


def summarize(path: Path, per: float, limit: int = 15) -> dict[str, Any]:
    """A whole-process profile: own time by package (share of the total) and the top
    functions by own time, per `per` units (e.g. market updates)."""
    stats = pstats.Stats(str(path))
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    own: Counter[str] = Counter()
    for (filename, _, name), (_, _, tottime, _, _) in table.items():
        own[_package(filename, name)] += tottime
    total = sum(own.values()) or 1.0
    return {
        "total_s": total,
        "per": per,
        "by_package": [
            {"package": name, "own_s": secs, "share_pct": 100 * secs / total}
            for name, secs in own.most_common(12)
        ],
        "top": _rows(stats, per, limit),
    }


_KINDS = {"perp": "PerpMarket", "spot": "SpotMarket"}


def decode_costs(markets: DriftMarkets, rounds: int = 20) -> dict[str, Any]:
    """CPU microseconds per account to decode every PerpMarket and SpotMarket of
    `markets`: by our decoder (`own`), by driftpy's IDL coder alone (`anchorpy`:
    anchorpy over construct, what driftpy's websocket subscriber does with every
    update), and by DRIFT_DECODER=anchorpy (`anchorpy_path`: that decode, then our
    values taken out). Each is the median of `rounds` rounds that alternate between
    the three, so machine noise hits all alike; `ratio` is own / anchorpy."""
    blobs = {
        "perp": [codec.build("PerpMarket", view.account) for view in markets.perps],
        "spot": [codec.build("SpotMarket", view.account) for view in markets.spots],
    }
    sides: dict[str, dict[str, Callable[[bytes], Any]]] = {
        "own": {"perp": DECODERS["own"].perp, "spot": DECODERS["own"].spot},
        "anchorpy": {kind: partial(decode_account, name) for kind, name in _KINDS.items()},
        "anchorpy_path": {"perp": DECODERS["anchorpy"].perp, "spot": DECODERS["anchorpy"].spot},
    }
    samples: dict[tuple[str, str], list[float]] = {(s, k): [] for s in sides for k in blobs}
    for round_ in range(rounds + 1):  # the first round warms every side up, untimed
        for side, decoders in sides.items():
            for kind, decode in decoders.items():
                started = time.process_time()
                for blob in blobs[kind]:
                    decode(blob)
                if round_:
                    spent = time.process_time() - started
                    samples[side, kind].append(1e6 * spent / len(blobs[kind]))
    out: dict[str, Any] = {"rounds": rounds, **{f"{k}_accounts": len(b) for k, b in blobs.items()}}
    for (side, kind), values in samples.items():
        out[f"{kind}_{side}_us"] = statistics.median(values)
    for kind in blobs:
        out[f"{kind}_ratio"] = out[f"{kind}_own_us"] / out[f"{kind}_anchorpy_us"]
    return out


def decode_table(costs: dict[str, Any]) -> str:
    """`decode_costs` as a markdown table."""
    rows = [
        f"CPU per account decode, median of {costs['rounds']} alternating rounds over "
        f"{costs['perp_accounts']} PerpMarket and {costs['spot_accounts']} SpotMarket "
        "accounts (localnet mainnet preset):",
        "",
        "| account | ours | driftpy's IDL coder (anchorpy) | DRIFT_DECODER=anchorpy | "
        "ours / anchorpy |",
        "|---|---|---|---|---|",
    ]
    for kind, name in _KINDS.items():
        rows.append(
            f"| {name} | {costs[f'{kind}_own_us']:.1f} us | "
            f"{costs[f'{kind}_anchorpy_us']:.0f} us | {costs[f'{kind}_anchorpy_path_us']:.0f} us "
            f"| {costs[f'{kind}_ratio']:.3f} ({1 / costs[f'{kind}_ratio']:.0f}x faster) |"
        )
    return "\n".join(rows)


async def profile_pass(passes: int = 200) -> dict[str, Any]:
    """Timings of `passes` passes (alternately every market built, and none changed),
    then cProfile over `passes // 2` full passes."""
    async with localnet(limits=False) as ln:
        decode = decode_costs(ln.markets)
        source = DriftSource(ln.url)
        await source.start()
        publisher = Publisher({b: FakeFenceStream(b) for b in _TTLS}, "local", _TTLS)
        await publisher.fence(1, "benchmark", _holds)
        try:
            timings: dict[str, list[float]] = {"snapshot": [], "publish_all": [], "publish_one": []}
            for i in range(passes):
                if i % 2 == 0:  # alternate: every market built, or none changed
                    publisher.forget()
                started = time.perf_counter()
                snapshot = await source.snapshot(int(time.time()))
                mid = time.perf_counter()
                await publisher.publish(snapshot, epoch=1)
                timings["snapshot"].append(mid - started)
                timings["publish_all" if i % 2 == 0 else "publish_one"].append(
                    time.perf_counter() - mid
                )
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(passes // 2):
                publisher.forget()
                await publisher.publish(await source.snapshot(int(time.time())), epoch=1)
            profiler.disable()
        finally:
            await source.stop()
    markets = len(snapshot.markets)
    ms = {k: 1000 * sorted(v)[len(v) // 2] for k, v in timings.items()}
    return {
        "markets": markets,
        "snapshot_ms_p50": ms["snapshot"],
        "publish_all_ms_p50": ms["publish_all"],
        "publish_unchanged_ms_p50": ms["publish_one"],
        "us_per_market_decoded": 1000 * (ms["snapshot"] + ms["publish_all"]) / markets,
        "account_decode_us": decode["perp_anchorpy_us"],
        "decode": decode,
        "top": [
            {
                "function": r["function"],
                "calls_per_pass": r["calls_per_unit"],
                "own_us_per_pass": r["own_us_per_unit"],
                "cum_us_per_pass": r["cum_us_per_unit"],
            }
            for r in _rows(pstats.Stats(profiler), passes // 2, 12)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="CPU per market account decode, side by side")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(decode_table(decode_costs(DriftMarkets(Ledger(), preset("mainnet")), args.rounds)))


if __name__ == "__main__":
    main()
