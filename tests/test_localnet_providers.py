"""Provider profiles at localnet: each profile's refusals over real HTTP and websockets.

The rate limiter runs on a fake clock the tests move (`Clock`), so windows and
Retry-After values are exact and nothing waits on the wall clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
import pytest_asyncio
from driftpy.constants.config import DRIFT_PROGRAM_ID
from hypothesis import given, settings
from hypothesis import strategies as st

from localnet.cli import add_arguments, server_options
from localnet.faults import FaultConfig, RateLimit, RateLimiter, provider_faults
from localnet.markets import STATE_ADDRESS
from localnet.providers import PROVIDERS
from localnet.refusals import rate_limited
from localnet.server import LocalnetServer

STATE = str(STATE_ADDRESS)
PROGRAM = str(DRIFT_PROGRAM_ID)
DISABLED = "The RPC call or parameters have been disabled."


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The rate limiter's clock of `server`."""
    return Clock()


@pytest_asyncio.fixture
async def server(clock: Clock) -> AsyncIterator[LocalnetServer]:
    """localnet, `small` preset on free ports, its rate limiter on `clock`."""
    async with LocalnetServer(preset="small", slot_ms=50, limiter_clock=clock) as server:
        yield server


@pytest_asyncio.fixture
async def client(server: LocalnetServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for `server`'s JSON-RPC and /admin/."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


def call(method: str, *params: Any, rid: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": list(params)}


def gma(keys: int, rid: int = 1) -> dict[str, Any]:
    """getMultipleAccounts for `keys` keys (the state account, repeated)."""
    return call("getMultipleAccounts", [STATE] * keys, {"encoding": "base64"}, rid=rid)


async def faults(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post("/admin/faults", json=body)
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


async def stats(client: httpx.AsyncClient) -> dict[str, Any]:
    result: dict[str, Any] = (await client.get("/admin/stats")).json()
    return result


async def subscribe(ws: aiohttp.ClientWebSocketResponse, method: str, *params: Any) -> Any:
    """Send one (un)subscribe and return its answer, skipping notifications (answers come
    in order, and each is awaited before the next request)."""
    await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    while "id" not in (answer := await ws.receive_json(timeout=5)):
        pass
    return answer


async def test_public_limits_calls_per_method_and_overall_and_websockets(
    server: LocalnetServer, client: httpx.AsyncClient, clock: Clock, http: aiohttp.ClientSession
) -> None:
    """public: 40 calls of a method and 100 in all per 10 s, then 429 with Retry-After:
    10 (the window's age); after waiting that long, admitted. The 41st websocket is
    refused with 429."""
    assert (await faults(client, {"provider": "public"})) == provider_faults("public").model_dump()
    assert (await client.post("/", json=[call("getSlot", rid=i) for i in range(40)])).is_success
    refused = await client.post("/", json=call("getSlot"))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "10"
    assert refused.json()["error"]["code"] == 429
    assert (await client.post("/", json=[call("getHealth")] * 40)).is_success
    assert (await client.post("/", json=[call("getVersion")] * 20)).is_success
    clock.now += 3
    refused = await client.post("/", json=call("getBlockHeight"))  # the 101st call
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "7")
    clock.now += int(refused.headers["Retry-After"])
    assert (await client.post("/", json=call("getBlockHeight"))).status_code == 200

    sockets = [await http.ws_connect(server.ws_url) for _ in range(40)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await http.ws_connect(server.ws_url)
    assert info.value.status == 429
    for ws in sockets:
        await ws.close()
    counted = await stats(client)
    assert counted["http_status"]["429"] == 3  # two calls, one websocket
    assert counted["ws_refused"] == 1


async def test_no_gpa_answers_http_410_and_refuses_program_subscribe(
    server: LocalnetServer, client: httpx.AsyncClient, http: aiohttp.ClientSession
) -> None:
    """no-gpa (default http-410): getProgramAccounts, alone or in a batch, gets mainnet's
    410 answer for the whole request; other calls work; programSubscribe gets a JSON-RPC
    error while accountSubscribe works on the same socket."""
    now = await faults(client, {"provider": "no-gpa"})
    assert (now["provider"], now["gpa_refusal"]) == ("no-gpa", "http-410")
    resp = await client.post("/", json=call("getProgramAccounts", PROGRAM, rid=7))
    assert resp.status_code == 410
    assert resp.json() == {"jsonrpc": "2.0", "error": {"code": 410, "message": DISABLED}, "id": 7}
    batch = [call("getSlot", rid=1), call("getProgramAccounts", PROGRAM, rid=2)]
    resp = await client.post("/", json=batch)
    assert (resp.status_code, resp.json()["id"]) == (410, 2)
    assert (await client.post("/", json=call("getAccountInfo", STATE))).json()["result"]["value"]

    async with http.ws_connect(server.ws_url) as ws:
        refused = await subscribe(ws, "programSubscribe", PROGRAM)
        assert refused["error"] == {"code": 410, "message": DISABLED}
        assert isinstance((await subscribe(ws, "accountSubscribe", STATE))["result"], int)
    counted = await stats(client)
    assert counted["http_status"]["410"] == 2
    assert counted["subscriptions_refused"] == {"programSubscribe": 1}
    assert counted["rpc_errors"] == {"410": 1}  # the websocket's; HTTP refusals by status


async def test_no_gpa_method_not_found_variant(
    server: LocalnetServer, client: httpx.AsyncClient, http: aiohttp.ClientSession
) -> None:
    """no-gpa with gpa_refusal "method-not-found": HTTP 200, -32601 for getProgramAccounts
    alone (the other calls of a batch answered), and -32601 for programSubscribe."""
    await faults(client, {"provider": "no-gpa", "gpa_refusal": "method-not-found"})
    resp = await client.post("/", json=call("getProgramAccounts", PROGRAM, rid=3))
    assert resp.status_code == 200
    assert resp.json() == {
        "jsonrpc": "2.0",
        "id": 3,
        "error": {"code": -32601, "message": "Method not found"},
    }
    batch = [call("getProgramAccounts", PROGRAM, rid=1), call("getSlot", rid=2)]
    first, second = (await client.post("/", json=batch)).json()
    assert first["error"]["code"] == -32601
    assert isinstance(second["result"], int)
    async with http.ws_connect(server.ws_url) as ws:
        assert (await subscribe(ws, "programSubscribe", PROGRAM))["error"]["code"] == -32601
    counted = await stats(client)
    assert counted["rpc_errors"] == {"-32601": 3}
    assert counted["subscriptions_refused"] == {"programSubscribe": 1}


async def test_capped_answers_413_past_max_keys(client: httpx.AsyncClient) -> None:
    """capped: getMultipleAccounts with 5 keys passes, 6 gets HTTP 413 for the whole
    request (in a batch too); max_keys overrides the profile's 5 in the same request."""
    assert (await client.post("/", json=gma(5))).json()["result"]["value"][4] is not None
    await faults(client, {"provider": "capped"})
    assert len((await client.post("/", json=gma(5))).json()["result"]["value"]) == 5
    resp = await client.post("/", json=gma(6, rid=4))
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == 413
    assert resp.json()["id"] == 4
    assert "at most 5 keys" in resp.json()["error"]["message"]
    assert (await client.post("/", json=[call("getSlot"), gma(6)])).status_code == 413
    assert (await client.post("/", json=[call("getSlot"), gma(5)])).status_code == 200

    now = await faults(client, {"provider": "capped", "max_keys": 3})
    assert (now["provider"], now["max_keys"]) == ("capped", 3)
    assert (await client.get("/admin/faults")).json() == now
    assert (await client.post("/", json=gma(3))).status_code == 200
    assert (await client.post("/", json=gma(4))).status_code == 413
    assert (await stats(client))["http_status"] == {"200": 4, "413": 3}


async def test_strict_429_limits_heavy_methods_with_retry_after(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    """strict-429: the 3rd getMultipleAccounts (or getProgramAccounts) in a second is
    429 with Retry-After: 1 and a JSON-RPC error body; 10 calls a second in all; after
    waiting Retry-After, admitted again."""
    await faults(client, {"provider": "strict-429"})
    assert [(await client.post("/", json=gma(1))).status_code for _ in range(3)] == [200, 200, 429]
    refused = await client.post("/", json=gma(1))
    assert refused.headers["Retry-After"] == "1"
    assert refused.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": 429, "message": "Too many requests for a specific RPC call"},
    }
    gpa = call("getProgramAccounts", PROGRAM, {"dataSlice": {"offset": 0, "length": 0}})
    assert [(await client.post("/", json=gpa)).status_code for _ in range(3)] == [200, 200, 429]
    slots = [(await client.post("/", json=call("getSlot"))).status_code for _ in range(7)]
    assert slots == [200] * 6 + [429]  # 10 in all
    clock.now += 0.25
    refused = await client.post("/", json=call("getSlot"))
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "1")  # 0.75 s, up
    clock.now += int(refused.headers["Retry-After"])
    assert (await client.post("/", json=gma(1))).status_code == 200
    assert (await client.post("/", json=call("getSlot"))).status_code == 200
    # a batch larger than the window is never admitted: told to wait one window
    refused = await client.post("/", json=[gma(1)] * 3)
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "1")
    counted = await stats(client)
    assert counted["rate_limited"] == 6
    assert counted["http_status"]["200"] == 12


async def test_ws_churn_closes_websockets_after_their_lifetime(
    server: LocalnetServer, client: httpx.AsyncClient, http: aiohttp.ClientSession
) -> None:
    """ws-churn with ws_lifetime_s 0.5: the server closes the socket (1001, going away)
    on its own; the close is counted."""
    await faults(client, {"provider": "ws-churn", "ws_lifetime_s": 0.5})
    async with http.ws_connect(server.ws_url) as ws:
        assert isinstance((await subscribe(ws, "slotSubscribe"))["result"], int)
        async with asyncio.timeout(10):  # a safety net; the close comes at 0.5 s
            while (msg := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
                pass
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1001
    assert (await stats(client))["ws_closed_lifetime"] == 1


async def test_ws_churn_caps_subscriptions_per_connection(
    server: LocalnetServer, client: httpx.AsyncClient, http: aiohttp.ClientSession
) -> None:
    """ws-churn: 100 subscriptions on a socket pass, the 101st gets -32603 and the socket
    stays open (an unsubscribe makes room); another socket has its own 100."""
    await faults(client, {"provider": "ws-churn"})
    async with http.ws_connect(server.ws_url) as ws, http.ws_connect(server.ws_url) as other:
        ids = [(await subscribe(ws, "accountSubscribe", STATE))["result"] for _ in range(100)]
        assert len(set(ids)) == 100
        refused = await subscribe(ws, "accountSubscribe", STATE)
        assert refused["error"]["code"] == -32603
        assert "Subscription refused" in refused["error"]["message"]
        assert isinstance((await subscribe(other, "slotSubscribe"))["result"], int)
        assert (await subscribe(ws, "accountUnsubscribe", ids[0]))["result"] is True
        assert isinstance((await subscribe(ws, "accountSubscribe", STATE))["result"], int)
        counted = await stats(client)
        assert counted["subscriptions"]["account"] == 100
        assert counted["subscriptions_refused"] == {"accountSubscribe": 1}
        assert counted["rpc_errors"] == {"-32603": 1}


async def test_fields_work_alone_and_clear_lifts_the_provider(
    server: LocalnetServer, client: httpx.AsyncClient, http: aiohttp.ClientSession
) -> None:
    """Profiles are presets: each field works without one, and a later request changes
    fields and keeps the name; clear drops both. Bad names are 400 naming the choices."""
    now = await faults(client, {"max_keys": 2, "max_subscriptions": 0})
    assert now["provider"] is None
    assert (await client.post("/", json=gma(3))).status_code == 413
    async with http.ws_connect(server.ws_url) as ws:
        assert (await subscribe(ws, "slotSubscribe"))["error"]["code"] == -32603
    await faults(client, {"provider": "capped", "latency_ms": 1})
    now = await faults(client, {"max_keys": 7})
    assert (now["provider"], now["max_keys"], now["latency_ms"]) == ("capped", 7, 1)
    assert await faults(client, {"clear": True}) == FaultConfig().model_dump()
    resp = await client.post("/admin/faults", json={"provider": "free-tier"})
    assert resp.status_code == 400
    assert "unknown provider 'free-tier'" in resp.json()["error"]
    assert "strict-429" in resp.json()["error"]
    assert server.faults == FaultConfig()


def test_every_profile_is_a_valid_fault_config() -> None:
    """Each profile validates into the FaultConfig it documents, named after itself."""
    assert list(PROVIDERS) == ["public", "no-gpa", "capped", "strict-429", "ws-churn"]
    for name in PROVIDERS:
        assert provider_faults(name).provider == name
    assert provider_faults("ws-churn").ws_lifetime_s == 60
    assert provider_faults("ws-churn").max_subscriptions == 100
    with pytest.raises(ValueError, match="unknown provider 'nope'"):
        LocalnetServer(preset="small", provider="nope")


async def test_provider_option_applies_at_start() -> None:
    """`--provider` reaches the server through server_options and is in force at start;
    an unknown name is a usage error."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--preset", "small", "--port", "0", "--no-simulation", "--provider", "strict-429"]
    )
    async with LocalnetServer(**server_options(args)) as server:
        assert server.faults == provider_faults("strict-429")
        async with httpx.AsyncClient() as client:
            got = await client.get(f"{server.url}/admin/faults")
        assert got.json()["provider"] == "strict-429"
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["--provider", "nope"])
    assert exc.value.code == 2


@settings(max_examples=300, deadline=None)
@given(
    requests=st.integers(1, 12),
    per_method=st.none() | st.integers(1, 6),
    named=st.dictionaries(st.sampled_from("ab"), st.integers(1, 6), max_size=2),
    per_s=st.sampled_from([0.5, 1.0, 10.0]),
    calls=st.lists(
        st.tuples(st.floats(0, 3), st.lists(st.sampled_from("abc"), min_size=1, max_size=4)),
        max_size=50,
    ),
)
def test_limiter_with_named_method_limits_and_retry_after(
    requests: int,
    per_method: int | None,
    named: dict[str, int],
    per_s: float,
    calls: list[tuple[float, list[str]]],
) -> None:
    """Property: admitted calls never exceed the overall, per-method and named-method
    limits in any window; retry_after is 0 exactly when admit would pass; a refused
    request is admitted after waiting retry_after, and not before."""
    now = 0.0
    limit = RateLimit(requests=requests, per_s=per_s, per_method=per_method, methods=named)
    limiter = RateLimiter(limit, clock=lambda: now)
    admitted: list[tuple[float, str]] = []
    for step, methods in calls:
        now += step
        wait = limiter.retry_after(methods)
        if 0 < wait < math.inf:
            before = now
            if wait > 1e-6:  # far above float rounding: halfway is still too early
                now = before + wait / 2
                assert not limiter.admit(methods)
            now = before + wait
            assert limiter.retry_after(methods) == 0
        passed = limiter.admit(methods)
        assert passed == (wait < math.inf)
        if passed:
            admitted.extend((now, m) for m in methods)
    for t, _ in admitted:
        window = [m for s, m in admitted if t - per_s < s <= t]
        assert len(window) <= requests
        for m in "abc":
            cap = named.get(m, per_method)
            assert cap is None or window.count(m) <= cap


def test_retry_after_header_rounds_up_to_whole_seconds() -> None:
    """Retry-After is whole seconds, at least 1, rounded up; one window when never."""
    headers = [rate_limited(w, per_s=10).headers["Retry-After"] for w in (1e-9, 1.0, 1.2, 9.99)]
    assert headers == ["1", "1", "2", "10"]
    assert rate_limited(float("inf"), per_s=2.5).headers == {"Retry-After": "3"}
    assert json.dumps(rate_limited(0.5, per_s=1).body)  # a JSON body
