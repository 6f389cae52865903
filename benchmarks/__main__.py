"""Every benchmark scenario, legacy and streamer side by side, into docs/BENCHMARKS.md.

.venv/bin/python -m benchmarks                      # the full run (about 25 minutes)
.venv/bin/python -m benchmarks --quick              # a smoke run (under 3 minutes)
.venv/bin/python -m benchmarks --only latency,fanout --duration 120
.venv/bin/python -m benchmarks --rewrite            # the doc again from results.json

A run of some scenarios (`--only`) keeps the other scenarios' results from the last
results.json and says in the report when each ran and with what settings.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.report import write_report
from benchmarks.scenarios import SCENARIOS, Plan

__all__ = ["main"]


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def _run(plan: Plan, names: list[str], root: Path, command: str) -> dict[str, Any]:
    # SIGTERM cancels the run like Ctrl-C: every scenario stops what it started
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    results: dict[str, Any] = {"meta": {"scenarios": {}}}
    for name in names:
        _say(f"{name}: {plan.settings(name)}")
        started = time.monotonic()
        try:
            results.update(await SCENARIOS[name](plan, root))
        except Exception:  # the other scenarios still run; this one keeps its last results
            _say(f"{name} failed, its last results are kept:\n{traceback.format_exc()}")
            results.setdefault("meta", {}).setdefault("failed", []).append(name)
            continue
        results["meta"]["scenarios"][name] = {
            "date": datetime.date.today().isoformat(),
            "took_s": time.monotonic() - started,
            "quick": plan.quick,
            "settings": plan.settings(name),
            "command": command,
        }
    return results


def _merge(previous: Path, results: dict[str, Any]) -> dict[str, Any]:
    """The last results with this run's scenarios replaced."""
    try:
        merged: dict[str, Any] = json.loads(previous.read_text())
    except (OSError, ValueError):
        return results
    scenarios = {**merged.get("meta", {}).get("scenarios", {}), **results["meta"]["scenarios"]}
    merged.update(results)
    merged["meta"] = {**results["meta"], "scenarios": scenarios}
    return merged


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown scenario {', '.join(sorted(unknown))}; pick from {', '.join(SCENARIOS)}"
        )
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration",
        "--window",
        type=float,
        default=300.0,
        help="seconds of each RPC-load run (default 300: the issue's 5 minutes of data)",
    )
    parser.add_argument("--quick", action="store_true", help="small N, short windows")
    parser.add_argument(
        "--only",
        type=_names,
        default=list(SCENARIOS),
        help=f"comma-separated scenarios (default all: {','.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="engine processes starting at once"
    )
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where to write")
    parser.add_argument(
        "--rewrite",
        action="store_true",
        help="run nothing: rewrite the markdown and plots from the last results.json",
    )
    args = parser.parse_args()
    command = " ".join(["python -m benchmarks", *sys.argv[1:]])
    previous = args.docs / "benchmarks" / "results.json"
    if args.rewrite:
        _say(f"wrote {write_report(json.loads(previous.read_text()), args.docs, command)}")
        return
    logging.disable(logging.WARNING)  # the runs provoke 429s and refusals on purpose
    # localnet's websocket server logs a traceback when a stopped engine's socket closes
    # while it answers the upgrade: expected at every engine stop, noise here
    logging.getLogger("aiohttp.server").disabled = True
    plan = Plan(quick=args.quick, duration_s=args.duration, concurrency=args.concurrency)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        try:
            results = asyncio.run(_run(plan, args.only, Path(tmp), command))
        except asyncio.CancelledError:  # SIGTERM: what it started is stopped already
            _say("stopped before the end: nothing written")
            sys.exit(1)
    results["meta"].update(
        date=datetime.date.today().isoformat(),
        machine=f"{os.cpu_count()} cores, Python {platform.python_version()}",
        took_s=time.monotonic() - started,
        quick=args.quick,
        duration_s=plan.window_s,
    )
    if set(args.only) != set(SCENARIOS) or results["meta"].get("failed"):
        results = _merge(previous, results)
    path = write_report(results, args.docs, command)
    _say(f"wrote {path} and {args.docs / 'benchmarks'}/")


if __name__ == "__main__":
    main()
