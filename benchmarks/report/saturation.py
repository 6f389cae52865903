"""The report's saturation section and its plot: CPU and loss against N."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from benchmarks.saturation import saturation_tables

__all__ = ["saturation_section", "write_saturation_plot"]

_PARTS = {
    "streamer_cpu_pct": "streamer",
    "nats_cpu_pct": "nats-server",
    "engines_cpu_pct": "engines (all processes)",
    "localnet_cpu_pct": "localnet",
}


def saturation_section(results: dict[str, Any]) -> list[str]:
    s = results["saturation"]
    return [
        "## Where one machine tops out",
        "",
        "Fan-outs stepped up while the previous step lost nothing "
        f"(`python -m benchmarks.saturation`, {s['rounds']} slots of 400 ms a step, "
        f"{s['took_s']:.0f} s in all): every market's oracle changed every slot (funding "
        "left alone: localnet's simulator rebuilds a perp account in about 3 ms and could "
        "not keep the pace), the streamer and nats-server processes of their own, "
        "engines 25 to an engine process, localnet and its simulator in the benchmark's "
        "process. CPU in % of one core (this machine has 2). First the engines (mainnet "
        "preset, 85 perp markets), then the markets (`synthetic-M`, 2 engines):",
        "",
        *saturation_tables(s),
        "![Saturation](benchmarks/saturation.png)",
        "",
    ]


def write_saturation_plot(results: dict[str, Any], out: Path) -> None:
    s = results.get("saturation")
    if not s:
        return
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.6))
    searches = (("engines", "engines"), ("markets", "perp markets"))
    for ax, (name, label) in zip(axes, searches, strict=True):
        steps = s[name]
        ns = [step["n"] for step in steps]
        for key, part in _PARTS.items():
            ax.plot(ns, [step[key] for step in steps], marker="o", label=part)
        ax.set_xlabel(label)
        ax.set_ylabel("CPU, % of one core")
        loss = ax.twinx()
        loss.plot(ns, [step["loss_pct"] for step in steps], "k--", marker="x", label="loss")
        loss.set_ylabel("loss, % of values (worst engine)")
        ax.set_title(f"CPU and loss against {label}")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(out / "saturation.png", dpi=110)
    plt.close(fig)
