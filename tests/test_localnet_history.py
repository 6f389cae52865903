"""Account history: an account's bytes as of a past slot, bounded memory, minContextSlot."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from localnet import codec
from localnet.errors import MIN_CONTEXT_SLOT_NOT_REACHED
from localnet.history import AccountHistory, HistoryConfig, NotKept
from localnet.ledger import Account, Ledger
from localnet.markets import DriftMarkets, MarketPatch
from localnet.presets import preset
from localnet.server import LocalnetServer
from localnet.simulation import MarketSimulator, SimulationConfig

ADDRESSES = ("a", "b", "c")
Op = tuple[str, str]  # ("write", address) or ("tick", "")


@settings(max_examples=300, deadline=None)
@given(
    window=st.integers(1, 12),
    max_versions=st.integers(1, 6),
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("write"), st.sampled_from(ADDRESSES)),
            st.tuples(st.just("tick"), st.just("")),
        ),
        max_size=60,
    ),
    query=st.tuples(st.sampled_from(ADDRESSES), st.integers(0, 40)),
)
def test_history_answers_exactly_or_says_not_kept(
    window: int, max_versions: int, ops: list[Op], query: tuple[str, int]
) -> None:
    """Property: `at(slot)` is the account's last write in a slot <= slot, or None if it
    had none, or NotKept; NotKept only before the window or when more than
    `max_versions` writes came after; never more than `max_versions` kept per account."""
    history = AccountHistory(HistoryConfig(window_slots=window, max_versions=max_versions))
    slot, writes = 0, []
    for i, (kind, address) in enumerate(ops):
        if kind == "tick":
            slot += 1
            continue
        account = Account(data=i.to_bytes(2, "little"), owner="o", slot=slot)
        history.record(address, account, slot)
        writes.append((address, account))
    address, asked = query
    asked = min(asked, slot)
    mine = [a for k, a in writes if k == address]
    expected = next((a for a in reversed(mine) if a.slot <= asked), None)
    later = sum(a.slot > asked for a in mine)
    try:
        got = history.at(address, asked, slot)
    except NotKept:
        assert asked < slot - window or later >= max_versions
    else:
        assert got == expected
    assert all(len(v) <= max_versions for v in history._versions.values())


def test_history_stays_bounded_under_the_simulation() -> None:
    """Hundreds of simulated steps keep at most `max_versions` per account, and the
    window's versions still answer."""
    ledger = Ledger(history=HistoryConfig(window_slots=20, max_versions=8))
    markets = DriftMarkets(ledger, preset("mainnet"), now=1_795_500_000)
    simulator = MarketSimulator(markets, SimulationConfig(seed=3))
    for i in range(60):
        ledger.advance_slot()
        simulator.step_prices(now=1_795_500_001 + i)
    assert len(ledger.history) <= len(ledger) * 8
    sol = markets.perp("SOL-PERP")
    assert ledger.account_at(str(sol.address), ledger.slot) == ledger.get(str(sol.address))
    with pytest.raises(NotKept):
        ledger.account_at(str(sol.address), ledger.slot - 21)


@pytest_asyncio.fixture
async def still_clock() -> AsyncIterator[LocalnetServer]:
    """localnet whose slot clock does not tick: the test advances slots itself."""
    history = HistoryConfig(window_slots=10, max_versions=16)
    async with LocalnetServer(preset="small", slot_ms=3_600_000, history=history) as server:
        yield server


async def _get(http: aiohttp.ClientSession, url: str, **query: object) -> tuple[int, Any]:
    async with http.get(url, params={k: str(v) for k, v in query.items()}) as resp:
        return resp.status, await resp.json()


async def test_admin_account_returns_the_bytes_as_of_a_past_slot(
    still_clock: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """Versions at past slots come back byte for byte (as getAccountInfo served them),
    with the slot they were written in; the current one without a slot."""
    server = still_clock
    url = f"{server.url}/admin/account"
    sol = str(server.markets.perp("SOL-PERP").address)
    first_slot = server.ledger.slot
    status, first = await _get(http, url, pubkey=sol)
    assert status == 200
    assert first["slot"] == first_slot
    assert first["pubkey"] == sol
    for rate in (111, 222):
        server.ledger.advance_slot()
        server.markets.apply(MarketPatch(symbol="SOL-PERP", last_funding_rate=rate))
    server.ledger.advance_slot()
    rpc = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "getAccountInfo",
        "params": [sol, {"encoding": "base64"}],
    }
    async with http.post(server.url, data=json.dumps(rpc)) as resp:
        served = (await resp.json())["result"]["value"]
    expected: list[tuple[int, int | None]] = [(first_slot, None), (first_slot + 1, 111)]
    for slot, want in [*expected, (first_slot + 2, 222)]:
        status, body = await _get(http, url, pubkey=sol, slot=slot + (slot == first_slot + 2))
        assert status == 200
        assert body["slot"] == slot
        decoded = codec.decode(base64.b64decode(body["account"]["data"][0]))
        if want is None:
            assert body["account"] == first["account"]
        else:
            assert decoded.amm.last_funding_rate == want
    assert body["account"] == served  # the newest version is what getAccountInfo serves


async def test_admin_account_404s_beyond_the_window_and_400s_bad_params(
    still_clock: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """Slots older than the window kept, or accounts that did not exist, are 404; bad
    or missing parameters and future slots are 400."""
    server = still_clock
    url = f"{server.url}/admin/account"
    sol = str(server.markets.perp("SOL-PERP").address)
    start = server.ledger.slot
    for _ in range(11):
        server.ledger.advance_slot()
    status, body = await _get(http, url, pubkey=sol, slot=start)
    assert status == 404
    assert "older than the 10 slots" in body["error"]
    assert (await _get(http, url, pubkey=sol, slot=start + 1))[0] == 200
    never = "11111111111111111111111111111112"
    status, body = await _get(http, url, pubkey=never, slot=server.ledger.slot)
    assert status == 404
    assert "did not exist" in body["error"]
    for query in (
        {},
        {"pubkey": "not-base58!"},
        {"pubkey": sol, "slot": "abc"},
        {"pubkey": sol, "slot": "-1"},
        {"pubkey": sol, "slot": "9" * 30},
        {"pubkey": sol, "slot": server.ledger.slot + 1},
        {"pubkey": sol, "colour": "red"},
    ):
        status, body = await _get(http, url, **query)
        assert status == 400, query
        assert body["error"]


async def test_min_context_slot_ahead_of_the_node_is_an_error(
    still_clock: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """minContextSlot ahead of the current slot answers -32016 with the context slot, as
    a Solana node does; one at or behind it is served."""
    server = still_clock
    slot = server.ledger.slot
    sol = str(server.markets.perp("SOL-PERP").address)
    calls = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "getAccountInfo",
            "params": [sol, {"minContextSlot": slot + 5}],
        },
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "getMultipleAccounts",
            "params": [[sol], {"minContextSlot": slot}],
        },
        {"jsonrpc": "2.0", "id": 3, "method": "getSlot", "params": [{"minContextSlot": slot + 1}]},
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "getAccountInfo",
            "params": [sol, {"minContextSlot": "x"}],
        },
    ]
    async with http.post(server.url, data=json.dumps(calls)) as resp:
        answers = await resp.json()
    assert answers[0]["error"]["code"] == MIN_CONTEXT_SLOT_NOT_REACHED
    assert answers[0]["error"]["data"] == {"contextSlot": slot}
    assert answers[1]["result"]["context"]["slot"] == slot
    assert answers[2]["error"]["code"] == MIN_CONTEXT_SLOT_NOT_REACHED
    assert answers[3]["error"]["code"] == -32602


def test_an_account_has_one_version_per_slot() -> None:
    """A second write to an account in the same slot lands in the next slot, so each
    version a subscriber is told about is the one history returns for its slot; other
    accounts may still share a slot."""
    ledger = Ledger(slot=100)
    seen: list[tuple[str, int, bytes]] = []
    ledger.on_account(lambda key, account: seen.append((key, account.slot, account.data)))
    ledger.set_account("a", b"1", "owner")
    ledger.set_account("b", b"1", "owner")
    ledger.set_account("a", b"2", "owner")
    assert seen == [("a", 100, b"1"), ("b", 100, b"1"), ("a", 101, b"2")]
    assert ledger.slot == 101
    first, second = ledger.account_at("a", 100), ledger.account_at("a", 101)
    assert first is not None
    assert second is not None
    assert (first.data, second.data) == (b"1", b"2")
