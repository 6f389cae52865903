"""The drift-streamer micro service: parsing, error codes, and the micro protocol, over a
real nats-server with a small fake Controller (the real one is tested in test_streamer)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import nats
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from schemas import (
    SERVICE_NAME,
    ErrorReply,
    FundingRate,
    MarketList,
    PerpMarketInfo,
    ReconnectResult,
    SpotMarketSnapshot,
    StreamerState,
    StreamerStatus,
    decode,
)
from schemas.subjects import Network
from streamer.errors import NotReadyError
from streamer.service import MAX_PAYLOAD, BadRequest, parse_market, start_service
from tests.factories import funding_rate, spot_market

NET: Network = "local"


class FakeController:
    """Answers like a streamer with two perp and two spot markets; `ready=False` acts as
    one with no data."""

    def __init__(self, *, ready: bool = True) -> None:
        self.ready = ready
        self.reconnects = 0
        self.data = {
            "SOL-PERP": funding_rate("SOL-PERP", 0),
            "BTC-PERP": funding_rate("BTC-PERP", 1),
        }
        self.spots = {"USDC": spot_market("USDC", 0), "wBTC": spot_market("wBTC", 3, decimals=8)}

    def status(self) -> StreamerStatus:
        return StreamerStatus(
            network=NET,
            slot=1,
            ts=time.time(),
            state=StreamerState.RUNNING,
            instance_id="fake",
            epoch=3,
            consumers=1,
            markets=2,
            version="t",
        )

    def markets(self) -> MarketList:
        if not self.ready:
            raise NotReadyError("no market list yet")
        return MarketList(
            network=NET,
            slot=1,
            ts=time.time(),
            epoch=3,
            markets=tuple(
                PerpMarketInfo(market_index=f.market_index, symbol=f.symbol)
                for f in self.data.values()
            ),
        )

    def funding(self, market: str | int) -> FundingRate | None:
        if not self.ready:
            raise NotReadyError("no funding yet")
        if isinstance(market, int):
            return next((f for f in self.data.values() if f.market_index == market), None)
        return self.data.get(market)

    def spot(self, market: str | int) -> SpotMarketSnapshot | None:
        if not self.ready:
            raise NotReadyError("no data yet")
        if isinstance(market, int):
            return next((s for s in self.spots.values() if s.market_index == market), None)
        return next((s for s in self.spots.values() if s.symbol.upper() == market.upper()), None)

    async def reconnect(self) -> ReconnectResult:
        self.reconnects += 1
        return ReconnectResult(network=NET, ts=time.time(), ok=True, took_ms=1.5)


@pytest.mark.parametrize(
    ("payload", "market"),
    [
        (b"SOL-PERP", "SOL-PERP"),
        (b"sol-perp", "SOL-PERP"),
        (b"  BTC-PERP\n", "BTC-PERP"),
        (b"0", 0),
        (b"85", 85),
        (b'"SOL-PERP"', "SOL-PERP"),
        (b'{"market": "SOL-PERP"}', "SOL-PERP"),
        (b'{"market": 1}', 1),
        (b'{"market": "2"}', 2),
        (b"1MBONK-PERP", "1MBONK-PERP"),
    ],
)
def test_parse_market_accepts_the_documented_forms(payload: bytes, market: str | int) -> None:
    """Names in any case, indexes, JSON strings and {"market": ...} all parse."""
    assert parse_market(payload) == market


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"   ",
        b"SOL.PERP",
        b"SOL-PERP>",
        b"*",
        b"-1",
        b'{"market": -1}',
        b'{"market": 70000}',
        b'{"market": true}',
        b'{"symbol": "SOL-PERP"}',
        b'{"market": "SOL-PERP", "x": 1}',
        b"[1]",
        b"null",
        b"\xff\xfe",
        b"{broken",
        b"x" * (MAX_PAYLOAD + 1),
        b'{"market": null}',
        b"1.5",
    ],
)
def test_parse_market_rejects_garbage(payload: bytes) -> None:
    """Anything that is not a market name or index is a BadRequest (never another error)."""
    with pytest.raises(BadRequest):
        parse_market(payload)


@settings(max_examples=500)
@given(st.binary(max_size=MAX_PAYLOAD + 20) | st.text(max_size=60).map(str.encode))
def test_parse_market_never_raises_anything_else(payload: bytes) -> None:
    """Property (graceful degradation): any payload parses or is a BadRequest."""
    try:
        result = parse_market(payload)
    except BadRequest:
        return
    assert isinstance(result, int | str)


async def _request(nc: Client, endpoint: str, payload: bytes = b"") -> tuple[Any, dict[str, str]]:
    msg = await nc.request(f"drift.{NET}.api.{endpoint}", payload, timeout=2)
    return json.loads(msg.data), dict(msg.headers or {})


async def test_endpoints_answer_with_wire_models(nc: Client) -> None:
    """status, markets, funding, spot and reconnect answer valid models on
    drift.<net>.api.*; spot markets are found by symbol in any case, or index."""
    controller = FakeController()
    handle = await start_service(nc, NET, controller, version="1.2.3", instance_id="fake")
    try:
        body, headers = await _request(nc, "funding", b"SOL-PERP")
        assert "Nats-Service-Error-Code" not in headers
        assert decode(FundingRate, json.dumps(body)) == controller.data["SOL-PERP"]
        body, _ = await _request(nc, "funding", b"1")
        assert body["symbol"] == "BTC-PERP"
        for payload, symbol in (
            (b"USDC", "USDC"),
            (b"usdc", "USDC"),
            (b"WBTC", "wBTC"),
            (b"3", "wBTC"),
            (b'{"market": "wbtc"}', "wBTC"),
            (b'{"market": 0}', "USDC"),
        ):
            body, headers = await _request(nc, "spot", payload)
            assert "Nats-Service-Error-Code" not in headers, body
            spot = decode(SpotMarketSnapshot, json.dumps(body))
            assert spot == controller.spots[symbol]
        body, _ = await _request(nc, "markets")
        assert [m["symbol"] for m in body["markets"]] == ["SOL-PERP", "BTC-PERP"]
        body, _ = await _request(nc, "status")
        assert body["state"] == "running"
        body, _ = await _request(nc, "reconnect")
        assert body["ok"] is True
        assert controller.reconnects == 1
    finally:
        await handle.stop()


async def test_micro_discovery_finds_the_service(nc: Client) -> None:
    """$SRV.PING and $SRV.INFO find drift-streamer with its five endpoints."""
    handle = await start_service(nc, NET, FakeController(), version="1.2.3", instance_id="fake")
    try:
        ping = json.loads((await nc.request(f"$SRV.PING.{SERVICE_NAME}", b"", timeout=2)).data)
        assert ping["name"] == SERVICE_NAME
        info = json.loads((await nc.request(f"$SRV.INFO.{SERVICE_NAME}", b"", timeout=2)).data)
        assert sorted(e["subject"] for e in info["endpoints"]) == [
            f"drift.{NET}.api.{name}"
            for name in ("funding", "markets", "reconnect", "spot", "status")
        ]
    finally:
        await handle.stop()


async def test_error_replies_follow_the_micro_convention(nc: Client) -> None:
    """Bad payload → 400, unknown market → 404, no data yet → 503, each with a JSON body."""
    controller = FakeController()
    handle = await start_service(nc, NET, controller, version="1.0.0", instance_id="fake")
    try:
        for payload, code in (
            (b"", 400),
            (b"SOL.PERP", 400),
            (b"x" * 10_000, 400),
            (b"DOGE-PERP", 404),
            (b"77", 404),
        ):
            body, headers = await _request(nc, "funding", payload)
            assert headers["Nats-Service-Error-Code"] == str(code)
            assert decode(ErrorReply, json.dumps(body)).code == code
        for payload, code in ((b"", 400), (b"US.DC", 400), (b"SOL-PERP", 404), (b"77", 404)):
            body, headers = await _request(nc, "spot", payload)
            assert headers["Nats-Service-Error-Code"] == str(code)
            reply = decode(ErrorReply, json.dumps(body))
            assert reply.code == code
        assert reply.error == "unknown spot market 77"
        controller.ready = False
        for endpoint in ("funding", "markets", "spot"):
            body, headers = await _request(nc, endpoint, b"SOL-PERP")
            assert headers["Nats-Service-Error-Code"] == "503"
            assert body["code"] == 503
    finally:
        await handle.stop()


@pytest.fixture(scope="module")
def service_loop(nats_url: str) -> Iterator[tuple[asyncio.AbstractEventLoop, Client]]:
    """A service and a client on a loop of their own, for a synchronous hypothesis test."""
    loop = asyncio.new_event_loop()
    nc = loop.run_until_complete(nats.connect(nats_url))
    handle = loop.run_until_complete(
        start_service(nc, NET, FakeController(), version="1.0.0", instance_id="fuzz")
    )
    yield loop, nc
    loop.run_until_complete(handle.stop())
    loop.run_until_complete(nc.close())
    loop.close()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    endpoint=st.sampled_from(["status", "markets", "funding", "reconnect", "spot"]),
    payload=st.binary(max_size=2_000) | st.text(max_size=50).map(str.encode),
)
def test_any_payload_gets_an_answer(
    service_loop: tuple[asyncio.AbstractEventLoop, Client], endpoint: str, payload: bytes
) -> None:
    """Property (graceful degradation): every endpoint answers any payload, over real NATS,
    with a value or an error reply carrying a JSON ErrorReply."""
    loop, nc = service_loop
    body, headers = loop.run_until_complete(_request(nc, endpoint, payload))
    if "Nats-Service-Error-Code" in headers:
        assert decode(ErrorReply, json.dumps(body)).code in (400, 404)
    else:
        assert isinstance(body, dict)
