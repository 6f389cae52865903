"""Bad input everywhere, thousands of cases, zero crashes: the api of a real, running
streamer; the KV values and plain-subject messages engines parse; presence values the
streamer counts; the dashboard's query parameters; the parsers behind them.

The world (nats-server, localnet, a leader streamer with a consumer, an engine, the
dashboard) runs on a loop of its own for the whole module, so synchronous hypothesis
tests can drive it example by example.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import string
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import nats
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from localnet.server import LocalnetServer
from schemas import (
    ErrorReply,
    FundingRate,
    MarketList,
    ReconnectResult,
    StreamerState,
    StreamerStatus,
    api_subject,
    decode,
)
from schemas.buckets import CONSUMERS_BUCKET, FUNDING_BUCKET, MARKETS_BUCKET, PRICES_BUCKET
from schemas.subjects import Endpoint, Network
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from streamer.presence import PresenceTracker
from streamer.redact import redact_url, secret_parts
from streamer.settings import Settings
from streamer.source import DriftSource
from subscribers.client import DriftStreamClient, _timestamp
from subscribers.dashboard.server import Dashboard, serve
from subscribers.presence import Presence
from tests.drift_clients import wait_until
from tests.factories import funding_rate

T = TypeVar("T")
NET: Network = "local"
REPLIES: dict[str, type[Any]] = {
    "status": StreamerStatus,
    "markets": MarketList,
    "funding": FundingRate,
    "reconnect": ReconnectResult,
}
ENDPOINTS: list[Endpoint] = ["status", "markets", "funding", "funding", "funding"]
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@dataclass
class World:
    loop: asyncio.AbstractEventLoop
    nc: Client
    app: Streamer
    engine: DriftStreamClient
    dashboard_url: str

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # libraries that ask for "the current loop" get this one
    stack = contextlib.AsyncExitStack()
    root: Path = tmp_path_factory.mktemp("fuzz")

    async def start() -> World:
        server = await stack.enter_async_context(NatsServer(store_dir=root / "js"))
        localnet = await stack.enter_async_context(LocalnetServer(preset="small"))
        settings_ = Settings(
            network=NET, rpc_url=localnet.url, nats_url=server.url, presence_ttl=6, lease_ttl=5
        )
        app = Streamer(settings_, lambda: DriftSource(localnet.url), publish_interval_s=0.1)
        task = asyncio.create_task(app.run())

        async def stop() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        stack.push_async_callback(stop)
        await asyncio.wait_for(app.ready.wait(), 10)
        engine = await stack.enter_async_context(
            DriftStreamClient(NET, nats_url=server.url, name="fuzz-engine", presence_ttl_s=6)
        )
        await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=20)
        runner, port = await serve(Dashboard(engine), "127.0.0.1", 0)
        stack.push_async_callback(runner.cleanup)
        nc = await nats.connect(server.url)
        stack.push_async_callback(nc.close)
        return World(loop, nc, app, engine, f"http://127.0.0.1:{port}")

    world = loop.run_until_complete(start())
    yield world
    loop.run_until_complete(stack.aclose())
    # nothing may outlive the loop (a coroutine collected later warns in another test)
    leftovers = asyncio.all_tasks(loop)
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    asyncio.set_event_loop(None)
    loop.close()


# ------------------------------------------------------------------------ the api

PAYLOADS = (
    st.binary(max_size=3_000)
    | st.text(max_size=60).map(str.encode)
    | JSON.map(lambda v: json.dumps(v).encode())
    | st.builds(lambda m: json.dumps({"market": m}).encode(), JSON)
    | st.sampled_from(["SOL-PERP", "sol-perp", "0", "2", "99", "BONK-PERP"]).map(str.encode)
)
HEADERS = st.none() | st.dictionaries(
    st.text(alphabet=string.ascii_letters + "-", min_size=1, max_size=12),
    st.text(alphabet=string.ascii_letters + string.digits + " -_", max_size=20),
    max_size=3,
)


@settings(FUZZ, max_examples=1000)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    payload=PAYLOADS,
    headers=HEADERS,
)
def test_api_of_a_running_streamer_answers_anything(
    world: World, endpoint: Endpoint, payload: bytes, headers: dict[str, str] | None
) -> None:
    """Any payload and headers on status, markets, funding: a valid model or an error
    reply (400/404/503 with a JSON ErrorReply), from a real leader serving real data."""
    msg = world.run(
        world.nc.request(api_subject(NET, endpoint), payload, timeout=5, headers=headers)
    )
    code = (msg.headers or {}).get("Nats-Service-Error-Code")
    if code is None:
        decode(REPLIES[endpoint], msg.data)
    else:
        reply = decode(ErrorReply, msg.data)
        assert reply.code == int(code)
        assert reply.code in (400, 404, 503)


@settings(FUZZ, max_examples=20)
@given(payload=PAYLOADS)
def test_reconnect_with_any_payload(world: World, payload: bytes) -> None:
    """reconnect ignores its payload and reports; the streamer keeps running after it."""
    msg = world.run(world.nc.request(api_subject(NET, "reconnect"), payload, timeout=30))
    result = decode(ReconnectResult, msg.data)
    assert result.ok, result.error
    assert world.app.state is StreamerState.RUNNING


# ------------------------------------------------------- values engines parse

GOOD_FUNDING = json.loads(funding_rate().model_dump_json())
MUTATED = st.builds(
    lambda field, value: json.dumps({**GOOD_FUNDING, field: value}).encode(),
    st.sampled_from(sorted(GOOD_FUNDING)),
    JSON | st.sampled_from([math.nan, math.inf, -math.inf, 10**40, "", "\u0000", "SOL.PERP"]),
)
VALUES = st.binary(max_size=500) | MUTATED | JSON.map(lambda v: json.dumps(v).encode())
_SENTINEL = itertools.count(1)


@settings(FUZZ, max_examples=600)
@given(
    bucket=st.sampled_from([FUNDING_BUCKET, PRICES_BUCKET, MARKETS_BUCKET]),
    symbol=st.sampled_from(["SOL-PERP", "BTC-PERP", "FUZZ-PERP", "X"]),
    value=VALUES,
)
def test_engines_survive_any_kv_value(world: World, bucket: str, symbol: str, value: bytes) -> None:
    """Arbitrary bytes and near-valid models written to the KV: the engine skips what
    does not validate, never raises from a read, and still takes the next good value."""

    async def case() -> None:
        kv = await world.nc.jetstream().key_value(bucket)
        key = NET if bucket == MARKETS_BUCKET else f"{NET}.{symbol}"
        await kv.put(key, value)
        # a good value after it, in the funding bucket: its arrival means the engine
        # got past whatever came before in that stream
        n = next(_SENTINEL)
        sentinel = funding_rate("ZZZ-PERP", 900, last_funding_rate=n)
        funding_kv = await world.nc.jetstream().key_value(FUNDING_BUCKET)
        await funding_kv.put(f"{NET}.ZZZ-PERP", sentinel.model_dump_json().encode())
        await _until_funding(world.engine, "ZZZ-PERP", n)
        await world.engine.funding(symbol)
        await world.engine.market(symbol)
        await world.engine.markets()
        await world.engine.funding_all()
        await world.engine.funding(0)  # by index: goes through the (maybe broken) list

    world.run(case())


async def _until_funding(engine: DriftStreamClient, symbol: str, rate: int) -> None:
    async with asyncio.timeout(10):
        while True:
            value = await engine.funding(symbol)
            if value is not None and value.last_funding_rate == rate:
                return
            await asyncio.sleep(0.002)  # the mirror has no per-key event to await


@settings(FUZZ, max_examples=600)
@given(
    headers=st.dictionaries(
        st.sampled_from(["Nats-Subject", "Nats-Sequence", "Nats-Time-Stamp", "KV-Operation"]),
        st.text(max_size=40),
    ),
    value=VALUES,
)
def test_engines_survive_any_message_on_the_plain_subjects(
    world: World, headers: dict[str, str], value: bytes
) -> None:
    """Anyone who may publish on drift.<net>.funding.* (no users configured here)
    sends anything with any KV-like headers: the engine skips it or takes it, never
    crashes, and still takes the streamer's next value."""

    async def case() -> None:
        await world.nc.publish("drift.local.funding.SOL-PERP", value, headers=headers or None)
        n = next(_SENTINEL)
        sentinel = funding_rate("ZZZ-PERP", 900, last_funding_rate=n)
        funding_kv = await world.nc.jetstream().key_value(FUNDING_BUCKET)
        await funding_kv.put(f"{NET}.ZZZ-PERP", sentinel.model_dump_json().encode())
        await _until_funding(world.engine, "ZZZ-PERP", n)
        await world.engine.funding("SOL-PERP")
        await world.engine.funding_all()

    world.run(case())


# ---------------------------------------------------------- presence values

CONSUMER_IDS = st.text(
    alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=20
)


@settings(FUZZ, max_examples=300)
@given(entries=st.dictionaries(CONSUMER_IDS, VALUES, min_size=1, max_size=5))
def test_presence_values_that_do_not_parse_still_count(
    world: World, entries: dict[str, bytes]
) -> None:
    """The streamer counts presence keys, never rejecting one whose value it cannot
    parse (DESIGN.md): N junk values are N consumers."""

    async def case() -> None:
        kv = await world.nc.jetstream().key_value(CONSUMERS_BUCKET)
        tracker = PresenceTracker(kv, NET, interval_s=1)
        prefix = f"{NET}.fz{next(_SENTINEL)}-"
        try:
            for consumer_id, value in entries.items():
                await kv.put(f"{prefix}{consumer_id}", value)
            await tracker.live_count()
            assert {k for k in tracker._known if k.startswith(prefix)} == {
                f"{prefix}{consumer_id}" for consumer_id in entries
            }
        finally:
            for consumer_id in entries:
                await kv.delete(f"{prefix}{consumer_id}")

    world.run(case())


def test_the_streamer_is_still_serving_after_the_fuzzing(world: World) -> None:
    """After every case above: the streamer runs, answers, and counts its engine."""

    async def check() -> StreamerStatus:
        presence_kv = await world.nc.jetstream().key_value(CONSUMERS_BUCKET)
        async with Presence(presence_kv, NET, "after-fuzz", "check", ttl_s=6):
            await wait_until(lambda: world.app.consumers >= 2, timeout=15)
            return await world.engine.request_status()

    status = world.run(check())
    assert status.state is StreamerState.RUNNING
    assert world.app.state is StreamerState.RUNNING


# -------------------------------------------------------- the dashboard's queries

QUERY = st.text(max_size=30)


@settings(FUZZ, max_examples=300)
@given(symbol=QUERY, hours=QUERY | st.sampled_from(["nan", "inf", "-1", "1e308", "24"]))
def test_dashboard_history_answers_200_or_400(world: World, symbol: str, hours: str) -> None:
    """/api/history with any symbol and hours: a JSON answer with 200 or 400, never 500."""

    async def case() -> int:
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"{world.dashboard_url}/api/history", params={"symbol": symbol, "hours": hours}
            ) as resp,
        ):
            await resp.json()
            return resp.status

    assert world.run(case()) in (200, 400)


# ------------------------------------------------------------------- parsers


@settings(max_examples=2000)
@given(st.text(max_size=40) | st.none())
def test_nats_timestamp_parser_never_raises(text: str | None) -> None:
    """Any Nats-Time-Stamp header text parses to seconds or None."""
    value = _timestamp(text)
    assert value is None or isinstance(value, float)


def test_nats_timestamp_parser_reads_nanoseconds() -> None:
    """nats-server's form, nanoseconds and Z, gives unix seconds to the microsecond."""
    assert _timestamp("2026-11-24T16:15:22.744702492Z") == pytest.approx(
        time.mktime((2026, 11, 24, 16, 15, 22, 0, 0, 0)) - time.timezone + 0.744702492,
        abs=1e-6,
    )


SECRET = st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=30)


@settings(max_examples=1500)
@given(
    password=SECRET,
    key=SECRET,
    host=st.from_regex(r"[a-z]{1,10}(\.[a-z]{2,5}){0,2}", fullmatch=True),
    port=st.none() | st.integers(1, 65535),
    scheme=st.sampled_from(["http", "https", "wss", "nats"]),
)
def test_redaction_never_shows_a_password_or_key(
    password: str, key: str, host: str, port: int | None, scheme: str
) -> None:
    """For any URL with a password and an API key (in the query, or as a path
    segment), redact_url shows neither, and secret_parts names both."""
    netloc = f"user:{password}@{host}" + (f":{port}" if port else "")
    for url in (f"{scheme}://{netloc}/?api-key={key}", f"{scheme}://{netloc}/v1/{key * 3}"):
        shown = redact_url(url)
        assert password not in shown
        assert key not in shown
        parts = secret_parts(url)
        assert password in parts
        assert key in parts or key * 3 in parts


@settings(max_examples=1000)
@given(st.text(max_size=80))
def test_redaction_of_anything_never_raises(text: str) -> None:
    """Any text, URL-like or not, redacts and splits into secret parts without error."""
    assert isinstance(redact_url(text), str)
    assert isinstance(secret_parts(text), set)
