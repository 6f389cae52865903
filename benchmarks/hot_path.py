"""The streamer's hot path before and now, side by side in one run.

- The fan-out (`benchmarks.fanout`, every market's funding and price changing every
  400 ms slot), run alternately with `DRIFT_DECODER=anchorpy` (driftpy's IDL coder: the
  decode before) and with ours, so machine noise hits both alike: streamer CPU per
  market update and per value written, medians of the runs.
- Stage by stage (`benchmarks.stages`): decode, math, build, encode, put.
- The account decode alone (`benchmarks.hotpaths.decode_costs`).

.venv/bin/python -m benchmarks --only hot_path
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from benchmarks.fanout import run_fanout
from benchmarks.hotpaths import decode_costs
from benchmarks.stages import run_stages
from localnet.ledger import Ledger
from localnet.markets import DriftMarkets
from localnet.presets import preset

__all__ = ["SIDES", "run_hot_path"]

SIDES = {"old": "anchorpy", "new": "own"}  # side -> the streamer's DRIFT_DECODER
_MEASURES = (
    "cpu_per_market_update_us",
    "cpu_per_market_update_above_idle_us",
    "cpu_per_value_us",
    "streamer_idle_cpu_pct",
)


async def run_hot_path(
    root: Path, *, runs: int = 2, engines: int = 10, rounds: int = 40, stage_rounds: int = 30
) -> dict[str, Any]:
    """`runs` fan-outs of each side, alternating; the stage and decode tables."""
    fanouts: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for _ in range(runs):
        for side, decoder in SIDES.items():
            run = await run_fanout(root, engines=engines, rounds=rounds, decoder=decoder)
            fanouts[side].append(run)
    summary = {
        side: {m: statistics.median(r[m] for r in done) for m in _MEASURES}
        | {
            "engines_complete": min(r["engines_complete"] for r in done),
            "values_written": statistics.median(r["values_written"] for r in done),
        }
        for side, done in fanouts.items()
    }
    return {
        "engines": engines,
        "rounds": rounds,
        "runs": runs,
        "fanout": summary,
        "fanout_runs": fanouts,
        "stages": await run_stages(root, stage_rounds),
        "decode": decode_costs(DriftMarkets(Ledger(), preset("mainnet")), stage_rounds),
    }
