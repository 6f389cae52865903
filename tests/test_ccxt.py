"""`subscribers.ccxt`: Drift funding as CCXT's unified funding API, held to CCXT itself
(its TypedDicts, its ISO 8601, its since/limit filter, binance's parse_funding_rate) and
to our models, against a real streamer over localnet and a real nats-server.

One streamer serves the whole module (`stack`); each test that changes a market changes
its own: BTC-PERP (watch_funding_rate), SOL-PERP (watch_funding_rates), ETH-PERP
(history).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import ccxt  # type: ignore[import-untyped]
import pytest
import pytest_asyncio
from ccxt.base.exchange import Exchange  # type: ignore[import-untyped]
from ccxt.base.types import (  # type: ignore[import-untyped]
    FundingRate as CcxtTypesFundingRate,
)
from ccxt.base.types import (
    FundingRateHistory as CcxtTypesFundingRateHistory,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from schemas import MarketList, PerpMarketInfo, bucket_specs, encode
from schemas.units import hourly_rate_pct
from streamer.buckets import ensure_buckets
from streamer.nats_server import NatsServer
from streamer.ports import free_port
from subscribers.ccxt import (
    BadSymbol,
    CcxtFundingRate,
    CcxtFundingRateHistory,
    DriftExchange,
    ExchangeNotAvailable,
    ccxt_symbol,
    drift_candidates,
    iso8601,
    resolve_symbol,
)
from subscribers.ccxt.structures import filter_since_limit, funding_rate
from subscribers.ccxt.watch import Updates
from subscribers.errors import DriftStreamError
from tests.ccxt_stack import (
    MARKETS,
    Stack,
    assert_fills,
    model,
    patch_market,
    published,
    running_stack,
    settled_as,
)
from tests.ccxt_types import assert_structure, conforms
from tests.drift_clients import wait_until
from tests.factories import funding_rate as make_funding

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
HOUR = 3600
SYMBOL = st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)
LAST_ISO_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last CCXT can write
CCXT = Exchange()  # CCXT's base exchange: its filters (no network)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The module's running stack (`tests.ccxt_stack`): one streamer for every test."""
    async with running_stack(tmp_path_factory.mktemp("ccxt")) as running:
        yield running


# -- pure functions, against CCXT's own -------------------------------------------------


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=LAST_ISO_MS))
def test_iso8601_is_ccxts(timestamp: int) -> None:
    """Our ISO 8601 of any millisecond time CCXT can write is exactly CCXT's."""
    assert iso8601(timestamp) == Exchange.iso8601(timestamp)


@settings(max_examples=100)
@given(st.integers(max_value=-1) | st.integers(min_value=LAST_ISO_MS + 1))
def test_iso8601_of_an_impossible_time_is_none(timestamp: int) -> None:
    """Before 1970 (CCXT's None too) or past year 9999: None, never an error."""
    assert iso8601(timestamp) is None
    if timestamp < 0:
        assert Exchange.iso8601(timestamp) is None


def test_iso8601_examples() -> None:
    """CCXT's format: milliseconds always, Z for UTC; None for None."""
    assert iso8601(1_796_173_200_000) == "2026-12-02T01:00:00.000Z"
    assert iso8601(1_796_173_200_007) == "2026-12-02T01:00:00.007Z"
    assert iso8601(None) is None


@settings(max_examples=200)
@given(st.sets(SYMBOL.map(str.upper), min_size=1, max_size=6), st.data())
def test_symbols_round_trip(symbols: set[str], data: st.DataObject) -> None:
    """Every Drift name's CCXT symbol, in any case, resolves back to it, and so does the
    Drift name in any case (a pair `X`, `X-PERP` would share a CCXT symbol: Drift has
    none)."""
    assume(not any(s + "-PERP" in symbols for s in symbols))
    for drift in symbols:
        symbol = ccxt_symbol(drift)
        assert symbol.endswith("/USDC:USDC")
        assert resolve_symbol(symbol, symbols) == drift
        cased = data.draw(st.sampled_from([str.lower, str.upper, str.swapcase]))
        assert resolve_symbol(cased(symbol), symbols) == drift
        assert resolve_symbol(cased(drift), symbols) == drift


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_any_text_is_a_symbol_or_bad_symbol(text: str) -> None:
    """Any text gives Drift names that are valid subject tokens, or BadSymbol (a
    ValueError and a DriftStreamError): never another error."""
    try:
        candidates = drift_candidates(text)
    except BadSymbol:
        return
    assert candidates
    assert all(c == c.upper() and "." not in c and "/" not in c for c in candidates)


def test_symbol_examples() -> None:
    """Drift's names in any case and CCXT's USDC swaps are accepted; spot pairs, other
    quotes, dated futures and unknown markets are BadSymbol (a ValueError and the
    library's DriftStreamError), as CCXT says it."""
    assert issubclass(BadSymbol, ValueError)
    assert issubclass(BadSymbol, DriftStreamError)
    assert issubclass(ExchangeNotAvailable, DriftStreamError)
    known = {"SOL-PERP", "1MBONK-PERP", "TRUMP-WIN-2024-BET"}
    assert resolve_symbol("SOL/USDC:USDC", known) == "SOL-PERP"
    assert resolve_symbol("sol-perp", known) == "SOL-PERP"
    assert resolve_symbol("1MBONK/USDC:USDC", known) == "1MBONK-PERP"
    assert resolve_symbol("TRUMP-WIN-2024-BET/USDC:USDC", known) == "TRUMP-WIN-2024-BET"
    assert ccxt_symbol("TRUMP-WIN-2024-BET") == "TRUMP-WIN-2024-BET/USDC:USDC"
    for bad in ("SOL/USDC", "SOL/USDT:USDT", "BTC/USDC:USDC-261225", "SOL.PERP", "", "a/b:c/d"):
        with pytest.raises(BadSymbol, match="invalid symbol"):
            resolve_symbol(bad, known)
    with pytest.raises(BadSymbol, match="drift does not have market symbol 'NOPE/USDC:USDC'"):
        resolve_symbol("NOPE/USDC:USDC", known)
    with pytest.raises(BadSymbol, match="a str"):
        drift_candidates(42)  # type: ignore[arg-type]


def _history(timestamps: list[int]) -> list[CcxtFundingRateHistory]:
    return [
        {
            "info": {},
            "symbol": "SOL/USDC:USDC",
            "fundingRate": 0.0,
            "timestamp": t,
            "datetime": None,
        }
        for t in timestamps
    ]


@settings(max_examples=300)
@given(
    st.lists(st.integers(min_value=1, max_value=2**45), unique=True).map(sorted),
    st.none() | st.integers(min_value=0, max_value=2**45),
    st.none() | st.integers(min_value=1, max_value=40),
)
def test_since_and_limit_are_ccxts(
    timestamps: list[int], since: int | None, limit: int | None
) -> None:
    """`since` and `limit` keep what CCXT's filter keeps for binance's history: from
    `since` the oldest `limit`, without it the newest."""
    entries = _history(timestamps)
    ours = filter_since_limit(entries, since, limit)
    assert ours == CCXT.filter_by_symbol_since_limit(entries, None, since, limit)
    with pytest.raises(ValueError, match="limit"):
        filter_since_limit(entries, since, 0)


def test_our_structures_have_ccxts_keys() -> None:
    """Our TypedDicts name exactly CCXT's keys."""
    assert CcxtFundingRate.__annotations__.keys() == CcxtTypesFundingRate.__annotations__.keys()
    assert (
        CcxtFundingRateHistory.__annotations__.keys()
        == CcxtTypesFundingRateHistory.__annotations__.keys()
    )


def test_structure_check_can_fail() -> None:
    """The key and type check rejects what CCXT's types do not allow."""
    assert conforms(None, CcxtTypesFundingRate.__annotations__["timestamp"])
    assert not conforms(True, CcxtTypesFundingRate.__annotations__["timestamp"])
    rate = funding_rate(make_funding(next_funding_ts=7200, predicted_long=1), None)
    assert_structure(rate, CcxtTypesFundingRate)
    with pytest.raises(AssertionError, match="timestamp"):
        assert_structure({**rate, "timestamp": "soon"}, CcxtTypesFundingRate)
    with pytest.raises(AssertionError, match="missing"):
        assert_structure({k: v for k, v in rate.items() if k != "interval"}, CcxtTypesFundingRate)
    with pytest.raises(AssertionError, match="info"):
        assert_structure({**rate, "info": {1: "x"}}, CcxtTypesFundingRate)


def test_filled_as_binance_fills_it() -> None:
    """CCXT's binance, given the same figures in Binance's premium index shape, fills the
    keys Binance has with exactly our values."""
    funding = make_funding(next_funding_ts=7200, predicted_long=7_295, oracle_twap_live=149_877_653)
    ours = funding_rate(funding, None)
    contract = {
        "symbol": "SOLUSDC",
        "estimatedSettlePrice": repr(ours["estimatedSettlePrice"]),
        "lastFundingRate": repr(ours["fundingRate"]),
        "nextFundingTime": str(ours["fundingTimestamp"]),
        "time": str(ours["timestamp"]),
        "fundingIntervalHours": 1,
    }
    theirs = ccxt.binance().parse_funding_rate(contract)
    assert theirs.keys() == ours.keys()
    values: Mapping[str, Any] = ours
    for key in (
        "estimatedSettlePrice",
        "fundingRate",
        "fundingTimestamp",
        "fundingDatetime",
        "timestamp",
        "datetime",
        "interval",
    ):
        assert values[key] == theirs[key], key


def test_public_api_is_pinned() -> None:
    """The names bots import from `subscribers.ccxt`."""
    import subscribers.ccxt

    assert subscribers.ccxt.__all__ == [
        "BadSymbol",
        "CcxtFundingRate",
        "CcxtFundingRateHistory",
        "DriftExchange",
        "ExchangeNotAvailable",
        "ccxt_symbol",
        "drift_candidates",
        "iso8601",
        "resolve_symbol",
    ]


def test_imports_neither_driftpy_nor_ccxt() -> None:
    """The CCXT view and its example load no driftpy and no ccxt (a dev dependency)."""
    code = (
        "import sys, subscribers.ccxt, subscribers.examples.ccxt_carry; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'driftpy', 'solana', 'solders', 'anchorpy', 'ccxt'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- against a streamer over localnet --------------------------------------------------


@MODULE_LOOP
async def test_fetch_funding_rate_is_ccxts_structure(stack: Stack) -> None:
    """For every market, by CCXT symbol or Drift name in any case, through a passed or
    an own client: CCXT's FundingRate with every key we have data for filled from our
    live models (percent -> decimal, seconds -> ms), `info` holding both."""
    for symbol in MARKETS:
        for exchange in (stack.exchange, stack.own):
            for asked in (ccxt_symbol(symbol), symbol.lower()):
                rate = await exchange.fetch_funding_rate(asked)
                funding = model(rate)
                assert funding.symbol == symbol
                assert_fills(rate, funding)
                live = await stack.client.funding(symbol)
                assert live is not None
                assert live.ts >= funding.ts  # the live value or one just before it
                assert rate["info"]["market"]["symbol"] == symbol


@MODULE_LOOP
async def test_fetch_funding_rates_by_ccxt_symbol(stack: Stack) -> None:
    """Every market keyed by CCXT symbol in market index order; a subset by either form;
    BadSymbol for an unknown or malformed one."""
    rates = await stack.exchange.fetch_funding_rates()
    assert list(rates) == ["SOL/USDC:USDC", "BTC/USDC:USDC", "ETH/USDC:USDC"]
    for symbol, rate in rates.items():
        assert rate["symbol"] == symbol
        assert_fills(rate, model(rate))
    some = await stack.own.fetch_funding_rates(["eth-perp", "BTC/USDC:USDC"])
    assert set(some) == {"ETH/USDC:USDC", "BTC/USDC:USDC"}
    for bad in ("NOPE-PERP", "NOPE/USDC:USDC", "SOL/USDT:USDT"):
        with pytest.raises(BadSymbol):
            await stack.exchange.fetch_funding_rates(["SOL-PERP", bad])
        with pytest.raises(BadSymbol):
            await stack.exchange.fetch_funding_rate(bad)


@MODULE_LOOP
async def test_watch_funding_rate_returns_the_next_update(stack: Stack) -> None:
    """The first watch returns the current value; after /admin/market changes the
    market, later watches return newer values until the changed one, never one twice."""
    first = await stack.exchange.watch_funding_rate("BTC/USDC:USDC")
    assert_fills(first, model(first))
    await patch_market(stack.localnet, symbol="BTC-PERP", last_funding_rate=-123_456)
    seen = [first]
    async with asyncio.timeout(15):
        while model(seen[-1]).last_funding_rate != -123_456:
            seen.append(await stack.exchange.watch_funding_rate("btc-perp"))
            assert seen[-1]["info"] != seen[-2]["info"]  # a new value every time
            assert seen[-1]["timestamp"] >= seen[-2]["timestamp"]
    changed = seen[-1]
    assert_fills(changed, model(changed))
    settled = hourly_rate_pct(-123_456, model(changed).oracle_twap)
    assert settled is not None
    assert changed["previousFundingRate"] == settled / 100


@MODULE_LOOP
async def test_watch_funding_rates_returns_what_changed(stack: Stack) -> None:
    """The first watches return every asked market's current value; after a change the
    changed market comes (with what else changed, never an unasked one), keyed by CCXT
    symbol; unknown symbols are BadSymbol."""
    asked = ["SOL/USDC:USDC", "eth-perp"]
    current: dict[str, CcxtFundingRate] = {}
    async with asyncio.timeout(15):
        while len(current) < 2:
            update = await stack.own.watch_funding_rates(asked)
            assert set(update) <= {"SOL/USDC:USDC", "ETH/USDC:USDC"}
            current.update(update)
    await patch_market(stack.localnet, symbol="SOL-PERP", last_funding_rate=2_500_000)
    async with asyncio.timeout(15):
        while True:
            update = await stack.own.watch_funding_rates(asked)
            assert set(update) <= {"SOL/USDC:USDC", "ETH/USDC:USDC"}
            for rate in update.values():
                assert_fills(rate, model(rate))
            sol = update.get("SOL/USDC:USDC")
            if sol is not None and model(sol).last_funding_rate == 2_500_000:
                break
    with pytest.raises(BadSymbol):
        await stack.own.watch_funding_rates(["SOL-PERP", "NOPE-PERP"])


@MODULE_LOOP
async def test_a_watch_hands_each_value_over_once(stack: Stack) -> None:
    """A watch's first `updated()` gives the market's last value; a value is handed over
    once (seen in the last values and live, it is still one update); a stopped watch
    says so, and a closed exchange refuses calls."""
    updates = Updates(stack.client, ["SOL-PERP"])
    try:
        assert await updates.updated(10) == ["SOL-PERP"]
        value = await stack.client.funding("SOL-PERP")
        assert updates.is_new("SOL-PERP", value)
        assert not updates.is_new("SOL-PERP", value)
        assert updates.is_new("SOL-PERP", object())
    finally:
        await updates.aclose()
    with pytest.raises(ExchangeNotAvailable, match="stopped"):
        await updates.updated()
    exchange = DriftExchange(stack.client)
    assert (await exchange.watch_funding_rate("SOL-PERP"))["symbol"] == "SOL/USDC:USDC"
    await exchange.close()
    assert await stack.client.funding("SOL-PERP") is not None  # a passed client stays open
    with pytest.raises(RuntimeError, match="closed"):
        await exchange.watch_funding_rate("SOL-PERP")


@MODULE_LOOP
async def test_history_has_one_entry_per_settled_funding(stack: Stack) -> None:
    """Settlements made through /admin/market (one corrected) come back once each, oldest
    first, the correction winning; `since` and `limit` as CCXT's filter keeps them."""
    start = await stack.client.funding("ETH-PERP")
    assert start is not None
    t0 = start.last_funding_rate_ts
    settlements = [  # (ts, rate): two back in time, one corrected, then back to now
        (t0 - 3 * HOUR, 1_000_000),
        (t0 - 2 * HOUR, -2_000_000),
        (t0 - 2 * HOUR, -2_500_000),
        (t0, start.last_funding_rate),
    ]
    for ts, rate in settlements:
        await patch_market(
            stack.localnet, symbol="ETH-PERP", last_funding_rate=rate, last_funding_rate_ts=ts
        )
        await published(stack.client, "ETH-PERP", settled_as(ts, rate))
    history = await stack.exchange.fetch_funding_rate_history("ETH/USDC:USDC")
    assert [h["timestamp"] for h in history] == [
        (t0 - 3 * HOUR) * 1000,
        (t0 - 2 * HOUR) * 1000,
        t0 * 1000,
    ]
    expected = [1_000_000, -2_500_000, start.last_funding_rate]  # the correction won
    for entry, rate in zip(history, expected, strict=True):
        assert_structure(entry, CcxtTypesFundingRateHistory)
        assert None not in entry.values()
        assert entry["symbol"] == "ETH/USDC:USDC"
        assert entry["info"]["last_funding_rate"] == rate
        settled = hourly_rate_pct(rate, entry["info"]["oracle_twap"])
        assert settled is not None
        assert entry["fundingRate"] == settled / 100
        assert entry["datetime"] == Exchange.iso8601(entry["timestamp"])
    since = (t0 - 2 * HOUR) * 1000
    read = stack.own.fetch_funding_rate_history
    assert await read("eth-perp", since=since) == history[1:]
    assert await read("eth-perp", since=since, limit=1) == history[1:2]
    assert await read("eth-perp", limit=2) == history[1:]  # the newest
    assert await read("eth-perp", limit=10) == history  # fewer than asked: all there are
    for args in ((None, 1), (since, 1), (None, None), (since, None)):
        assert await read("eth-perp", *args) == CCXT.filter_by_symbol_since_limit(
            history, None, *args
        )
    with pytest.raises(ValueError, match="limit"):
        await read("eth-perp", limit=0)
    with pytest.raises(BadSymbol):
        await read("NOPE-PERP")


# -- lifecycle, and values that expire ----------------------------------------------------


async def test_an_unreachable_nats_is_exchange_not_available_every_time() -> None:
    """Unreachable NATS: ExchangeNotAvailable within `timeout`, naming the URL without
    its password; a later call tries again (a new client), and close() is clean."""
    url = f"nats://engine:s3cret@127.0.0.1:{free_port()}"
    exchange = DriftExchange(network="local", nats_url=url, timeout=300)
    for _ in range(2):
        with pytest.raises(
            ExchangeNotAvailable, match=r"no NATS connection to nats://engine:\*\*\*@"
        ) as info:
            await exchange.fetch_funding_rate("SOL-PERP")
        assert "s3cret" not in str(info.value)
    await exchange.close()
    await exchange.close()  # once is enough; twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        await exchange.fetch_funding_rates()


async def test_an_expired_value_is_never_returned(fresh_nats: NatsServer, client: Client) -> None:
    """A value whose TTL passed is gone: fetch raises ExchangeNotAvailable after waiting
    `timeout` for a new one, fetch_funding_rates leaves it out; no stale data."""
    kvs = await ensure_buckets(client.jetstream(), bucket_specs(funding_ttl=1))
    listing = MarketList(
        network="local",
        ts=1.0,
        slot=1,
        epoch=3,
        markets=(PerpMarketInfo(market_index=0, symbol="SOL-PERP"),),
    )
    await kvs["drift_markets"].put("local", encode(listing))
    await kvs["drift_funding"].put(
        "local.SOL-PERP", encode(make_funding(next_funding_ts=7200, predicted_long=1))
    )
    async with DriftExchange(network="local", nats_url=fresh_nats.url, timeout=200) as exchange:
        rate = await exchange.fetch_funding_rate("SOL/USDC:USDC")
        assert rate["info"]["market"] is None  # no snapshot: none invented
        assert rate["markPrice"] is None
        mirror = exchange._client._funding
        assert mirror is not None
        await wait_until(lambda: mirror.cache.is_expired("local.SOL-PERP"), timeout=5)
        with pytest.raises(ExchangeNotAvailable, match="no live funding for SOL/USDC:USDC"):
            await exchange.fetch_funding_rate("SOL-PERP")
        assert await exchange.fetch_funding_rates() == {}


# -- the example ------------------------------------------------------------------------


def _carry(*args: str) -> list[str]:
    return [sys.executable, "-m", "subscribers.examples.ccxt_carry", "--network", "local", *args]


def _readme_block(language: str) -> str:
    """The first ```language block of README.md's "## CCXT" section."""
    text = (Path(__file__).parents[1] / "README.md").read_text()
    section = text.split("\n## CCXT\n", 1)[1].split("\n## ", 1)[0]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


@MODULE_LOOP
async def test_readme_code_runs(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """README's CCXT code, as written there, fetches and watches SOL's funding."""
    monkeypatch.setenv("NATS_URL", stack.nats_url)
    body = textwrap.indent(_readme_block("python"), "    ")
    namespace: dict[str, Any] = {}
    exec(compile(f"async def readme() -> None:\n{body}", "README.md", "exec"), namespace)
    await asyncio.wait_for(namespace["readme"](), 30)
    fetched, watched = capsys.readouterr().out.splitlines()
    rate, when = fetched.split()
    assert abs(float(rate)) < 0.01  # a decimal per hour (1 %/h would be extreme)
    assert when.endswith(":00:00.000Z")  # settlements are on the hour
    assert "'symbol': 'SOL/USDC:USDC'" in watched


@MODULE_LOOP
async def test_carry_example_ranks_every_market(stack: Stack) -> None:
    """README's `python -m subscribers.examples.ccxt_carry --network local --once`
    (NATS_URL from the environment) prints every market by |annualized funding|, with
    the side that earns it, and exits 0."""
    python, *args = shlex.split(_readme_block("sh"))
    assert [python, *args] == ["python", *_carry("--once")[1:]]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        env={**os.environ, "NATS_URL": stack.nats_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    header, *rows = out.decode().splitlines()
    assert header.startswith("Drift funding carry (local) at 20")
    assert header.endswith(": 3 markets, best first")
    assert sorted(row.split()[0] for row in rows) == [
        "BTC/USDC:USDC",
        "ETH/USDC:USDC",
        "SOL/USDC:USDC",
    ]
    annual = [float(row.split()[1]) for row in rows]
    assert [abs(a) for a in annual] == sorted((abs(a) for a in annual), reverse=True)
    for row, pct in zip(rows, annual, strict=True):
        side = "shorts earn" if pct > 0 else "longs earn" if pct < 0 else "nobody earns"
        assert side in row
        assert "%/1h, settles 20" in row


async def test_carry_example_says_one_line_when_nats_is_unreachable() -> None:
    """No NATS: one clear line on stderr, nothing on stdout, exit 1, within --timeout."""
    url = f"nats://127.0.0.1:{free_port()}"
    proc = await asyncio.create_subprocess_exec(
        *_carry("--once", "--timeout", "500"),
        env={**os.environ, "NATS_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert out == b""
    assert err.decode().splitlines() == [
        f"ccxt_carry: drift: no NATS connection to {url} within 500 ms"
    ]


@MODULE_LOOP
async def test_carry_example_stops_cleanly_on_ctrl_c(stack: Stack) -> None:
    """Running on (no --once), Ctrl-C stops it: exit 130, no traceback."""
    proc = await asyncio.create_subprocess_exec(
        *_carry("--every", "0.1"),
        env={**os.environ, "NATS_URL": stack.nats_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert first.startswith(b"Drift funding carry (local)")
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130
    assert b"Traceback" not in err, err.decode()
