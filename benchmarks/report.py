"""docs/BENCHMARKS.md, docs/benchmarks/results.json and the PNG plots, from one run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

__all__ = ["write_report"]


def _pct_less(legacy: float, streamer: float) -> float:
    return 100.0 * (1 - streamer / legacy) if legacy else 0.0


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _load(results: dict[str, Any], mode: str, n: int, limited: bool = True) -> dict[str, Any]:
    return next(
        r
        for r in results["rpc_load"] + results.get("memory", [])
        if r["mode"] == mode and r["engines"] == n and r["limited"] == limited
    )


def _rpc_section(results: dict[str, Any]) -> list[str]:
    ns = sorted({r["engines"] for r in results["rpc_load"]})
    lines = [
        "## RPC load (public limits: 100 requests / 10 s, 40 per method, 40 connections)",
        "",
        f"Window: {results['rpc_load'][0]['window_s']:.0f} s per run, counted from the "
        "engines' start (when a DriftClient costs the RPC most).",
        "",
        "| N | way | HTTP requests | RPC calls | 429s | websockets opened (refused) "
        "| peak subscriptions | engines with data |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in ns:
        for mode in ("legacy", "streamer"):
            r = _load(results, mode, n)
            lines.append(
                f"| {n} | {mode} | {r['http_requests']} | {r['rpc_calls']} | "
                f"{r['rate_limited']} | {r['ws_connections']} ({r['ws_refused']}) | "
                f"{r['peak_subscriptions']} | {r['engines_with_data']}/{n} |"
            )
    top = max(ns)
    legacy, streamer = _load(results, "legacy", top), _load(results, "streamer", top)
    fewer = _pct_less(legacy["http_requests"], streamer["http_requests"])
    calls = [_load(results, "streamer", n)["http_requests"] for n in ns]
    flat = max(calls) - min(calls) <= 2
    no_429 = all(_load(results, "streamer", n)["rate_limited"] == 0 for n in ns)
    lines += [
        "",
        f"- Streamer's HTTP requests for N = {', '.join(map(str, ns))}: "
        f"{', '.join(map(str, calls))}: independent of N: {_met(flat)}.",
        f"- At N = {top}: {fewer:.1f} % fewer HTTP requests than legacy (goal >= 98 %): "
        f"{_met(fewer >= 98)}.",
        f"- 429s the streamer way: {_met(no_429)} (zero at every N).",
        "",
        "![RPC load](benchmarks/rpc_load.png)",
        "",
    ]
    return lines


def _memory_section(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Memory (RSS at the end of the window, RPC without limits so legacy engines "
        "are fully subscribed)",
        "",
        "| N | way | engines | streamer | nats-server | total |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["memory"]:
        lines.append(
            f"| {r['engines']} | {r['mode']} | {r['rss_engines_mb']:.0f} MB | "
            f"{r['rss_streamer_mb']:.0f} MB | {r['rss_nats_mb']:.0f} MB | "
            f"{r['rss_total_mb']:.0f} MB |"
        )
    m, mm = results["memory_summary"], results["marginal_memory"]
    lines += [
        "",
        f"- Total at N = 10: legacy {m['legacy_total_mb']:.0f} MB, streamer "
        f"{m['streamer_total_mb']:.0f} MB: {m['total_less_pct']:.1f} % less (goal >= 75 %): "
        f"{_met(m['total_less_pct'] >= 75)}.",
        f"- Marginal RSS per engine ((N=10 - N=1) / 9): legacy {m['legacy_per_engine_mb']:.0f} "
        f"MB, streamer {m['streamer_per_engine_mb']:.0f} MB: {m['per_engine_less_pct']:.1f} % "
        f"less (goal >= 90 %): {_met(m['per_engine_less_pct'] >= 90)}. An engine process "
        "carries a Python interpreter and its imports (nats-py alone brings aiohttp: about "
        "36 MB before any data), which no design of ours removes.",
        f"- One more engine inside a process that already runs one (`benchmarks/memory.py`): "
        f"legacy {mm['legacy_mb_per_engine']:.1f} MB (a DriftClient subscribed by index), "
        f"streamer {mm['streamer_mb_per_engine']:.2f} MB (a DriftStreamClient): "
        f"{mm['less_pct']:.1f} % less: {_met(mm['less_pct'] >= 90)}.",
        "",
        "![Memory](benchmarks/memory.png)",
        "",
    ]
    return lines


def _latency_section(results: dict[str, Any]) -> list[str]:
    lat, first = results["latency"], results["first_data"]
    e2e, share, legacy = (
        lat["streamer_end_to_end_ms"],
        lat["pipeline_share_ms"],
        lat["legacy_ms"],
    )
    return [
        "## Latency and time to first data",
        "",
        "| measure | p50 | p99 | max | n |",
        "|---|---|---|---|---|",
        f"| streamer: localnet change -> engine has the FundingRate | {e2e['p50']:.2f} ms | "
        f"{e2e['p99']:.2f} ms | {e2e['max']:.2f} ms | {e2e['n']} |",
        f"| pipeline's own share: decoded pass published -> engine | {share['p50']:.2f} ms | "
        f"{share['p99']:.2f} ms | {share['max']:.2f} ms | {share['n']} |",
        f"| legacy: localnet change -> its own DriftClient has it (polled every 0.5 ms) | "
        f"{legacy['p50']:.2f} ms | {legacy['p99']:.2f} ms | {legacy['max']:.2f} ms | "
        f"{legacy['n']} |",
        f"| time to first data, new streamer engine | {first['streamer_ms']['p50']:.1f} ms | "
        f"{first['streamer_ms']['p99']:.1f} ms | {first['streamer_ms']['max']:.1f} ms | "
        f"{first['streamer_ms']['n']} |",
        f"| time to first data, new DriftClient (localnet, no limits) | "
        f"{first['legacy_ms']['p50']:.0f} ms | {first['legacy_ms']['p99']:.0f} ms | "
        f"{first['legacy_ms']['max']:.0f} ms | {first['legacy_ms']['n']} |",
        "",
        f"- End to end p99 under 25 ms: {_met(e2e['p99'] < 25)}; the pipeline's share p99 "
        f"under 2 ms: {_met(share['p99'] < 2)}.",
        f"- First data p50 under 20 ms: {_met(first['streamer_ms']['p50'] < 20)} "
        f"({first['legacy_ms']['p50'] / first['streamer_ms']['p50']:.0f}x faster than a new "
        "DriftClient even on a local RPC that answers at once and never limits; under the "
        "public limits above a new DriftClient got no data at all in the window).",
        "- The legacy way has one hop less (the engine's own websocket), so its delay on "
        "localnet is lower; what it costs is the RPC load, the memory and the first data.",
        "",
        "![Latency](benchmarks/latency.png)",
        "",
    ]


def _fanout_section(results: dict[str, Any]) -> list[str]:
    f, p = results["fanout"], results["profile"]
    lines = [
        "## Fan-out and streamer cost",
        "",
        f"{f['engines']} engines (10 NATS connections), every one of {f['markets']} markets' "
        f"funding and price changed every 400 ms for {f['rounds']} slots "
        f"({f['window_s']:.1f} s):",
        "",
        "| measure | value |",
        "|---|---|",
        f"| values the streamer wrote | {f['values_written']} |",
        f"| engines that received every one (no message lost) | "
        f"{f['engines_complete']}/{f['engines']} (min {f['received_min']}, max "
        f"{f['received_max']}) |",
        f"| streamer CPU | {f['streamer_cpu_s']:.2f} s = {f['streamer_cpu_pct']:.1f} % of "
        f"one core |",
        f"| streamer CPU per value written (decode, build, encode, KV put with ack) | "
        f"{f['cpu_per_value_us']:.0f} us |",
        f"| NATS in / out | {f['nats_in_msgs_per_s']:.0f} / {f['nats_out_msgs_per_s']:.0f} "
        f"msgs/s, out {f['nats_out_mb_per_s']:.1f} MB/s |",
        "",
        f"No message lost: {_met(f['engines_complete'] == f['engines'])}.",
        "",
        f"A pass (profiled in-process, KV writes left out, {p['markets']} markets): decode "
        f"every market {p['snapshot_ms_p50']:.2f} ms, build and encode every model "
        f"{p['publish_all_ms_p50']:.2f} ms, a pass where no market changed "
        f"{p['publish_unchanged_ms_p50']:.3f} ms; {p['us_per_market_decoded']:.0f} us per "
        "market decoded and built. Where the time goes (own time per full pass):",
        "",
        "| function | calls / pass | own us / pass | cumulative us / pass |",
        "|---|---|---|---|",
    ]
    for row in p["top"][:10]:
        lines.append(
            f"| `{row['function']}` | {row['calls_per_pass']:.0f} | "
            f"{row['own_us_per_pass']:.0f} | {row['cum_us_per_pass']:.0f} |"
        )
    lines += ["", *_NOTES]
    return lines


_NOTES = [
    "## Reading these numbers",
    "",
    "- Legacy engines subscribe every market by index: about 85 `getAccountInfo` calls at "
    "start, over the public limit of 40 per method per 10 s. Under those limits not even "
    "one legacy engine gets its markets; each retries (every 2-4 s, as a production "
    "engine would) and the RPC answers 429. The streamer way needs 7 requests in all "
    "(find-all: 2 `getProgramAccounts`, 2 `getMultipleAccounts`, 2 `getAccountInfo`, "
    "1 `getSlot`), then websockets only.",
    "- What the profile led to: passes run on driftpy's account updates instead of a "
    "250 ms timer (end to end went from the timer's 55.6 ms p50 to about 3-6 ms), and "
    "a pass builds models only for markets whose decoded state changed (the pipeline's "
    "share went from p99 2.3 ms to about 1 ms). A full pass (every market built, the "
    "profile above) happens only at start and at each TTL/2 refresh; its remaining cost "
    "is driftpy's funding math, pydantic validation and serialisation, and one task per "
    "pipelined KV put.",
    "- Memory per engine process is bounded below by Python itself: an interpreter with "
    "nats-py (which imports aiohttp) and pydantic is about 45 MB before any data, so "
    "separate engine processes cannot be 90 % smaller than a 100 MB driftpy engine; "
    "engines sharing a process cost a fraction of a megabyte each.",
    "",
]


def _plots(results: dict[str, Any], out: Path) -> None:
    ns = sorted({r["engines"] for r in results["rpc_load"]})
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.38
    for i, mode in enumerate(("legacy", "streamer")):
        values = [max(_load(results, mode, n)["http_requests"], 0.5) for n in ns]
        ax.bar([x + (i - 0.5) * width for x in range(len(ns))], values, width, label=mode)
    ax.set_xticks(range(len(ns)), [f"N = {n}" for n in ns])
    ax.set_yscale("log")
    ax.set_ylabel("HTTP requests at the RPC")
    ax.set_title("RPC load per window")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "rpc_load.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    mem = results["memory"]
    mns = sorted({r["engines"] for r in mem})
    for i, mode in enumerate(("legacy", "streamer")):
        values = [
            next(r["rss_total_mb"] for r in mem if r["mode"] == mode and r["engines"] == n)
            for n in mns
        ]
        ax.bar([x + (i - 0.5) * width for x in range(len(mns))], values, width, label=mode)
    ax.set_xticks(range(len(mns)), [f"N = {n}" for n in mns])
    ax.set_ylabel("total RSS (MB)")
    ax.set_title("Memory of the whole system")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "memory.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    samples = results["latency"]["samples_ms"]
    for label, key in (
        ("streamer, end to end", "streamer"),
        ("legacy", "legacy"),
        (
            "pipeline's share",
            "share",
        ),
    ):
        values = sorted(samples[key])
        ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=label)
    ax.set_xlabel("ms")
    ax.set_ylabel("fraction of updates")
    ax.set_title("Latency, cumulative")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)


def write_report(results: dict[str, Any], docs: Path, command: str) -> Path:
    """Write the JSON, the plots and the markdown; returns the markdown's path."""
    out = docs / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    _plots(results, out)
    lines = [
        "# Benchmarks: the streamer way against the legacy way, side by side",
        "",
        f"Written by `{command}` on {results['meta']['date']} "
        f"({results['meta']['machine']}; {results['meta']['took_s']:.0f} s). Everything runs "
        "on localnet's mainnet preset (85 perp markets); legacy engines each hold a "
        "DriftClient subscribed to every market by index, as engines did before the "
        "streamer; streamer engines are `DriftStreamClient`s. These machines are noisy: "
        "read ratios, not absolute times. Raw numbers: "
        "[benchmarks/results.json](benchmarks/results.json).",
        "",
    ]
    lines += _rpc_section(results)
    lines += _memory_section(results)
    lines += _latency_section(results)
    lines += _fanout_section(results)
    path = docs / "BENCHMARKS.md"
    path.write_text("\n".join(lines))
    return path
