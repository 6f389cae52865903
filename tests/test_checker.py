"""The chaos history loader: typed records from JSON lines files; bad lines are
reported (file and line), unknown kinds ignored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.chaos import history
from tests.chaos.history import Malformed, load

PRICES, SOL = "drift_prices", "local.SOL-PERP"


def value(bucket: str, key: str, seq: int | None, epoch: int | None, **more: Any) -> Any:
    return {"bucket": bucket, "key": key, "seq": seq, "epoch": epoch, **more}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_load_reports_bad_lines_ignores_unknown_kinds_and_sorts(tmp_path: Path) -> None:
    """Bad JSON, wrong types, a missing `ev`, an unreadable file: each a `Malformed`
    naming file and line (checker errors, not violations); unknown kinds and extra
    fields are ignored; records of several files come out sorted by time."""
    take = {"ev": "take", "t": 5.0, "src": "e1", **value(PRICES, SOL, 3, 1), "extra": "kept out"}
    a = _write(
        tmp_path / "a.jsonl",
        [
            json.dumps(take),
            "{not json",
            json.dumps({"ev": "heartbeat", "t": 1.0, "src": "x"}),
            "",
            json.dumps({**take, "seq": "7"}),
            json.dumps([1, 2]),
            json.dumps({"t": 1.0, "src": "x"}),
            json.dumps({**take, "t": 6.0, "bucket": None}),
            json.dumps({"ev": "serve", "t": 6.5, "src": "e1", **value(PRICES, SOL, None, 2)}),
        ],
    )
    b = _write(
        tmp_path / "b.jsonl",
        [json.dumps({"ev": "mark", "t": 1.0, "src": "harness", "name": "start"})],
    )
    c = tmp_path / "c.jsonl"
    c.write_bytes(b'{"ev": "mark", "t": NaN, "src": "h", "name": "x"}\n\xff\xfe\n')
    records = load([a, b, c, tmp_path / "missing.jsonl"])
    bad = {(r.file, r.line): r.error for r in records if isinstance(r, Malformed)}
    assert set(bad) == {(str(a), n) for n in (2, 5, 6, 7, 8, 9)} | {
        (str(c), 1),
        (str(c), 2),
        (str(tmp_path / "missing.jsonl"), 0),
    }
    assert "finite" in bad[str(c), 1]
    assert "seq" in bad[str(a), 5]
    assert "bucket" in bad[str(a), 8]
    assert "null" in bad[str(a), 9]
    good = [r for r in records if not isinstance(r, Malformed)]
    assert [(r.ev, r.t, Path(r.file).name, r.line) for r in good] == [
        ("mark", 1.0, "b.jsonl", 1),
        ("take", 5.0, "a.jsonl", 1),
    ]
    assert [r.t for r in records] == sorted(r.t for r in records)


def test_the_public_api() -> None:
    """The names other modules may use: pinned, so a change is deliberate."""
    assert history.__all__ == [
        "Ack",
        "Deposed",
        "DriftClient",
        "Elected",
        "Fault",
        "Fresh",
        "Get",
        "Killed",
        "Kv",
        "Malformed",
        "Mark",
        "Paused",
        "Record",
        "Resumed",
        "Serve",
        "Take",
        "load",
        "parse",
    ]
    assert all(hasattr(history, name) for name in history.__all__)
