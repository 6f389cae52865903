"""localnet's JSON-RPC and /admin/ answers, bad input included: errors, never crashes."""

from __future__ import annotations

import json
import math
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from localnet.errors import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR
from localnet.markets import STATE_ADDRESS
from localnet.server import LocalnetServer


async def _post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(url, data=data, headers={"content-type": "application/json"}) as resp:
        return resp.status, await resp.json()


def _call(method: str, params: Any = None, rid: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}


async def test_get_account_info_returns_the_state_account(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """getAccountInfo answers with the base64 State account and a context slot."""
    status, body = await _post(
        http, localnet.url, _call("getAccountInfo", [str(STATE_ADDRESS), {"encoding": "base64"}])
    )
    assert status == 200
    assert body["result"]["value"]["space"] == 992
    assert (
        body["result"]["context"]["slot"] == localnet.ledger.slot
        or body["result"]["context"]["slot"] > 0
    )


async def test_batches_and_null_params_are_accepted(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """A JSON-RPC batch gets one answer per call, in order; explicit null params work."""
    status, body = await _post(
        http, localnet.url, [_call("getSlot", None, 1), _call("getHealth", [], 2)]
    )
    assert status == 200
    assert [a["id"] for a in body] == [1, 2]
    assert isinstance(body[0]["result"], int)
    assert body[1]["result"] == "ok"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", PARSE_ERROR),
        (b"[]", INVALID_REQUEST),
        (b'"just a string"', INVALID_REQUEST),
        (_call("getNothing"), METHOD_NOT_FOUND),
        (_call("getAccountInfo", []), INVALID_PARAMS),
        (_call("getAccountInfo", ["not-an-address!"]), INVALID_PARAMS),
        (_call("getAccountInfo", {"a": 1}), INVALID_PARAMS),
        (_call("getMultipleAccounts", ["x"]), INVALID_PARAMS),
        (_call("getMultipleAccounts", [[str(STATE_ADDRESS)] * 101]), INVALID_PARAMS),
        (
            _call(
                "getProgramAccounts",
                [str(STATE_ADDRESS), {"filters": [{"memcmp": {"offset": -1, "bytes": "1"}}]}],
            ),
            INVALID_PARAMS,
        ),
        (_call("getProgramAccounts", [str(STATE_ADDRESS), {"filters": "x"}]), INVALID_PARAMS),
        (_call("getAccountInfo", [str(STATE_ADDRESS), {"encoding": "jsonParsed"}]), INVALID_PARAMS),
        ({"jsonrpc": "2.0", "id": 3, "method": 7}, INVALID_REQUEST),
    ],
)
async def test_bad_requests_get_json_rpc_errors(
    localnet: LocalnetServer, http: aiohttp.ClientSession, body: Any, code: int
) -> None:
    """Malformed JSON, unknown methods and bad params get a JSON-RPC error code."""
    status, answer = await _post(http, localnet.url, body)
    assert status == 200
    assert answer["error"]["code"] == code
    assert answer["error"]["message"]
    status, ok = await _post(http, localnet.url, _call("getSlot"))
    assert status == 200
    assert "result" in ok


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(
        [
            "getAccountInfo",
            "getMultipleAccounts",
            "getProgramAccounts",
            "getSlot",
            "getBalance",
            "getLatestBlockhash",
            "getMinimumBalanceForRentExemption",
            "bogus",
        ]
    )
    | st.text(max_size=10),
    params=json_values,
    batch=st.booleans(),
)
# found by this test: int(inf) raised OverflowError, which was not turned into -32602
@example(method="getMinimumBalanceForRentExemption", params=[math.inf], batch=False)
def test_any_call_gets_a_result_or_an_error(method: str, params: Any, batch: bool) -> None:
    """Fuzz: any method and params get a JSON-RPC result or error, never an exception."""
    server = _SERVER
    call = {"jsonrpc": "2.0", "id": 9, "method": method, "params": params}
    status, answer, _ = server.http_rpc.answer(json.dumps([call] if batch else call).encode())
    one = answer[0] if batch else answer
    assert status == 200
    assert ("result" in one) != ("error" in one)
    if "error" in one:
        assert isinstance(one["error"]["code"], int)
    json.dumps(answer)  # serialisable as sent


_SERVER = LocalnetServer(preset="small")  # not started: answering needs no sockets


async def test_admin_market_rejects_bad_input(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """/admin/market: unknown market is 404; bad fields, types and JSON are 400."""
    url = f"{localnet.url}/admin/market"
    assert (await _post(http, url, {"symbol": "NOPE-PERP", "last_funding_rate": 1}))[0] == 404
    assert (await _post(http, url, {"symbol": "SOL-PERP", "colour": "red"}))[0] == 400
    assert (await _post(http, url, {"symbol": "SOL-PERP", "oracle_price": -1}))[0] == 400
    assert (await _post(http, url, {"last_funding_rate": 1}))[0] == 400
    assert (await _post(http, url, b"{oops"))[0] == 400
    status, body = await _post(http, url, {"market_index": 1, "status": "reduce_only"})
    assert status == 200
    assert body["status"] == "reduce_only"


async def test_admin_markets_lists_served_values(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """GET /admin/markets lists every perp and spot market with its served values."""
    async with http.get(f"{localnet.url}/admin/markets") as resp:
        body = await resp.json()
    assert [m["symbol"] for m in body["perps"]] == ["SOL-PERP", "BTC-PERP", "ETH-PERP"]
    assert body["perps"][0]["oracle_price"] == localnet.markets.perp(0).oracle_price
    assert [s["symbol"] for s in body["spots"]] == ["USDC"]
    assert body["spots"][0]["deposit_token_amount"] > body["spots"][0]["borrow_token_amount"] > 0


async def test_funding_update_moves_every_market(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """POST /admin/funding-update stamps a new funding time on every market."""
    localnet.markets.update_perp(localnet.markets.perp(0), last_funding_rate_ts=1)
    status, body = await _post(http, f"{localnet.url}/admin/funding-update", {})
    assert status == 200
    assert body["updated"] == 3
    assert all(v.account.amm.last_funding_rate_ts > 1 for v in localnet.markets.perps)
