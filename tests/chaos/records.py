"""Writing history records: one JSON object per line, each with `ev`, `t` and `src` (the
format tests/chaos/history.py reads and the checker checks)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["RecordFile"]


class RecordFile:
    """An append-only JSON lines file of one process's records (line-buffered: a killed
    process loses at most the line it was writing)."""

    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self.source = source
        self._file: IO[str] | None = None

    def __enter__(self) -> RecordFile:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", buffering=1, encoding="utf-8")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def write(self, ev: str, *, t: float | None = None, **fields: Any) -> None:
        """Append one record (`t` defaults to now)."""
        assert self._file is not None, "use `with RecordFile(...)`"
        line = {"ev": ev, "t": time.time() if t is None else t, "src": self.source, **fields}
        self._file.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")
