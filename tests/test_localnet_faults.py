"""Fault injection at localnet: rate limits like the public RPC, latency, drops, errors."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.core import RPCException

from localnet.faults import FaultConfig, FaultRequest, RateLimit, RateLimiter
from localnet.markets import STATE_ADDRESS
from localnet.server import LocalnetServer
from tests.drift_clients import drift_client, wait_until


async def _faults(http: aiohttp.ClientSession, server: LocalnetServer, body: Any) -> dict[str, Any]:
    async with http.post(f"{server.url}/admin/faults", json=body) as resp:
        assert resp.status == 200, await resp.text()
        result: dict[str, Any] = await resp.json()
        return result


async def _stats(http: aiohttp.ClientSession, server: LocalnetServer) -> dict[str, Any]:
    async with http.get(f"{server.url}/admin/stats") as resp:
        result: dict[str, Any] = await resp.json()
        return result


async def _rpc(http: aiohttp.ClientSession, server: LocalnetServer, method: str) -> int:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": []}
    async with http.post(server.url, data=json.dumps(body)) as resp:
        await resp.read()
        return resp.status


async def test_rate_limit_answers_429_and_stats_count_them(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """With the public RPC's limits, calls past the budget get HTTP 429, counted in stats."""
    await _faults(http, localnet, {"rate_limit": {"requests": 100, "per_s": 10, "per_method": 40}})
    statuses = [await _rpc(http, localnet, "getSlot") for _ in range(50)]
    assert statuses.count(200) == 40
    assert statuses.count(429) == 10
    statuses = [await _rpc(http, localnet, "getHealth") for _ in range(70)]
    assert statuses.count(200) == 40  # per method again ...
    statuses = [await _rpc(http, localnet, "getVersion") for _ in range(30)]
    assert statuses.count(200) == 20  # ... and 100 in all
    stats = await _stats(http, localnet)
    assert stats["http_status"]["429"] == 10 + 30 + 10
    assert stats["rate_limited"] == 50
    assert stats["http_status"]["200"] == 100


async def test_rate_limited_drift_client_fails_to_subscribe(
    localnet_mainnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """driftpy has no retry: a 429 during subscribe() raises SolanaRpcException."""
    await _faults(http, localnet_mainnet, {"rate_limit": {"requests": 3, "per_s": 60}})
    with pytest.raises(SolanaRpcException):
        async with drift_client(localnet_mainnet.url, "websocket"):
            pass
    assert (await _stats(http, localnet_mainnet))["rate_limited"] >= 1


async def test_clear_lifts_every_fault(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """{"clear": true} switches every fault off; partial requests keep the others."""
    await _faults(http, localnet, {"rate_limit": {"requests": 1, "per_s": 60}})
    now = await _faults(http, localnet, {"latency_ms": 5})
    assert now["rate_limit"]["requests"] == 1
    assert now["latency_ms"] == 5
    assert await _rpc(http, localnet, "getSlot") == 200
    assert await _rpc(http, localnet, "getSlot") == 429
    cleared = await _faults(http, localnet, {"clear": True})
    assert cleared == FaultConfig().model_dump()
    assert await _rpc(http, localnet, "getSlot") == 200


async def test_bad_fault_requests_are_400(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """Unknown fault names and bad values are refused with 400; nothing changes."""
    for body in ({"rate_limit": {"requests": 0, "per_s": 1}}, {"latency_ms": -1}, {"explode": 1}):
        async with http.post(f"{localnet.url}/admin/faults", json=body) as resp:
            assert resp.status == 400
    assert localnet.faults == FaultConfig()


async def test_latency_slows_answers(localnet: LocalnetServer, http: aiohttp.ClientSession) -> None:
    """latency_ms delays every HTTP answer by at least that much."""
    await _faults(http, localnet, {"latency_ms": 150})
    start = time.perf_counter()
    assert await _rpc(http, localnet, "getSlot") == 200
    assert time.perf_counter() - start >= 0.15


async def test_injected_method_errors_then_recover(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """errors: the next `count` calls of a method get the JSON-RPC error, then it recovers."""
    await _faults(
        http,
        localnet,
        {"errors": {"getSlot": {"code": -32005, "count": 2}, "getHealth": {"count": 1}}},
    )
    client = AsyncClient(localnet.url)
    try:
        for _ in range(2):
            with pytest.raises(RPCException, match="num_slots_behind"):
                await client.get_slot()
        assert (await client.get_slot()).value >= 0
    finally:
        await client.close()
    body = {"jsonrpc": "2.0", "id": 1, "method": "getHealth"}
    async with http.post(localnet.url, json=body) as resp:
        assert (await resp.json())["error"]["code"] == -32603
    assert await _rpc(http, localnet, "getHealth") == 200
    assert (await _stats(http, localnet))["rpc_errors"] == {"-32005": 2, "-32603": 1}


async def test_refuse_connections_drops_without_answer(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """refuse_connections: JSON-RPC gets no answer (a dropped connection); admin still works."""
    await _faults(http, localnet, {"refuse_connections": True})
    async with aiohttp.ClientSession() as fresh:
        with pytest.raises(aiohttp.ClientError):
            await _rpc(fresh, localnet, "getSlot")
    await _faults(http, localnet, {"refuse_connections": False})
    assert await _rpc(http, localnet, "getSlot") == 200


async def test_drop_websockets_and_driftpy_resubscribes(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """drop_websockets closes every socket; driftpy reconnects and gets new changes."""
    async with drift_client(localnet.url, "websocket") as client:
        opened = localnet.stats_json()["ws_connections_total"]
        await _faults(http, localnet, {"drop_websockets": True})
        await wait_until(lambda: localnet.stats_json()["ws_connections_total"] > opened)
        await wait_until(lambda: localnet.stats_json()["subscriptions"]["program"] >= 2)

        def funding() -> int | None:
            m = client.get_perp_market_account(1)
            return None if m is None else int(m.amm.last_funding_rate)

        async with http.post(
            f"{localnet.url}/admin/market", json={"symbol": "BTC-PERP", "last_funding_rate": 31337}
        ) as resp:
            assert resp.status == 200
        await wait_until(lambda: funding() == 31337)


async def test_max_connections_refuses_extra_websockets(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """max_connections caps open websockets; one more upgrade gets 429."""
    await _faults(http, localnet, {"max_connections": 1})
    async with http.ws_connect(localnet.ws_url) as first:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(localnet.ws_url)
        assert info.value.status == 429
        await first.send_json({"jsonrpc": "2.0", "id": 1, "method": "slotSubscribe"})
        answer = await first.receive_json(timeout=5)
        assert isinstance(answer["result"], int)
    assert localnet.stats_json()["ws_refused"] == 1


async def test_corrupt_accounts_serve_truncated_data(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """corrupt_accounts serves half of every account's bytes (broken account data)."""
    await _faults(http, localnet, {"corrupt_accounts": True})
    body = {"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo", "params": [str(STATE_ADDRESS)]}
    async with http.post(localnet.url, json=body) as resp:
        value = (await resp.json())["result"]["value"]
    import base64

    assert len(base64.b64decode(value["data"][0])) == 992 // 2


async def test_websocket_bad_messages_get_errors(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """Garbage on the websocket gets JSON-RPC errors and the socket keeps working."""
    async with http.ws_connect(localnet.ws_url) as ws:
        for text, code in (
            ("{nope", -32700),
            ('{"method": 5}', -32600),
            ('{"id": 1, "method": "accountSubscribe", "params": []}', -32602),
            ('{"id": 2, "method": "fooSubscribe"}', -32601),
        ):
            await ws.send_str(text)
            answer = await ws.receive_json(timeout=5)
            assert answer["error"]["code"] == code
        await ws.send_json({"jsonrpc": "2.0", "id": 3, "method": "slotSubscribe"})
        sub = (await ws.receive_json(timeout=5))["result"]
        note = await ws.receive_json(timeout=5)
        assert note["method"] == "slotNotification"
        assert note["params"]["subscription"] == sub
        await ws.send_json(
            {"jsonrpc": "2.0", "id": 4, "method": "slotUnsubscribe", "params": [sub]}
        )
        while (msg := await ws.receive_json(timeout=5)).get("id") != 4:
            pass
        assert msg["result"] is True


@settings(max_examples=200, deadline=None)
@given(
    requests=st.integers(1, 20),
    per_method=st.none() | st.integers(1, 20),
    calls=st.lists(
        st.tuples(st.floats(0, 5), st.lists(st.sampled_from("abc"), min_size=1, max_size=4)),
        max_size=60,
    ),
)
def test_rate_limiter_never_exceeds_its_window(
    requests: int, per_method: int | None, calls: list[tuple[float, list[str]]]
) -> None:
    """Property: in any window of per_s seconds, admitted calls never exceed the limits."""
    now = 0.0
    limiter = RateLimiter(
        RateLimit(requests=requests, per_s=1.0, per_method=per_method), clock=lambda: now
    )
    admitted: list[tuple[float, str]] = []
    for step, methods in calls:
        now += step
        if limiter.admit(methods):
            admitted.extend((now, m) for m in methods)
    for t, _ in admitted:
        window = [m for s, m in admitted if t - 1.0 < s <= t]
        assert len(window) <= requests
        if per_method is not None:
            assert all(window.count(m) <= per_method for m in "abc")


def test_fault_request_merges_only_named_fields() -> None:
    """A partial fault request changes only the fields it names."""
    base = FaultConfig(latency_ms=10, refuse_connections=True)
    merged = FaultRequest.model_validate({"latency_ms": 0}).merged_into(base)
    assert merged.latency_ms == 0
    assert merged.refuse_connections is True
    assert FaultRequest.model_validate({"clear": True}).merged_into(base) == FaultConfig()


async def test_stats_reset(localnet: LocalnetServer, http: aiohttp.ClientSession) -> None:
    """POST /admin/stats/reset zeroes the counters."""
    await _rpc(http, localnet, "getSlot")
    async with http.post(f"{localnet.url}/admin/stats/reset") as resp:
        assert (await resp.json())["http_requests"] == 0
    await asyncio.sleep(0)  # nothing else to await: the counters are plain fields
