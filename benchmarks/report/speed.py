"""The report's latency, time-to-first-data, fan-out and streamer-cost sections."""

from __future__ import annotations

from typing import Any

from benchmarks.report.format import met, stat_cells

__all__ = [
    "cost_section",
    "fanout_section",
    "first_data_section",
    "latency_section",
    "math_section",
]


def latency_section(results: dict[str, Any]) -> list[str]:
    lat = results["latency"]
    e2e, share, legacy = lat["streamer_end_to_end_ms"], lat["pipeline_share_ms"], lat["legacy_ms"]
    interval = lat.get("publish_interval_s", 0.25) * 1000
    lines = [
        "## Latency",
        "",
        "A localnet account change (one market's funding) until the engine has the typed "
        "FundingRate; one change in flight at a time, localnet, streamer and engines in one "
        f"process (publish interval {interval:.0f} ms: passes run on driftpy's account "
        "updates, the interval is the fallback timer).",
        "",
        "| measure | p50 | p99 | max | n |",
        "|---|---|---|---|---|",
        f"| streamer: localnet change -> engine has the FundingRate | {stat_cells(e2e)} |",
        f"| pipeline's own share: decoded pass published -> engine | {stat_cells(share)} |",
        "| legacy: localnet change -> its own DriftClient has it (polled every 0.5 ms) | "
        f"{stat_cells(legacy)} |",
        "",
        f"- End to end p99 under 10 ms: {met(e2e['p99'] < 10)}; the pipeline's share p99 "
        f"under 1 ms: {met(share['p99'] < 1)}.",
        "- The legacy way has one hop less (the engine's own websocket), so its delay on "
        "localnet is lower; what it costs is the RPC load, the memory and the first data.",
        "",
    ]
    by_interval = lat.get("by_interval") or []
    if len(by_interval) > 1:
        lines += [
            "The same at each publish interval (p50 / p99 / max):",
            "",
            "| publish interval | streamer end to end | pipeline's share | legacy |",
            "|---|---|---|---|",
        ]
        for run in by_interval:
            cells = [
                " / ".join(f"{run[k].get(q, 0):.2f}" for q in ("p50", "p99", "max")) + " ms"
                for k in ("streamer_end_to_end_ms", "pipeline_share_ms", "legacy_ms")
            ]
            lines.append(f"| {run['publish_interval_s'] * 1000:.0f} ms | {' | '.join(cells)} |")
        lines.append("")
    return [*lines, "![Latency](benchmarks/latency.png)", ""]


def first_data_section(results: dict[str, Any]) -> list[str]:
    first = results["first_data"]
    stream, legacy = first["streamer_ms"], first["legacy_ms"]
    lines = [
        "## Time to first data",
        "",
        "| measure | p50 | p99 | max | n |",
        "|---|---|---|---|---|",
        f"| new streamer engine (DriftStreamClient) -> first funding | {stat_cells(stream, 1)} |",
        f"| new DriftClient (localnet, no limits) -> first funding | {stat_cells(legacy, 0)} |",
    ]
    speedup = legacy.get("p50", 0) / stream["p50"] if stream.get("p50") else 0
    lines += [
        "",
        f"- First data p50 under 20 ms: {met(stream.get('p50', 1e9) < 20)} ({speedup:.0f}x "
        "faster than a new DriftClient even on a local RPC that answers at once and never "
        "limits; under the public limits of the RPC-load runs a new DriftClient got no data "
        "at all: its ~85 reads at start exceed 40 per method per 10 s).",
    ]
    ready = {
        (r["mode"], r["engines"]): r["ready_ms_p50"]
        for r in results.get("memory", [])
        if r.get("ready_ms_p50") is not None
    }
    if ready:
        lines.append(
            "- Engine processes of the memory runs (no limits), start after imports -> "
            "first funding, p50: "
            + "; ".join(f"{mode} N = {n}: {ms:.0f} ms" for (mode, n), ms in sorted(ready.items()))
            + ". An engine process also pays its interpreter's start and imports: see "
            "Memory's floor table for what they load."
        )
    return [*lines, ""]


def _processes(f: dict[str, Any]) -> str:
    n = f.get("processes", 1)
    return "one process" if n == 1 else f"{n} engine processes"


def fanout_section(results: dict[str, Any]) -> list[str]:
    f = results["fanout"]
    lines = [
        "## Fan-out",
        "",
        f"{f['engines']} engines ({f.get('connections', 10)} NATS connections, "
        f"{_processes(f)}), "
        f"every one of {f['markets']} markets' funding and price changed every 400 ms for "
        f"{f['rounds']} slots ({f['window_s']:.1f} s); the streamer a process of its own:",
        "",
        "| measure | value |",
        "|---|---|",
        f"| values the streamer wrote | {f['values_written']} |",
        "| engines that received every one (no message lost) | "
        f"{f['engines_complete']}/{f['engines']} (min {f['received_min']}, max "
        f"{f['received_max']}) |",
        f"| streamer CPU | {f['streamer_cpu_s']:.2f} s = {f['streamer_cpu_pct']:.1f} % of "
        "one core"
        + (
            f" (idle, nothing changing: {f['streamer_idle_cpu_pct']:.1f} %)"
            if "streamer_idle_cpu_pct" in f
            else ""
        )
        + " |",
        "| streamer CPU per value written (decode, build, encode, KV put with ack) | "
        f"{f['cpu_per_value_us']:.0f} us |",
    ]
    if "cpu_per_market_update_us" in f:
        above = f["cpu_per_market_update_above_idle_us"]
        lines.append(
            f"| streamer CPU per decoded market update ({f['market_updates']}: a market whose "
            "account and oracle changed in a slot) | "
            f"{f['cpu_per_market_update_us']:.0f} us ({above:.0f} us above idle) |"
        )
    if "engines_cpu_pct" in f:
        lines += [
            f"| engine processes' CPU (all {f['processes']}) | {f['engines_cpu_pct']:.0f} % of "
            "one core |",
            f"| slow consumers (nats-server and clients) | {f['slow_consumers']} |",
        ]
    in_mb = f" ({f['nats_in_mb_per_s']:.2f} MB/s)" if "nats_in_mb_per_s" in f else ""
    lines += [
        f"| NATS in / out | {f['nats_in_msgs_per_s']:.0f} msgs/s{in_mb} / "
        f"{f['nats_out_msgs_per_s']:.0f} msgs/s ({f['nats_out_mb_per_s']:.1f} MB/s) |",
        "",
        f"No message lost: {met(f['engines_complete'] == f['engines'])}.",
        "",
        "There is no legacy side here: under the public limits not one DriftClient gets "
        "its markets (see RPC load), and without limits each would hold about 110 MB. "
        "How many engines this machine carries is the saturation scenario's question "
        "(below); this one stays under that limit, so that it measures the streamer.",
        "",
    ]
    return lines


def cost_section(results: dict[str, Any]) -> list[str]:
    p = results["profile"]
    lines = [
        "## Streamer cost: where the time goes",
        "",
        f"A pass (in-process, KV writes left out, {p['markets']} markets): decode every "
        f"market {p['snapshot_ms_p50']:.2f} ms, build and encode every model "
        f"{p['publish_all_ms_p50']:.2f} ms, a pass where no market changed "
        f"{p['publish_unchanged_ms_p50']:.3f} ms; {p['us_per_market_decoded']:.0f} us per "
        "market decoded and built."
        + (
            f" Before a pass, driftpy's websocket subscriber decodes every account update "
            f"with the IDL coder (anchorpy, construct): {p['account_decode_us']:.0f} us per "
            "PerpMarket account."
            if "account_decode_us" in p and "decode" not in p
            else ""
        )
        + (
            f" Before a pass, each account update is decoded: a PerpMarket in "
            f"{p['decode']['perp_own_us']:.1f} us by our decoder, "
            f"{p['decode']['perp_anchorpy_us']:.0f} us by driftpy's IDL coder (anchorpy, "
            f"construct); a SpotMarket in {p['decode']['spot_own_us']:.1f} us against "
            f"{p['decode']['spot_anchorpy_us']:.0f} us (`python -m benchmarks.hotpaths`)."
            if "decode" in p
            else ""
        )
        + " cProfile of full passes (own time per pass):",
        "",
        "| function | calls / pass | own us / pass | cumulative us / pass |",
        "|---|---|---|---|",
        *(
            f"| `{row['function']}` | {row['calls_per_pass']:.0f} | "
            f"{row['own_us_per_pass']:.0f} | {row['cum_us_per_pass']:.0f} |"
            for row in p["top"][:10]
        ),
        "",
    ]
    f = results.get("fanout", {})
    if "account_decode_us" in p and "decode" not in p and "cpu_per_market_update_us" in f:
        decode, share = (
            p["account_decode_us"],
            100 * p["account_decode_us"] / f["cpu_per_market_update_us"],
        )
        lines += [
            f"Without a profiler: decoding the PerpMarket account alone ({decode:.0f} us) is "
            f"{share:.0f} % of the streamer's CPU per market update in the fan-out "
            f"({f['cpu_per_market_update_us']:.0f} us), before its oracle's decode and any code "
            "of ours.",
            "",
        ]
    sp = results.get("streamer_profile")
    if sp:
        lines += [
            f"The whole streamer process under cProfile while it served the fan-out "
            f"({sp['per']:.0f} market updates; cProfile slows it, read the shares): own time "
            "by package, then the top functions.",
            "",
            "| package | own time | share |",
            "|---|---|---|",
            *(
                f"| {r['package']} | {r['own_s']:.2f} s | {r['share_pct']:.1f} % |"
                for r in sp["by_package"][:10]
            ),
            "",
            "| function | calls / market update | own us / market update | cumulative us |",
            "|---|---|---|---|",
            *(
                f"| `{r['function']}` | {r['calls_per_unit']:.2f} | {r['own_us_per_unit']:.1f} "
                f"| {r['cum_us_per_unit']:.1f} |"
                for r in sp["top"][:12]
            ),
            "",
            "![Streamer profile](benchmarks/streamer_profile.png)",
            "",
        ]
    return lines


def math_section(results: dict[str, Any]) -> list[str]:
    m = results["math_cost"]
    return [
        "## Math cost: the SDK's rules against driftpy's math",
        "",
        "CPU per market update (read the oracle account, then bid, ask, mark and the live "
        "funding estimate from the decoded market), the same decoded accounts on both sides, "
        f"median of {m['rounds']} alternating rounds over {m['markets']} markets "
        "(`python -m benchmarks.math_cost`):",
        "",
        "| math | CPU per market update | ratio |",
        "|---|---|---|",
        f"| `streamer.math` (the official SDK's rules) | {m['ours_us_per_market']:.1f} us | "
        f"{m['ratio']:.2f} |",
        f"| driftpy 0.8.89 | {m['driftpy_us_per_market']:.1f} us | 1.00 |",
        "",
    ]
