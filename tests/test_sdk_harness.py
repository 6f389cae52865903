"""The official SDK reference harness: protocol, encodings, clock pinning, decoders."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import time
from pathlib import Path

import pytest
from driftpy.types import ContractTier, MarketStatus, OracleSource

from localnet import codec
from localnet.oracles import encode_oracle
from streamer.math.types import (
    Amm,
    HistoricalOracleData,
    OracleGuardRails,
    OraclePriceData,
    PerpMarket,
)
from tests.sdk_reference import (
    HARNESS,
    Call,
    SdkError,
    SdkHarnessError,
    SdkReference,
    SdkTimeout,
    bn,
    decode,
    enum,
    mm_oracle_data,
    state,
)

T0 = 1_700_000_000
RAILS = OracleGuardRails(
    mark_oracle_percent_divergence=100_000,
    oracle_twap5min_percent_divergence=500_000,
    slots_before_stale_for_amm=10,
    slots_before_stale_for_margin=120,
    confidence_interval_max_size=20_000,
    too_volatile_ratio=5,
)


def spread_amm(twap_ts: int) -> Amm:
    """An AMM whose spread depends on how long ago its oracle TWAP was updated."""
    return Amm(
        historical_oracle_data=HistoricalOracleData(
            last_oracle_price_twap=95_000_000,
            last_oracle_price_twap5min=97_000_000,
            last_oracle_price_twap_ts=twap_ts,
        ),
        base_asset_reserve=10**12,
        quote_asset_reserve=10**12,
        sqrt_k=10**12,
        peg_multiplier=100_000_000,
        terminal_quote_asset_reserve=10**12,
        funding_period=3600,
        base_spread=500,
        max_spread=100_000,
        curve_update_intensity=100,
        last_oracle_conf_pct=5_000,
        oracle_std=1_000_000,
    )


ORACLE = OraclePriceData(price=100_000_000, slot=300_000_000, confidence=50_000)


def test_version_is_pinned(sdk: SdkReference) -> None:
    """The harness runs @drift-labs/sdk 2.156.0, and says so on its ready line."""
    assert sdk.call("version") == "2.156.0"
    assert sdk.ready["sdk"] == "2.156.0"


@pytest.mark.parametrize("value", [2**64 + 1, 2**127 + 12_345, 2**128 - 1, -(2**127)])
def test_big_integers_round_trip(sdk: SdkReference, value: int) -> None:
    """Integers past 2**64 cross as decimal strings, unchanged both ways."""
    assert sdk.call("getSignedTokenAmount", value, enum("Deposit")) == value
    assert sdk.call("getSignedTokenAmount", value, enum("Borrow")) == -abs(value)


def test_calculate_price_equals_the_hand_computed_integer(sdk: SdkReference) -> None:
    """quote * 1e6 * peg / 1e6 / base, each division truncating toward zero."""
    # 1.1e12 * 1e6 * 25_123_456 / 1e6 / 1e12 = 27_635_801.6
    assert sdk.call("calculatePrice", 10**12, 11 * 10**11, 25_123_456) == 27_635_801
    # -10e6 / 3 = -3_333_333.3: truncated to -3_333_333, where floor gives -3_333_334
    assert sdk.call("calculatePrice", 3, -10, 1_000_000) == -3_333_333
    assert sdk.call("calculatePrice", 0, 10**12, 10**6) == 0


def test_sdk_errors_are_values_and_the_process_lives_on(sdk: SdkReference) -> None:
    """bn.js division by zero and toNumber overflow come back as SdkError; the next call works."""
    amm = spread_amm(T0)
    assert sdk.call("getNewOracleConfPct", amm, ORACLE, 0, T0) == SdkError(
        "Error", "Assertion failed"
    )
    assert sdk.call("convertToNumber", 2**60, 1) == SdkError(
        "Error", "Number can only safely store up to 53 bits"
    )
    assert sdk.call("squareRootBN", -4) == SdkError(
        "Error", "Sqrt only works on non-negtiave inputs"
    )
    assert sdk.call("convertToNumber", 123_456_789, 10**6) == 123.456789
    results = sdk.batch(
        [
            Call("squareRootBN", 16),
            Call("getNewOracleConfPct", amm, ORACLE, 0, T0),
            Call("squareRootBN", 81),
        ]
    )
    assert results == [4, SdkError("Error", "Assertion failed"), 9]


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        (
            {"$perpMarket": {"amm": {"base_asset_reserv": "1"}}},
            "unknown field PerpMarket.amm.base_asset_reserv",
        ),
        ({"$perpMarket": {"amm": {"curve_update_intensity": "256"}}}, "256 does not fit u8"),
        ({"$perpMarket": {"amm": {"base_asset_reserve": str(2**128)}}}, "does not fit u128"),
        # 2**60 as a JSON number would reach JS rounded: integers must be strings
        ({"$perpMarket": {"amm": {"base_asset_reserve": float(2**60)}}}, "decimal string"),
        ({"$perpMarket": {"contract_tier": "Speculativ"}}, "unknown variant Speculativ"),
        (
            {"$oracle": {"price": "1", "slot": "1", "confidence": "1", "sequenceid": "1"}},
            "unknown field",
        ),
        ({"$oracle": {"price": "1", "slot": "1"}}, "OraclePriceData.confidence is required"),
        ({"$perpMarkets": {}}, "unknown tag"),
        ({"$bn": "12.5"}, "decimal string"),
    ],
)
def test_mistakes_in_what_we_send_raise(sdk: SdkReference, arg: object, message: str) -> None:
    """A typo or an out-of-width value is a loud SdkHarnessError, never a silent zero."""
    with pytest.raises(SdkHarnessError, match=message):
        sdk.call("calculateSpread", arg, ORACLE)
    assert sdk.call("squareRootBN", 49) == 7  # and the process still answers


def test_unknown_function_raises(sdk: SdkReference) -> None:
    """Only the harness's functions and the SDK's exports can be called."""
    with pytest.raises(SdkHarnessError, match="unknown function calculatePrize"):
        sdk.call("calculatePrize", 1, 2, 3)
    with pytest.raises(SdkHarnessError, match="unknown function constructor"):
        sdk.call("constructor")


def test_now_pins_the_wall_clock(sdk: SdkReference) -> None:
    """calculateSpread without `now` reads the clock: pinned, it answers as for that `now`."""
    amm = spread_amm(T0)
    early = sdk.call("calculateSpread", amm, ORACLE, now=T0 + 1)
    assert early == sdk.call("calculateSpread", amm, ORACLE, now=T0 + 1)
    assert early == sdk.call("calculateSpread", amm, ORACLE, T0 + 1)  # `now` as an argument
    late = sdk.call("calculateSpread", amm, ORACLE, now=T0 + 3600)
    assert late == sdk.call("calculateSpread", amm, ORACLE, T0 + 3600)
    assert (early, late) == ([47_500.0, 47_500.0], [40_000.0, 40_000.0])


def test_the_clock_is_restored_after_a_pinned_call(sdk: SdkReference) -> None:
    """A call without `now` after a pinned one reads the real clock again."""
    twap_ts = int(time.time()) - 30 * 86_400  # any now past twap_ts + 1 h gives the same spread
    amm = spread_amm(twap_ts)
    pinned, unpinned = sdk.batch(
        [
            Call("calculateSpread", amm, ORACLE, now=twap_ts + 1),
            Call("calculateSpread", amm, ORACLE),
        ]
    )
    assert unpinned == sdk.call("calculateSpread", amm, ORACLE, int(time.time()))
    assert (pinned, unpinned) == ([47_500.0, 47_500.0], [40_000.0, 40_000.0])


def test_decode_account_returns_what_localnet_encoded(sdk: SdkReference) -> None:
    """The SDK's own coder reads a localnet PerpMarket: the fields we set, exactly."""
    market = codec.template("PerpMarket")
    market.market_index = 7
    market.amm.base_asset_reserve = 2**100 + 3
    market.amm.last24h_avg_funding_rate = -12_345
    market.amm.mm_oracle_sequence_id = 2**63 + 5
    market.amm.base_spread = 250
    market.amm.oracle_source = OracleSource.PythLazer1M()
    market.contract_tier = ContractTier.HighlySpeculative()
    market.status = MarketStatus.FundingPaused()
    raw = base64.b64encode(codec.build("PerpMarket", market)).decode()
    decoded = sdk.call("decodeAccount", "PerpMarket", raw)
    assert decoded["marketIndex"] == 7
    assert decoded["amm"]["baseAssetReserve"] == 2**100 + 3
    assert decoded["amm"]["last24HAvgFundingRate"] == -12_345
    assert decoded["amm"]["mmOracleSequenceId"] == 2**63 + 5
    assert decoded["amm"]["baseSpread"] == 250
    assert decoded["amm"]["oracleSource"] == "PythLazer1M"
    assert decoded["contractTier"] == "HighlySpeculative"
    assert decoded["status"] == "FundingPaused"
    assert decoded["pubkey"] == "11111111111111111111111111111111"


def test_account_argument_is_decoded_by_the_sdk(sdk: SdkReference) -> None:
    """{"$account": ...} hands the SDK a decoded account, e.g. a real SpotMarket."""
    spot = codec.template("SpotMarket")
    spot.decimals = 6
    spot.deposit_balance = 2_000 * 10**9
    spot.borrow_balance = 500 * 10**9
    spot.cumulative_deposit_interest = 10**10
    spot.cumulative_borrow_interest = 10**10
    raw = base64.b64encode(codec.build("SpotMarket", spot)).decode()
    account = {"$account": {"type": "SpotMarket", "base64": raw}}
    assert sdk.call("calculateUtilization", account) == 250_000  # 25 %, PERCENTAGE_PRECISION


@pytest.mark.parametrize(
    "source",
    [
        "PythLazer",
        "PythLazer1K",
        "PythLazer1M",
        "PythPull",
        "Pyth1MPull",
        "Prelaunch",
        "SwitchboardOnDemand",
    ],
)
def test_decode_oracle_reads_localnet_oracles(sdk: SdkReference, source: str) -> None:
    """The SDK's oracle client for the source reads localnet's account at its price."""
    account = encode_oracle(getattr(OracleSource, source)(), 123_456_789, slot=55, ts=T0)
    data = sdk.call("decodeOracle", source, base64.b64encode(account.data).decode())
    assert data["price"] == 123_456_789
    assert data["hasSufficientNumberOfDataPoints"] is True


def test_decode_oracle_pyth_lazer_fields(sdk: SdkReference) -> None:
    """Pyth Lazer: slot is the posted slot, the sequence id its publish time (microseconds)."""
    account = encode_oracle(OracleSource.PythLazer(), 42_000_000, slot=301_000_000, ts=T0)
    data = sdk.call("decodeOracle", "PythLazer", base64.b64encode(account.data).decode())
    assert (data["price"], data["slot"], data["sequenceId"]) == (
        42_000_000,
        301_000_000,
        T0 * 10**6,
    )
    with pytest.raises(SdkHarnessError, match="unknown variant PythLaser"):
        sdk.call("decodeOracle", "PythLaser", base64.b64encode(account.data).decode())


def mm_market(mm_slot: int, mm_price: int = 100_500_000) -> PerpMarket:
    historical = HistoricalOracleData(
        last_oracle_price_twap=100_000_000, last_oracle_price_twap5min=100_000_000
    )
    amm = Amm(historical_oracle_data=historical, mm_oracle_price=mm_price, mm_oracle_slot=mm_slot)
    return PerpMarket(market_index=3, amm=amm)


def state_bytes(**validity: int) -> str:
    """A localnet-encoded State with these validity guard rails, base64."""
    raw_state = codec.template("State")
    for name, value in validity.items():
        setattr(raw_state.oracle_guard_rails.validity, name, value)
    return base64.b64encode(codec.build("State", raw_state)).decode()


def test_mm_oracle_branches(sdk: SdkReference) -> None:
    """getMMOracleDataForPerpMarket: the MM price when it is newer and close, else the oracle."""
    oracle = OraclePriceData(price=100_000_000, slot=150, confidence=1_000)
    used = sdk.call("getMMOracleDataForPerpMarket", mm_market(160), oracle, RAILS)
    assert mm_oracle_data(used).mm_oracle_used is True
    assert (used["price"], used["slot"], used["isMMOracleActive"]) == (100_500_000, 160, True)
    assert "__harnessExchangeOracle" not in used
    stale = sdk.call("getMMOracleDataForPerpMarket", mm_market(140), oracle, RAILS)
    assert (stale["price"], stale["mmOracleUsed"], stale["isMMOracleActive"]) == (
        100_000_000,
        False,
        True,
    )
    far = sdk.call("getMMOracleDataForPerpMarket", mm_market(160, 102_000_000), oracle, RAILS)
    assert (far["price"], far["mmOracleUsed"]) == (100_000_000, False)
    absent = sdk.call("getMMOracleDataForPerpMarket", mm_market(0), oracle, RAILS)
    assert (absent["mmOracleUsed"], absent["isMMOracleActive"]) == (False, False)
    # a whole State (ours, or real bytes) works as well as its guard rails alone
    assert sdk.call("getMMOracleDataForPerpMarket", mm_market(160), oracle, state(RAILS)) == used
    real_state = {"$account": {"type": "State", "base64": state_bytes()}}
    assert sdk.call("getMMOracleDataForPerpMarket", mm_market(160), oracle, real_state) == used


def test_guard_rails_reach_the_sdk_nested(sdk: SdkReference) -> None:
    """Our flat OracleGuardRails arrive as the State's nested struct (and in a State)."""
    amm = Amm(historical_oracle_data=HistoricalOracleData(last_oracle_price_twap5min=100_000_000))
    oracle = OraclePriceData(price=160_000_000, slot=1, confidence=1)  # 60 % off the 5 min TWAP
    loose = dataclasses.replace(RAILS, oracle_twap5min_percent_divergence=700_000)
    assert sdk.call("isOracleTooDivergent", amm, oracle, RAILS) is True
    assert sdk.call("isOracleTooDivergent", amm, oracle, loose) is False
    decoded = sdk.call("decodeAccount", "State", state_bytes(slots_before_stale_for_amm=12))
    assert decoded["oracleGuardRails"]["validity"]["slotsBeforeStaleForAmm"] == 12
    assert decoded["oracleGuardRails"]["priceDivergence"]["oracleTwap5MinPercentDivergence"] == 0


def test_mm_oracle_slots_compare_as_strings_in_the_sdk(sdk: SdkReference) -> None:
    """The SDK's `oracleData.slot <= mmOracleSlot` compares BNs as decimal strings."""
    oracle = OraclePriceData(price=100_000_000, slot=95, confidence=1_000)
    # 95 <= 100 numerically, but "95" > "100": the SDK keeps the exchange oracle
    result = sdk.call("getMMOracleDataForPerpMarket", mm_market(100), oracle, RAILS)
    assert (result["price"], result["mmOracleUsed"]) == (100_000_000, False)


def test_batch_of_1000_calls(sdk: SdkReference) -> None:
    """One line carries 1000 calls; results come back in order."""
    calls = [Call("calculatePrice", 10**12, 10**12 + i * 10**9, 10**6 + i) for i in range(1000)]
    expected = [(10**12 + i * 10**9) * (10**6 + i) // 10**12 for i in range(1000)]
    assert sdk.batch(calls) == expected


def test_one_process_per_session(sdk: SdkReference) -> None:
    """Every test shares the session's process: it started once."""
    assert sdk.starts == 1
    assert sdk.pid is not None


def test_broken_lines_get_error_replies() -> None:
    """A line that is not a request gets a ProtocolError reply; the next request is answered."""
    lines = [
        "not json",
        '{"calls": []}',
        '{"id": 5, "calls": [{"fn": "squareRootBN", "args": [{"$bn": "9"}]}]}',
    ]
    out = subprocess.run(
        ["node", str(HARNESS)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ready, *replies = (json.loads(line) for line in out.stdout.splitlines())
    assert ready["ready"] is True
    assert [r.get("error", {}).get("type") for r in replies[:2]] == [
        "ProtocolError",
        "ProtocolError",
    ]
    assert replies[2] == {"id": 5, "results": [{"ok": {"$bn": "3"}}]}


def test_js_results_encode_non_finite_numbers() -> None:
    """JS numbers cross tagged, NaN and the infinities as strings; decode() reads them back."""
    script = (
        "const w = require('./wire');"
        "const values = [NaN, Infinity, -Infinity, 1.5, {a: {}}, {b: 1n}];"
        "console.log(JSON.stringify(w.encodeResult(values)));"
    )
    out = subprocess.run(
        ["node", "-e", script],
        cwd=HARNESS.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    wire = json.loads(out.stdout)
    assert wire[:4] == [{"$num": "NaN"}, {"$num": "Infinity"}, {"$num": "-Infinity"}, {"$num": 1.5}]
    values = decode(wire)
    assert values[0] != values[0]  # NaN
    assert values[1:] == [float("inf"), float("-inf"), 1.5, "A", {"b": 1}]


def test_reply_timeout_raises_and_kills(tmp_path: Path) -> None:
    """A process that never replies raises SdkTimeout, and is gone afterwards."""
    script = tmp_path / "silent.js"
    script.write_text("console.log(JSON.stringify({ready: true})); process.stdin.resume();")
    with SdkReference(command=["node", str(script)], reply_timeout=0.5) as ref:
        pid = ref.pid
        with pytest.raises(SdkTimeout, match="timed out waiting for a reply"):
            ref.call("version")
        assert ref.pid is None
        assert pid is not None
        assert not Path(f"/proc/{pid}").exists()


def test_start_timeout_and_early_exit(tmp_path: Path) -> None:
    """No ready line in time is SdkTimeout; a process that exits is SdkHarnessError."""
    silent = tmp_path / "silent.js"
    silent.write_text("process.stdin.resume();")
    with pytest.raises(SdkTimeout, match="waiting for a reply"):
        SdkReference(command=["node", str(silent)], start_timeout=0.5).start()
    dying = tmp_path / "dying.js"
    dying.write_text("console.error('boom'); process.exit(3);")
    with pytest.raises(SdkHarnessError, match=r"exited \(3\)[\s\S]*boom"):
        SdkReference(command=["node", str(dying)]).start()


def test_closed_reference_is_not_reopened() -> None:
    """After close() a reference refuses calls instead of starting another process."""
    ref = SdkReference()
    ref.close()
    with pytest.raises(SdkHarnessError, match="closed"):
        ref.call("version")


def test_bn_refuses_non_integers() -> None:
    """bn() takes ints only: a float or bool would silently change the value."""
    assert bn(-(2**100)) == {"$bn": str(-(2**100))}
    for bad in (1.0, True):
        with pytest.raises(TypeError):
            bn(bad)  # type: ignore[arg-type]
