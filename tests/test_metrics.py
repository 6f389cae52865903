"""Prometheus metrics: one registry per streamer, served over HTTP."""

from __future__ import annotations

import aiohttp

from streamer.metrics import Metrics, serve_metrics
from streamer.ports import free_port


async def test_metrics_are_served_in_prometheus_text() -> None:
    """/metrics serves the counters and gauges with their network label."""
    metrics = Metrics("local")
    metrics.consumers.set(3)
    metrics.error("rpc_429")
    metrics.published("drift_funding", 85)
    metrics.reconnects.inc()
    port = free_port()
    runner = await serve_metrics(metrics, "127.0.0.1", port)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/metrics") as resp,
        ):
            assert resp.status == 200
            text = await resp.text()
    finally:
        await runner.cleanup()
    assert 'drift_stream_consumers{network="local"} 3.0' in text
    assert 'drift_stream_rpc_errors_total{kind="rpc_429",network="local"} 1.0' in text
    assert 'drift_stream_publishes_total{bucket="drift_funding",network="local"} 85.0' in text
    assert 'drift_stream_reconnects_total{network="local"} 1.0' in text


def test_registries_are_separate() -> None:
    """Two streamers in one process do not share counters (no global registry)."""
    a, b = Metrics("local"), Metrics("local")
    a.reconnects.inc()
    assert b'drift_stream_reconnects_total{network="local"} 1.0' in a.text()
    assert b'drift_stream_reconnects_total{network="local"} 0.0' in b.text()
