"""Every benchmark scenario, legacy and streamer side by side, into docs/BENCHMARKS.md.

.venv/bin/python -m benchmarks                 # the full run (about 20 minutes)
.venv/bin/python -m benchmarks --window 300    # RPC load over 5 minutes per run
.venv/bin/python -m benchmarks --quick         # a smoke run (about 3 minutes)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.fanout import profile_pass, run_fanout
from benchmarks.latency import run_first_data, run_latency
from benchmarks.memory import run_marginal_memory
from benchmarks.report import write_report
from benchmarks.rpc_load import run_load


async def _run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    ns = (1, 3) if args.quick else (1, 10, 50)
    window = 15.0 if args.quick else args.window
    results: dict[str, Any] = {"rpc_load": [], "memory": []}
    for n in ns:
        for mode in ("legacy", "streamer"):
            _say(f"rpc load: {mode}, N = {n}, {window:.0f} s")
            results["rpc_load"].append((await run_load(mode, n, window, root)).to_json())
    memory_ns = (1, 3) if args.quick else (1, 10)
    for n in memory_ns:
        for mode in ("legacy", "streamer"):
            _say(f"memory: {mode}, N = {n}")
            result = await run_load(mode, n, args.memory_window, root, limits=False)
            results["memory"].append(result.to_json())
    results["memory_summary"] = _memory_summary(results["memory"], memory_ns)
    _say("memory: one more engine in a process")
    results["marginal_memory"] = await run_marginal_memory(root, 3 if args.quick else 10)
    _say("latency")
    results["latency"] = await run_latency(root, samples=50 if args.quick else 300)
    _say("time to first data")
    results["first_data"] = await run_first_data(
        root, 10 if args.quick else 30, 2 if args.quick else 5
    )
    _say("fan-out")
    results["fanout"] = await run_fanout(
        root, engines=20 if args.quick else 100, rounds=10 if args.quick else 50
    )
    _say("profile")
    results["profile"] = await profile_pass(50 if args.quick else 200)
    return results


def _memory_summary(memory: list[dict[str, Any]], ns: tuple[int, int]) -> dict[str, float]:
    def total(mode: str, n: int) -> float:
        return float(
            next(r["rss_total_mb"] for r in memory if r["mode"] == mode and r["engines"] == n)
        )

    low, high = ns
    legacy_per = (total("legacy", high) - total("legacy", low)) / (high - low)
    streamer_per = (total("streamer", high) - total("streamer", low)) / (high - low)
    return {
        "n": high,
        "legacy_total_mb": total("legacy", high),
        "streamer_total_mb": total("streamer", high),
        "total_less_pct": 100 * (1 - total("streamer", high) / total("legacy", high)),
        "legacy_per_engine_mb": legacy_per,
        "streamer_per_engine_mb": streamer_per,
        "per_engine_less_pct": 100 * (1 - streamer_per / legacy_per),
    }


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=120.0, help="RPC-load seconds per run")
    parser.add_argument("--memory-window", type=float, default=45.0, help="memory seconds per run")
    parser.add_argument("--quick", action="store_true", help="small N, short windows")
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where to write")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the runs provoke 429s and refusals on purpose
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(_run(args, Path(tmp)))
    results["meta"] = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "took_s": time.monotonic() - started,
        "quick": args.quick,
        "window_s": 15.0 if args.quick else args.window,
    }
    command = "python -m benchmarks" + (" --quick" if args.quick else "")
    if not args.quick and args.window != 120.0:
        command += f" --window {args.window:.0f}"
    path = write_report(results, args.docs, command)
    print(path.read_text())


if __name__ == "__main__":
    main()
