"""docs/BENCHMARKS.md, docs/benchmarks/results.json and the PNG plots, from a run's
results (a partial run's results merged into the last full one's: see __main__)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.report.hot_path import hot_path_section
from benchmarks.report.load import memory_section, rpc_section
from benchmarks.report.plots import write_plots
from benchmarks.report.providers import providers_section
from benchmarks.report.saturation import saturation_section, write_saturation_plot
from benchmarks.report.speed import (
    cost_section,
    fanout_section,
    first_data_section,
    latency_section,
    math_section,
)

__all__ = ["write_report"]

Section = Callable[[dict[str, Any]], list[str]]
# A section is written when its results are there.
_SECTIONS: tuple[tuple[str, Section], ...] = (
    ("rpc_load", rpc_section),
    ("memory_summary", memory_section),
    ("latency", latency_section),
    ("first_data", first_data_section),
    ("fanout", fanout_section),
    ("hot_path", hot_path_section),
    ("saturation", saturation_section),
    ("profile", cost_section),
    ("math_cost", math_section),
    ("providers", providers_section),
)

_NOTES = [
    "## Reading these numbers",
    "",
    "- Legacy engines subscribe every market by index: about 85 `getAccountInfo` calls at "
    "start, over the public limit of 40 per method per 10 s. Under those limits not even "
    "one legacy engine gets its markets; each retries (every 2-4 s, as a production "
    "engine would) and the RPC answers 429. The streamer way needed 7 requests in all in "
    "these runs (find-all: 2 `getProgramAccounts`, 2 `getMultipleAccounts`, 2 "
    "`getAccountInfo`, 1 `getSlot`), then websockets only, whatever the number of engines; "
    "reading every oracle's raw bytes for its per-source prices (docs/OFFICIAL_NUMBERS.md) "
    "added 2 `getMultipleAccounts` since: 9.",
    "- A first full run started the legacy engines at the streamer side's priority: at "
    "N = 50, about 120 s in, the streamer's websockets dropped to zero and its "
    "DriftClient started again (14 HTTP requests and 10 websockets instead of 7 and 5). "
    "Likely cause: the legacy engines' CPU storm (and the 429 traffic of their localnet, "
    "which runs in the benchmark's process next to the streamer side's) kept the slot "
    "feed quiet past the streamer's 10 s watchdog; that run did not record the reason. "
    "The runs above give the legacy engines a lower priority and record the streamer's "
    "restarts and errors by kind.",
    "- What the profile led to so far: passes run on driftpy's account updates instead of "
    "a 250 ms timer (end to end went from the timer's 55.6 ms p50 to a few ms), and a pass "
    "builds models only for markets whose decoded state changed (the pipeline's share went "
    "from p99 2.3 ms to about 1 ms). A full pass (every market built, the pass profile) "
    "happens only at start and at each TTL/2 refresh.",
    "- Where the streamer's CPU goes (the whole-process profile): most of it was "
    "driftpy's IDL coder (construct, anchorpy) decoding every account update. PerpMarket "
    "and SpotMarket updates are now read by our own decoder (`streamer/account_decode.py`, "
    "offsets computed from Drift's IDL; `DRIFT_DECODER=anchorpy` runs the old path for "
    "comparison: the hot-path section), a pass's writes are answered all at once "
    "(`streamer/acks.py`) and the repeg math copies the AMM cheaply. What remains per "
    "update is the SDK's math (the largest stage), the websocket receive, asyncio and "
    "nats-py.",
    "- This machine is slower than the one of 2026-11-24 in ways a ratio does not undo: "
    "the legacy way's delay, which has no code of ours in it, was 1.52 ms p50 then and is "
    "the Latency section's legacy row now; the fan-out before our decoder cost 2082 us per "
    "market update here against 588 us documented then. Read each section's figures "
    "against its own side-by-side runs.",
    "- Memory per engine process is bounded below by Python itself (see the floor table): "
    "the library imports nats-py without aiohttp (`subscribers.lean_imports`) and builds "
    "a model's validator at its first use, but an empty interpreter alone is already more "
    "than 10 % of a legacy engine, so separate engine processes cannot be 90 % smaller "
    "than a driftpy engine; engines sharing a process cost a fraction of a megabyte each.",
    "- Latency is measured on one machine with localnet in the benchmark's process: it "
    "has no network in it. What it shows is the pipeline's own cost (decode, build, "
    "KV put, republish, client decode) and that the publish timer no longer bounds it.",
    "",
]


def _header(results: dict[str, Any], command: str) -> list[str]:
    meta = results["meta"]
    runs = meta.get("scenarios")
    written = (
        f"Written on {meta['date']} ({meta['machine']}) by the runs in the table below."
        if runs
        else f"Written by `{command}` on {meta['date']} ({meta['machine']}; "
        f"{meta['took_s']:.0f} s)."
    )
    lines = [
        "# Benchmarks: the streamer way against the legacy way, side by side",
        "",
        f"{written} Everything runs on localnet's mainnet preset (85 perp markets); legacy "
        "engines each hold a DriftClient subscribed to every market by index, as engines "
        "did before the streamer; streamer engines are `DriftStreamClient`s. These "
        "machines are noisy (two cores, shared): read ratios, not absolute times. Raw "
        "numbers: [benchmarks/results.json](benchmarks/results.json).",
        "",
    ]
    if meta.get("failed"):
        lines += [
            f"The last run's {', '.join(meta['failed'])} failed (its log says why): the "
            "figures of those scenarios are from the run dated in the table.",
            "",
        ]
    if runs:
        lines += [
            "| scenario | command | run on | took | settings |",
            "|---|---|---|---|---|",
            *(
                f"| {name} | `{run.get('command', 'python -m benchmarks')}` | {run['date']} | "
                f"{run['took_s']:.0f} s | {run['settings']} |"
                for name, run in runs.items()
            ),
            "",
        ]
    return lines


def write_report(results: dict[str, Any], docs: Path, command: str) -> Path:
    """Write the JSON, the plots and the markdown; returns the markdown's path."""
    out = docs / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    write_plots(results, out)
    write_saturation_plot(results, out)
    lines = _header(results, command)
    for key, section in _SECTIONS:
        if results.get(key):
            lines += section(results)
    lines += _NOTES
    path = docs / "BENCHMARKS.md"
    path.write_text("\n".join(lines))
    return path
