"""The write journal: one JSON line per write nats-server acknowledged to this streamer.

`DRIFT_WRITE_JOURNAL=<file>` turns it on (off by default): each data value, lease
renewal or takeover, and health heartbeat the server acknowledged is appended as
`{"ev": "ack", "t", "src", "bucket", "key", "seq", "epoch"}`. It is what the fault tests
(tests/chaos) prove nothing acknowledged was lost against, and an audit trail of who
wrote what when. Lines are flushed as they are written; a journal that cannot be
written is logged once and then left off (it never stops the streamer).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import IO

__all__ = ["WriteJournal"]

log = logging.getLogger("drift_stream.journal")


class WriteJournal:
    """Appends acknowledged writes to a file; `close()` when done."""

    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self._source = source
        self._file: IO[str] | None = path.open("a", buffering=1, encoding="utf-8")

    def acked(self, bucket: str, key: str, seq: int, epoch: int | None = None) -> None:
        """Record one acknowledged write."""
        if self._file is None:
            return
        line = {
            "ev": "ack",
            "t": time.time(),
            "src": self._source,
            "bucket": bucket,
            "key": key,
            "seq": seq,
            "epoch": epoch,
        }
        try:
            self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        except OSError as exc:
            log.error("write journal %s failed, leaving it off: %s", self.path, exc)
            self.close()

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError as exc:
                log.error("closing write journal %s failed: %s", self.path, exc)
