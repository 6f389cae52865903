"""Counters of other processes over HTTP: the streamer's Prometheus /metrics and
nats-server's /varz (both on loopback, answered in milliseconds)."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

__all__ = ["counters", "varz"]

_SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} (\S+)$", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


def counters(metrics_url: str, name: str, label: str) -> dict[str, float]:
    """Every sample of metric `name`, keyed by the value of its `label`."""
    found: dict[str, float] = {}
    for metric, labels, value in _SAMPLE.findall(_get(metrics_url)):
        if metric == name:
            key = dict(_LABEL.findall(labels)).get(label, "")
            found[key] = found.get(key, 0.0) + float(value)
    return found


def varz(monitor_url: str) -> dict[str, Any]:
    """nats-server's counters: in/out messages and bytes, connections..."""
    data: dict[str, Any] = json.loads(_get(f"{monitor_url}/varz"))
    return data
