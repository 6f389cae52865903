"""Where one machine tops out: the most engines, and the most markets, at slot rate.

Two searches, each a series of fan-outs (`benchmarks.fanout`: the streamer a process
of its own, engines in engine processes, every market's oracle changed every 400 ms
slot; funding left alone, so that localnet's simulator, which rebuilds a perp account
in about 3 ms, can keep the pace), stepped up while the previous step lost nothing:

- engines: N engines (25 per engine process, at least 2 processes) on the mainnet
  preset (85 perp markets);
- markets: 2 engines on `synthetic-M` (M perp markets: mainnet's, then made-up ones).

A step "holds" when every engine took every value the streamer wrote, no connection
fell behind (slow consumers) and localnet made every slot's changes on time (its
simulator runs in this process: when it cannot, the step measures localnet, not the
streamer). For each step: loss, and the CPU of each part in % of one core, so the
report can say what saturated first. The whole search stops at its time budget.

.venv/bin/python -m benchmarks.saturation [--budget 600]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.fanout import run_fanout

__all__ = ["run_saturation", "saturation_tables"]

ENGINE_STEPS = (25, 50, 75, 100, 150, 200, 400)
MARKET_STEPS = (85, 250, 500, 750, 1000)
_ROUNDS = 20  # 8 s of slots per step
_LATE = 1.2  # a step whose slots took 20 % longer than planned: localnet fell behind


def _step(run: dict[str, Any], n: int) -> dict[str, Any]:
    written = max(run["values_written"], 1)
    lost = (written - run["received_min"]) / written  # the engine that missed most
    late = run["window_s"] > _LATE * run["planned_window_s"]
    return {
        "n": n,
        "values_written": run["values_written"],
        "engines": run["engines"],
        "engines_complete": run["engines_complete"],
        "loss_pct": 100 * max(lost, 0.0),
        "slow_consumers": run["slow_consumers"],
        "streamer_cpu_pct": run["streamer_cpu_pct"],
        "nats_cpu_pct": run["nats_cpu_pct"],
        "engines_cpu_pct": run["engines_cpu_pct"],
        "engines_cpu_max_pct": run["engines_cpu_pct"] / max(run["processes"], 1),
        "localnet_cpu_pct": run["localnet_cpu_pct"],
        "machine_busy_pct": run["machine_busy_pct"],
        "processes": run["processes"],
        "localnet_late": late,
        "holds": run["engines_complete"] == run["engines"]
        and run["slow_consumers"] == 0
        and not late,
    }


def _first_to_saturate(step: dict[str, Any]) -> str:
    """What ran out at a step that did not hold: the machine's cores when every part
    together used 90 % of them (naming the largest user), else the part nearest a full
    core (engines judged by their busiest process), or localnet when it fell behind."""
    parts = {
        "the streamer": step["streamer_cpu_pct"],
        "nats-server": step["nats_cpu_pct"],
        "the engines' parsing": step["engines_cpu_pct"],
        "localnet and its simulator": step["localnet_cpu_pct"],
    }
    cores = os.cpu_count() or 1
    largest = max(parts, key=lambda k: parts[k])
    if sum(parts.values()) >= 90 * cores or step.get("machine_busy_pct", 0) >= 90:
        shares = ", ".join(f"{k} {v:.0f} %" for k, v in parts.items())
        return f"the machine's {cores} cores ({shares} of one core; the most: {largest})"
    if step["localnet_late"]:
        return "localnet (its simulator could not change every market each slot)"
    parts["the engines' parsing"] = step["engines_cpu_max_pct"]
    part = max(parts, key=lambda k: parts[k])
    return f"{part} ({parts[part]:.0f} % of a core)"


def _streamer_core_at(steps: list[dict[str, Any]]) -> float | None:
    """Markets at which the streamer alone would use one core, from the line through
    the first and the last step that held (None with fewer than two)."""
    held = [s for s in steps if s["holds"]]
    if len(held) < 2 or held[-1]["streamer_cpu_pct"] <= held[0]["streamer_cpu_pct"]:
        return None
    a, b = held[0], held[-1]
    slope = (b["streamer_cpu_pct"] - a["streamer_cpu_pct"]) / (b["n"] - a["n"])
    return float(b["n"] + (100 - b["streamer_cpu_pct"]) / slope)


async def _search(
    root: Path, steps: tuple[int, ...], deadline: float, *, engines: bool
) -> list[dict[str, Any]]:
    done: list[dict[str, Any]] = []
    for n in steps:
        if time.monotonic() > deadline:
            break
        if engines:
            run = await run_fanout(
                root, engines=n, rounds=_ROUNDS, processes=max(2, n // 25), funding=False
            )
        else:
            run = await run_fanout(
                root,
                engines=2,
                rounds=_ROUNDS,
                processes=1,
                preset=f"synthetic-{n}",
                funding=False,
            )
        done.append(_step(run, n))
        if not done[-1]["holds"]:
            break
    return done


async def run_saturation(
    root: Path, budget_s: float = 600.0, quick: bool = False
) -> dict[str, Any]:
    """Both searches within `budget_s` (the engines search gets 60 % of it)."""
    started = time.monotonic()
    engine_steps = ENGINE_STEPS[:2] if quick else ENGINE_STEPS
    market_steps = MARKET_STEPS[:2] if quick else MARKET_STEPS
    by_engines = await _search(root, engine_steps, started + 0.6 * budget_s, engines=True)
    by_markets = await _search(root, market_steps, started + budget_s, engines=False)
    out: dict[str, Any] = {"engines": by_engines, "markets": by_markets, "rounds": _ROUNDS}
    for name, steps in (("engines", by_engines), ("markets", by_markets)):
        held = [s["n"] for s in steps if s["holds"]]
        out[f"most_{name}"] = max(held, default=None)
        failed = next((s for s in steps if not s["holds"]), None)
        out[f"{name}_saturated"] = None if failed is None else _first_to_saturate(failed)
    out["streamer_core_at_markets"] = _streamer_core_at(by_markets)
    out["took_s"] = time.monotonic() - started
    return out


def saturation_tables(result: dict[str, Any]) -> list[str]:
    """The two searches as markdown tables, with their conclusions."""
    lines: list[str] = []
    for name, label in (("engines", "engines"), ("markets", "perp markets")):
        lines += [
            f"| {label} | values written | engines complete | loss (worst engine) | "
            "slow consumers | streamer CPU | nats-server CPU | engines' CPU (busiest "
            "process) | localnet CPU | machine busy |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in result[name]:
            late = " (late)" if s["localnet_late"] else ""
            lines.append(
                f"| {s['n']} | {s['values_written']} | {s['engines_complete']}/{s['engines']} | "
                f"{s['loss_pct']:.2f} % | {s['slow_consumers']} | {s['streamer_cpu_pct']:.0f} % | "
                f"{s['nats_cpu_pct']:.0f} % | {s['engines_cpu_pct']:.0f} % "
                f"({s['engines_cpu_max_pct']:.0f} %) | {s['localnet_cpu_pct']:.0f} %{late} | "
                f"{s.get('machine_busy_pct', 0):.0f} % |"
            )
        most = result[f"most_{name}"]
        saturated = result[f"{name}_saturated"]
        lines += [
            "",
            f"- Most {label} with every value received: {most if most else 'none'}"
            + (
                f"; at the next step, what saturated first: {saturated}."
                if saturated
                else " (the largest step tried held: the limit is above it)."
            ),
            "",
        ]
    core_at = result.get("streamer_core_at_markets")
    if core_at:
        lines += [
            f"- The streamer's own CPU grows with the markets: one core at about {core_at:.0f} "
            "perp markets changing every slot (the line through the steps that held, "
            "extrapolated).",
            "",
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=600.0, help="seconds for both searches")
    parser.add_argument("--quick", action="store_true", help="two steps of each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drift-saturation-") as tmp:
        result = asyncio.run(run_saturation(Path(tmp), args.budget, args.quick))
    print("\n".join(saturation_tables(result)))


if __name__ == "__main__":
    main()
