"""A streamer's --log-json log turned into history records: `drift_client` (start and
stop of its feed), `elected` (with the epoch) and `deposed`."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["lifecycle_records"]

# (text in the log message, record kind, fields): the streamer's own lines
_LIFECYCLE: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("DriftClient subscribed", "drift_client", {"state": "start"}),
    ("DriftClient stopped", "drift_client", {"state": "stop"}),
    ("elected leader for", "elected", {}),
    ("stepping down:", "deposed", {}),
    ("lease lost to", "deposed", {}),
    ("stopping: leadership handed over", "deposed", {}),
)


def lifecycle_records(log: Path, out: Path, instance_id: str) -> int:
    """Write `out` from `log` (lines that are not JSON are skipped); how many records."""
    lines: list[str] = []
    if log.exists():
        for raw in log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            message = str(entry.get("msg", ""))
            for text, ev, extra in _LIFECYCLE:
                if text in message:
                    record: dict[str, object] = {
                        "ev": ev, "t": entry.get("ts"), "src": instance_id, **extra
                    }  # fmt: skip
                    if ev == "elected":
                        record["epoch"] = entry.get("epoch")
                    lines.append(json.dumps(record))
    out.write_text("".join(line + "\n" for line in lines))
    return len(lines)
