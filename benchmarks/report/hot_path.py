"""The report's hot-path section: the streamer before and now, side by side."""

from __future__ import annotations

from typing import Any

from benchmarks.hotpaths import decode_table
from benchmarks.report.format import met
from benchmarks.stages import STAGES, stages_table

__all__ = ["hot_path_section"]

_GOAL_RATIO = 4.0  # the goal: 4x less CPU per market update than before


def hot_path_section(results: dict[str, Any]) -> list[str]:
    h = results["hot_path"]
    old, new = h["fanout"]["old"], h["fanout"]["new"]

    def row(label: str, key: str, unit: str = "us") -> str:
        ratio = old[key] / new[key] if new[key] else 0.0
        return f"| {label} | {old[key]:.0f} {unit} | {new[key]:.0f} {unit} | {ratio:.2f}x |"

    ratio = old["cpu_per_market_update_above_idle_us"] / max(
        new["cpu_per_market_update_above_idle_us"], 1e-9
    )
    stages = h["stages"]
    stage_sum = stages["new"]["total"]
    lines = [
        "## Hot path: before and now",
        "",
        f"The fan-out ({h['engines']} engines, every perp market's funding and price and "
        f"every spot oracle changed every 400 ms for {h['rounds']} slots), run {h['runs']} "
        "times on each side, alternating, in one run: before is `DRIFT_DECODER=anchorpy` "
        "(driftpy's IDL coder decoding every websocket account update, the path of "
        "2026-11), now is our decoder. Both sides run today's math and writes; the stage "
        "table below shows what each of those saved. Medians of the runs:",
        "",
        "| streamer CPU | before | now | before / now |",
        "|---|---|---|---|",
        row("per market update, above idle", "cpu_per_market_update_above_idle_us"),
        row("per market update, all", "cpu_per_market_update_us"),
        row("per value written", "cpu_per_value_us"),
        f"| idle (nothing changing) | {old['streamer_idle_cpu_pct']:.1f} % | "
        f"{new['streamer_idle_cpu_pct']:.1f} % | |",
        f"| engines that received every value | {old['engines_complete']}/{h['engines']} | "
        f"{new['engines_complete']}/{h['engines']} | |",
        "",
        f"- 4x less CPU per market update than before (the goal: 588 us to at most 150 us "
        f"on the 2026-11-24 machine): {ratio:.1f}x, {met(ratio >= _GOAL_RATIO)}.",
        f"- The stages below add up to {stage_sum:.0f} us of the "
        f"{new['cpu_per_market_update_above_idle_us']:.0f} us a market update costs in the "
        "fan-out; the rest is the websocket receive (frames, JSON, base64), asyncio, nats-py's "
        "read loop and the answers, spot markets' own passes, and a market computed twice "
        "when its oracle's and its account's update arrive in separate passes.",
        "",
        f"Stage by stage (`python -m benchmarks.stages`), CPU per market update, median of "
        f"{stages['rounds']} alternating rounds over {stages['markets']} markets; put is "
        f"{stages['values_per_update']:.1f} values written, fenced, to a real nats-server in "
        "a pass of every market:",
        "",
        stages_table(stages),
        "",
        f"- math, build and encode run the same code on both sides: their difference (up to "
        f"{_noise(stages):.0f} %) is this machine's noise between alternating rounds.",
        f"- The largest stage now: {_largest(stages['new'])}. Model validation stays: it is "
        "what refuses a market whose values are not publishable (build is "
        f"{stages['new']['build']:.0f} us for both models).",
        "",
        decode_table(h["decode"]),
        "",
    ]
    return lines


def _largest(side: dict[str, float]) -> str:
    stage = max(STAGES, key=lambda s: side[s])
    return f"{stage} ({side[stage]:.0f} us, {100 * side[stage] / side['total']:.0f} %)"


def _noise(stages: dict[str, Any]) -> float:
    old, new = stages["old"], stages["new"]
    diffs = [100 * abs(new[s] - old[s]) / old[s] for s in ("math", "build", "encode") if old[s]]
    return float(max(diffs, default=0.0))
