"""The PNG plots of docs/BENCHMARKS.md, each from a run's results (when it has them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

__all__ = ["write_plots"]

_MODES = ("legacy", "streamer")
_WIDTH = 0.38


Draw = Callable[[Axes, dict[str, Any]], None]


def _save(out: Path, name: str, draw: Draw, results: dict[str, Any]) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    draw(ax, results)
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)


def _bars(ax: Axes, runs: list[dict[str, Any]], key: str) -> None:
    """Legacy and streamer side by side per N."""
    ns = sorted({r["engines"] for r in runs})
    for i, mode in enumerate(_MODES):
        values = [
            max(float(next(r[key] for r in runs if r["mode"] == mode and r["engines"] == n)), 0.5)
            for n in ns
        ]
        ax.bar([x + (i - 0.5) * _WIDTH for x in range(len(ns))], values, _WIDTH, label=mode)
    ax.set_xticks(range(len(ns)), [f"N = {n}" for n in ns])
    ax.legend()


def _rpc_load(ax: Axes, results: dict[str, Any]) -> None:
    _bars(ax, results["rpc_load"], "http_requests")
    ax.set_yscale("log")
    ax.set_ylabel("HTTP requests at the RPC")
    ax.set_title("RPC load per window (log scale)")


def _timeline(ax: Axes, results: dict[str, Any]) -> None:
    for run in results["rpc_load"]:
        points = run.get("timeline") or []
        if points:
            style = "-" if run["mode"] == "legacy" else "--"
            ax.plot(
                [p[0] for p in points],
                [max(p[1], 0.5) for p in points],
                style,
                label=f"{run['mode']}, N = {run['engines']}",
            )
    ax.set_yscale("log")
    ax.set_xlabel("seconds since the first engine started")
    ax.set_ylabel("HTTP requests so far")
    ax.set_title("RPC requests over the window (log scale)")
    ax.legend(fontsize=7, ncol=2)


def _memory(ax: Axes, results: dict[str, Any]) -> None:
    _bars(ax, results["memory"], "rss_total_mb")
    ax.set_ylabel("total RSS (MB)")
    ax.set_title("Memory of the whole system")


def _latency(ax: Axes, results: dict[str, Any]) -> None:
    samples = results["latency"]["samples_ms"]
    for label, key in (
        ("streamer, end to end", "streamer"),
        ("legacy (own DriftClient)", "legacy"),
        ("pipeline's share", "share"),
    ):
        values = sorted(samples.get(key, []))
        ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=label)
    ax.set_xlabel("ms")
    ax.set_ylabel("fraction of updates")
    ax.set_title("Latency, cumulative")
    ax.legend()


def _streamer_profile(ax: Axes, results: dict[str, Any]) -> None:
    rows = results["streamer_profile"]["by_package"][:10][::-1]
    ax.barh([r["package"][:40] for r in rows], [r["share_pct"] for r in rows])
    ax.set_xlabel("% of the streamer's own CPU time (cProfile)")
    ax.set_title("Streamer process under fan-out: where the time goes")
    ax.tick_params(axis="y", labelsize=7)


_PLOTS: dict[str, tuple[str, Draw]] = {
    "rpc_load.png": ("rpc_load", _rpc_load),
    "rpc_timeline.png": ("rpc_load", _timeline),
    "memory.png": ("memory", _memory),
    "latency.png": ("latency", _latency),
    "streamer_profile.png": ("streamer_profile", _streamer_profile),
}


def write_plots(results: dict[str, Any], out: Path) -> list[str]:
    """Every plot whose results are there; returns the file names written."""
    written = []
    for name, (key, draw) in _PLOTS.items():
        if name == "rpc_timeline.png" and not any(r.get("timeline") for r in results.get(key, [])):
            continue  # results of a run before timelines were kept
        if results.get(key):
            _save(out, name, draw, results)
            written.append(name)
    return written
