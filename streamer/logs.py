"""Structured logging for every drift-stream process.

One line per event: time, level, logger, message, then the record's `extra` fields as
key=value (or one JSON object per line with `json=True`, for log shippers). Values
that look like URLs have their credentials and query strings removed.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from streamer.redact import redact, secret_parts

__all__ = ["configure_logging", "hide_secrets"]

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Secrets of this process's URLs (API keys, passwords): scrubbed from every line, also
# from other libraries' lines (websockets logs its request line, query and all).
_SECRETS: set[str] = set()


def hide_secrets(*urls: str | None) -> None:
    """Scrub the secret parts of these URLs from every log line from now on."""
    for url in urls:
        if url:
            _SECRETS.update(secret_parts(url))


def _scrub(line: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        line = line.replace(secret, "***")
    return line


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: redact(v) for k, v in vars(record).items() if k not in _STANDARD}


class KeyValueFormatter(logging.Formatter):
    """`2026-11-24T11:00:00 INFO drift_stream.x message key=value ...`"""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} {record.levelname:<7} "
            f"{record.name} {redact(record.getMessage())}"
        )
        fields = _fields(record)
        if fields:
            line += " " + " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return _scrub(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": record.created,
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
            **_fields(record),
        }
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return _scrub(json.dumps(out, default=str))


def configure_logging(
    level: str = "INFO", *, json_lines: bool = False, requests: bool = False
) -> None:
    """Send every log record to stderr in the chosen format; `requests` (`-v`) keeps the
    line per HTTP request that aiohttp and httpx log (quiet by default)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log and httpx's line per request are not events of ours (and a
    # request line would show the RPC URL); the feed logs what matters itself.
    quiet = logging.NOTSET if requests else logging.WARNING
    logging.getLogger("aiohttp.access").setLevel(quiet)
    logging.getLogger("httpx").setLevel(quiet)
