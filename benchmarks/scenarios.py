"""The issue's scenarios, each one function from a plan (sizes and durations) to its
entries in results.json."""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.fanout import run_fanout
from benchmarks.first_data import run_first_data
from benchmarks.hot_path import run_hot_path
from benchmarks.hotpaths import profile_pass, summarize
from benchmarks.latency import run_latency_intervals
from benchmarks.math_cost import run_math_cost
from benchmarks.memory import memory_summary, run_first_data_rss, run_floor, run_marginal_memory
from benchmarks.providers import PROFILES, run_providers
from benchmarks.rpc_load import run_pair
from benchmarks.saturation import run_saturation

__all__ = ["SCENARIOS", "Plan"]


@dataclass(frozen=True)
class Plan:
    """How big and how long: the full run, or `quick` (a smoke run of a few minutes)."""

    quick: bool = False
    duration_s: float = 300.0  # each RPC-load run
    concurrency: int = 4  # engine processes importing at once

    @property
    def window_s(self) -> float:
        return 15.0 if self.quick else self.duration_s

    def settings(self, name: str) -> str:
        """What a scenario ran with, for the report's header."""
        q = self.quick
        return {
            "rpc_load": f"N = {', '.join(map(str, _load_ns(q)))}, {self.window_s:.0f} s each",
            "memory": f"N = {', '.join(map(str, _memory_ns(q)))} processes; "
            f"{3 if q else 10} engines added in one process",
            "latency": f"{50 if q else 300} changes at publish intervals 250 and 50 ms",
            "first_data": f"{10 if q else 30} streamer engines, {2 if q else 5} DriftClients",
            "fanout": f"{10 if q else 20} engines in 2 processes, {10 if q else 75} slots of "
            "400 ms",
            "streamer_cost": f"{50 if q else 200} passes; fan-out {10 if q else 20} engines "
            f"x {10 if q else 25} slots under cProfile",
            "math_cost": f"{10 if q else 60} alternating rounds over every market",
            "providers": f"{2 if q else 5} provider profiles, 60 s each, both sources side by side",
            "saturation": "engines and markets stepped up while nothing is lost, "
            f"{'2 steps each' if q else 'at most 600 s'}",
            "hot_path": f"fan-out {10} engines x {10 if q else 40} slots, "
            f"{1 if q else 2} runs per side; stages {5 if q else 30} rounds",
        }[name]


def _load_ns(quick: bool) -> tuple[int, ...]:
    return (1, 3) if quick else (1, 10, 50)


def _memory_ns(quick: bool) -> tuple[int, ...]:
    return (1, 3) if quick else (1, 10)


async def rpc_load(plan: Plan, root: Path) -> dict[str, Any]:
    runs = []
    for n in _load_ns(plan.quick):
        pair = await run_pair(n, plan.window_s, root, concurrency=plan.concurrency)
        runs += [r.to_json() for r in pair]
    return {"rpc_load": runs}


async def memory(plan: Plan, root: Path) -> dict[str, Any]:
    runs = []
    for n in _memory_ns(plan.quick):
        pair = await run_pair(
            n,
            60.0 if plan.quick else 180.0,
            root,
            limits=False,
            settle_s=3.0 if plan.quick else 10.0,
            concurrency=plan.concurrency,
        )
        runs += [r.to_json() for r in pair]
    return {
        "memory": runs,
        "memory_summary": memory_summary(runs),
        "marginal_memory": await run_marginal_memory(root, 3 if plan.quick else 10),
        "memory_floor": await run_floor(),
        "engine_first_data_rss": await run_first_data_rss(root),
    }


async def latency(plan: Plan, root: Path) -> dict[str, Any]:
    return {"latency": await run_latency_intervals(root, 50 if plan.quick else 300)}


async def first_data(plan: Plan, root: Path) -> dict[str, Any]:
    runs = (10, 2) if plan.quick else (30, 5)
    return {"first_data": await run_first_data(root, *runs)}


async def fanout(plan: Plan, root: Path) -> dict[str, Any]:
    # 20 engines: below this 2-core machine's limit with funding and prices changing
    # (the saturation scenario finds it; 50 engines here ran its cores out)
    engines, rounds = (10, 10) if plan.quick else (20, 75)
    return {"fanout": await run_fanout(root, engines=engines, rounds=rounds, processes=2)}


async def streamer_cost(plan: Plan, root: Path) -> dict[str, Any]:
    engines, rounds = (10, 10) if plan.quick else (20, 25)
    profile = Path(tempfile.mkdtemp(dir=root)) / "streamer.prof"
    run = await run_fanout(root, engines=engines, rounds=rounds, processes=2, profile_to=profile)
    return {
        "profile": await profile_pass(50 if plan.quick else 200),
        "streamer_profile": summarize(profile, per=run["market_updates"]),
    }


async def math_cost(plan: Plan, root: Path) -> dict[str, Any]:
    return {"math_cost": run_math_cost(10 if plan.quick else 60)}


async def providers(plan: Plan, root: Path) -> dict[str, Any]:
    profiles = ("public", "capped") if plan.quick else PROFILES
    return {"providers": [asdict(r) for r in await run_providers(profiles)]}


async def hot_path(plan: Plan, root: Path) -> dict[str, Any]:
    if plan.quick:
        return {"hot_path": await run_hot_path(root, runs=1, rounds=10, stage_rounds=5)}
    return {"hot_path": await run_hot_path(root)}


async def saturation(plan: Plan, root: Path) -> dict[str, Any]:
    return {"saturation": await run_saturation(root, quick=plan.quick)}


Scenario = Callable[[Plan, Path], Awaitable[dict[str, Any]]]
SCENARIOS: dict[str, Scenario] = {
    "rpc_load": rpc_load,
    "memory": memory,
    "latency": latency,
    "first_data": first_data,
    "fanout": fanout,
    "streamer_cost": streamer_cost,
    "math_cost": math_cost,
    "providers": providers,
    "hot_path": hot_path,
    "saturation": saturation,
}
