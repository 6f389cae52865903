"""Small formatting helpers shared by the report's sections."""

from __future__ import annotations

from typing import Any

__all__ = ["find_run", "met", "ms", "pct_less", "stat_cells"]


def pct_less(legacy: float, streamer: float) -> float:
    """How much less the streamer way needs, in percent of the legacy way."""
    return 100.0 * (1 - streamer / legacy) if legacy else 0.0


def met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def ms(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f} ms"


def stat_cells(stats: dict[str, Any], digits: int = 2) -> str:
    """`p50 | p99 | max | n` cells of a percentiles dict (dashes for an empty sample)."""
    return " | ".join(
        [*(ms(stats.get(k), digits) for k in ("p50", "p99", "max")), str(stats.get("n", 0))]
    )


def find_run(runs: list[dict[str, Any]], mode: str, n: int) -> dict[str, Any]:
    return next(r for r in runs if r["mode"] == mode and r["engines"] == n)
