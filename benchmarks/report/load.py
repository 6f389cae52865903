"""The report's RPC-load and memory sections."""

from __future__ import annotations

from typing import Any

from benchmarks.report.format import find_run, met, pct_less

__all__ = ["memory_section", "rpc_section"]


def _ratio_row(legacy: dict[str, Any], streamer: dict[str, Any]) -> str:
    def less(key: str) -> str:
        return f"{-pct_less(legacy[key], streamer[key]):+.1f} %" if legacy[key] else "-"

    return (
        f"| {legacy['engines']} | streamer vs legacy | {less('http_requests')} | "
        f"{less('rpc_calls')} | | {less('ws_connections')} | "
        f"{less('ws_subscribe_requests') if 'ws_subscribe_requests' in legacy else '-'} | | | "
        f"{less('cpu_engines_s') if legacy.get('cpu_engines_s') else '-'} |"
    )


def _cpu(run: dict[str, Any]) -> str:
    if "cpu_engines_s" not in run:
        return "-"
    return f"{run['cpu_engines_s'] + run['cpu_streamer_s'] + run['cpu_nats_s']:.0f} s"


def _engines(run: dict[str, Any]) -> str:
    """With data / N, and how many had started if not all did within the window."""
    n, started = run["engines"], run.get("engines_started", run["engines"])
    return f"{run['engines_with_data']}/{n}" + (f" ({started} started)" if started < n else "")


def rpc_section(results: dict[str, Any]) -> list[str]:
    runs = results["rpc_load"]
    ns = sorted({r["engines"] for r in runs})
    lines = [
        "## RPC load (public limits: 100 requests / 10 s, 40 per method, 40 connections)",
        "",
        f"Window: {runs[0]['window_s']:.0f} s per run, counted from the first engine's "
        "start (when a DriftClient costs the RPC most). Engines are processes of their own, "
        "started at most four at a time; at each N the legacy and the streamer way ran at "
        "the same time, each against a localnet of its own, the legacy engines 5 nice "
        "steps lower so that on two cores their CPU storm does not starve the streamer "
        "side (they would not share a machine in production; their figures are counts, "
        "and less CPU can only lower them). CPU is every process's own (engines, "
        "streamer, nats-server) over the window.",
        "",
        "| N | way | HTTP requests | RPC calls | 429s | websockets opened (refused) "
        "| ws subscribe requests | peak subscriptions | engines with data | CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in ns:
        for mode in ("legacy", "streamer"):
            r = find_run(runs, mode, n)
            lines.append(
                f"| {n} | {mode} | {r['http_requests']} | {r['rpc_calls']} | "
                f"{r['rate_limited']} | {r['ws_connections']} ({r['ws_refused']}) | "
                f"{r.get('ws_subscribe_requests', '-')} | {r['peak_subscriptions']} | "
                f"{_engines(r)} | {_cpu(r)} |"
            )
        lines.append(_ratio_row(find_run(runs, "legacy", n), find_run(runs, "streamer", n)))
    top = max(ns)
    legacy, streamer = find_run(runs, "legacy", top), find_run(runs, "streamer", top)
    fewer = pct_less(legacy["http_requests"], streamer["http_requests"])
    streamers = [find_run(runs, "streamer", n) for n in ns]
    calls = [r["http_requests"] for r in streamers]
    flat = (
        max(calls) - min(calls) <= 2
        and len({r["ws_connections"] for r in streamers}) == 1
        and len({r["peak_subscriptions"] for r in streamers}) == 1
    )
    limited = [r["rate_limited"] for r in streamers]
    restarts = [
        f"N = {r['engines']}: {r['streamer_restarts']}"
        + (
            f" ({', '.join(f'{k} {v}' for k, v in r['streamer_errors'].items())})"
            if r.get("streamer_errors")
            else ""
        )
        for r in streamers
        if "streamer_restarts" in r
    ]
    lines += [
        "",
        f"- Streamer's HTTP requests for N = {', '.join(map(str, ns))}: "
        f"{', '.join(map(str, calls))}; websockets "
        f"{', '.join(str(r['ws_connections']) for r in streamers)}; subscriptions "
        f"{', '.join(str(r['peak_subscriptions']) for r in streamers)}: independent of N: "
        f"{met(flat)}.",
        f"- At N = {top}: {fewer:.1f} % fewer HTTP requests than legacy (goal >= 98 %): "
        f"{met(fewer >= 98)}.",
        f"- 429s the streamer way: {met(not any(limited))} "
        f"({'zero at every N' if not any(limited) else ', '.join(map(str, limited))}).",
        *(
            [
                "- Streamer DriftClient restarts in the window (each costs its 7 requests and "
                f"5 websockets again; errors by kind): {'; '.join(restarts)}."
            ]
            if restarts
            else []
        ),
        "- Legacy RPC calls are capped by the limiter (40 per method per 10 s: at most "
        f"about {40 * runs[0]['window_s'] / 10:.0f} `getAccountInfo` in "
        f"{runs[0]['window_s']:.0f} s): what grows with N is the 429s.",
        "",
        "![RPC load](benchmarks/rpc_load.png)",
        "",
    ]
    if any(r.get("timeline") for r in runs):
        lines += ["![RPC requests over time](benchmarks/rpc_timeline.png)", ""]
    return lines


def memory_section(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Memory",
        "",
        "RSS at the end of a run without RPC limits (so legacy engines are fully "
        "subscribed), a few seconds after every engine had its data. PSS divides shared "
        "pages (libraries) among the processes that map them: a sum of PSS does not count "
        "them twice.",
        "",
        "| N | way | engines | streamer | nats-server | total RSS | total PSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["memory"]:
        pss = f"{r['pss_total_mb']:.0f} MB" if "pss_total_mb" in r else "-"
        lines.append(
            f"| {r['engines']} | {r['mode']} | {r['rss_engines_mb']:.0f} MB | "
            f"{r['rss_streamer_mb']:.0f} MB | {r['rss_nats_mb']:.0f} MB | "
            f"{r['rss_total_mb']:.0f} MB | {pss} |"
        )
    m, mm = results["memory_summary"], results["marginal_memory"]
    n, low = m["n"], m.get("n_low", 1)
    lines += [
        "",
        f"- Total at N = {n}: legacy {m['legacy_total_mb']:.0f} MB, streamer "
        f"{m['streamer_total_mb']:.0f} MB: {m['total_less_pct']:.1f} % less (goal >= 75 %): "
        f"{met(m['total_less_pct'] >= 75)}."
        + (
            f" In PSS: legacy {m['legacy_pss_mb']:.0f} MB, streamer "
            f"{m['streamer_pss_mb']:.0f} MB, {m['pss_less_pct']:.1f} % less."
            if "pss_less_pct" in m
            else ""
        ),
        f"- Marginal RSS per engine process ((N={n} - N={low}) / {n - low}): legacy "
        f"{m['legacy_per_engine_mb']:.0f} MB, streamer {m['streamer_per_engine_mb']:.0f} MB: "
        f"{m['per_engine_less_pct']:.1f} % less (goal >= 90 %): "
        f"{met(m['per_engine_less_pct'] >= 90)}.",
        f"- One more engine inside a process that already runs one (`benchmarks/memory.py`, "
        f"{mm['engines']} added): legacy {mm['legacy_mb_per_engine']:.1f} MB (a DriftClient "
        f"subscribed by index), streamer {mm['streamer_mb_per_engine']:.2f} MB (a "
        f"DriftStreamClient): {mm['less_pct']:.1f} % less: {met(mm['less_pct'] >= 90)}.",
        "",
    ]
    floor = results.get("memory_floor")
    if floor:
        lines += [
            "What an engine process holds before any data (RSS of a fresh interpreter after "
            "its imports): the floor under the per-process figures above.",
            "",
            "| process | RSS |",
            "|---|---|",
            *(f"| {label} | {mb:.1f} MB |" for label, mb in floor.items()),
            "",
        ]
    first = results.get("engine_first_data_rss")
    if first:
        lines += [
            f"- An engine process at its first data (`benchmarks.engine streamer`: every "
            f"market's funding, the streamer running; median of {first['runs']:.0f}): "
            f"{first['median_mb']:.1f} MB RSS (goal <= 36 MB): "
            f"{met(first['median_mb'] <= 36)}.",
            "",
        ]
    return [*lines, "![Memory](benchmarks/memory.png)", ""]
