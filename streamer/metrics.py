"""Prometheus metrics of one streamer, on its own registry (no global state), served
over HTTP at `/metrics` by `serve_metrics`."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["Metrics", "serve_metrics"]


class Metrics:
    """Every metric the streamer exports."""

    def __init__(self, network: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"network": network}
        self.consumers = Gauge(
            "drift_stream_consumers",
            "Live consumers in drift_consumers",
            ["network"],
            registry=self.registry,
        ).labels(**labels)
        self.leader = Gauge(
            "drift_stream_leader",
            "1 while this instance holds the lease",
            ["network"],
            registry=self.registry,
        ).labels(**labels)
        self.client_running = Gauge(
            "drift_stream_drift_client_running",
            "1 while the DriftClient is subscribed",
            ["network"],
            registry=self.registry,
        ).labels(**labels)
        self.feed_age = Gauge(
            "drift_stream_feed_age_seconds",
            "Seconds since the feed's last new slot",
            ["network"],
            registry=self.registry,
        ).labels(**labels)
        self.rpc_calls = Counter(
            "drift_stream_rpc_operations_total",
            "Drift-side operations (subscribe, refetch, snapshot)",
            ["network", "op"],
            registry=self.registry,
        )
        self.rpc_errors = Counter(
            "drift_stream_rpc_errors_total",
            "Drift-side failures by kind (rpc_429, rpc, ws, timeout, stale)",
            ["network", "kind"],
            registry=self.registry,
        )
        self.publishes = Counter(
            "drift_stream_publishes_total",
            "KV writes by bucket",
            ["network", "bucket"],
            registry=self.registry,
        )
        self.publish_failures = Counter(
            "drift_stream_publish_failures_total",
            "KV writes that failed",
            ["network"],
            registry=self.registry,
        ).labels(**labels)
        self.reconnects = Counter(
            "drift_stream_reconnects_total",
            "DriftClient restarts (watchdog, errors, api)",
            ["network"],
            registry=self.registry,
        ).labels(**labels)
        self.subscribe_failures = Counter(
            "drift_stream_subscription_failures_total",
            "Failed DriftClient subscribes",
            ["network"],
            registry=self.registry,
        ).labels(**labels)
        self._network = network

    def op(self, name: str) -> None:
        self.rpc_calls.labels(network=self._network, op=name).inc()

    def error(self, kind: str) -> None:
        self.rpc_errors.labels(network=self._network, kind=kind).inc()

    def published(self, bucket: str, n: int) -> None:
        self.publishes.labels(network=self._network, bucket=bucket).inc(n)

    def text(self) -> bytes:
        return bytes(generate_latest(self.registry))


async def serve_metrics(metrics: Metrics, host: str, port: int) -> web.AppRunner:
    """Serve `/metrics` on host:port; the caller cleans the runner up."""

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=metrics.text(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
