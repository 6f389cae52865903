"""Golden vectors, oracle accounts: `streamer.oracles.decode_oracle` reads any account
bytes of every oracle source as the official SDK's oracle clients do (price,
confidence, slot, sequence id, TWAP fields), or fails where they fail."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from streamer.math.types import OraclePriceData
from streamer.oracles import SUPPORTED_SOURCES, OracleDecodeError, decode_oracle
from tests.drift_widths import full_width
from tests.golden import Case, check
from tests.sdk_reference import Call, SdkError, SdkReference
from tests.test_golden_oracle import GOLDEN

_SWB_SIZE = 3208
_SWB_RESULT = 2264


def _exponent(draw: DrawFn) -> int:
    """Pyth's exponents, and any up to where the program's 10**|e| overflows u128 (38):
    past that the program refuses the oracle and so do we (the last test)."""
    return draw(
        st.one_of(st.integers(-12, -4), st.sampled_from([-8, -8, -5, 0, 3]), st.integers(-38, 38))
    )


def _price(draw: DrawFn) -> int:
    return draw(st.one_of(st.integers(1, 10**14), full_width("i64")))


@st.composite
def lazer(draw: DrawFn) -> bytes:
    return bytes(8) + struct.pack(
        "<qQQi4xQ",
        _price(draw),
        draw(full_width("u64")),
        draw(full_width("u64")),
        _exponent(draw),
        draw(st.one_of(st.integers(0, 10**10), full_width("u64"))),
    )


@st.composite
def pull(draw: DrawFn) -> bytes:
    level = draw(
        st.sampled_from([b"\x01", b"\x00\x05", b"\x00\x00", bytes([draw(st.integers(2, 255))])])
    )
    return (
        bytes(8)
        + draw(st.binary(min_size=32, max_size=32))
        + level
        + bytes(32)
        + struct.pack(
            "<qQiqqqQQ",
            _price(draw),
            draw(st.one_of(st.integers(0, 10**10), full_width("u64"))),
            _exponent(draw),
            draw(full_width("i64")),
            draw(full_width("i64")),
            draw(full_width("i64")),
            draw(full_width("u64")),
            draw(full_width("u64")),
        )
    )


@st.composite
def prelaunch(draw: DrawFn) -> bytes:
    fields = [draw(full_width("i64")), draw(full_width("i64"))]
    fields += [draw(full_width("u64")) for _ in range(3)]
    return bytes(8) + struct.pack("<qqQQQH", *fields, draw(full_width("u16"))) + bytes(70)


@st.composite
def switchboard(draw: DrawFn) -> bytes:
    data = bytearray(_SWB_SIZE)
    for i in range(draw(st.integers(0, 32))):
        at = 8 + 64 * i + 40
        data[at : at + 8] = draw(full_width("u64")).to_bytes(8, "little")
    for offset in (0, 48):  # result.value and result.range (i128)
        value = draw(st.one_of(st.integers(0, 10**30), full_width("i128")))
        data[_SWB_RESULT + offset : _SWB_RESULT + offset + 16] = value.to_bytes(
            16, "little", signed=True
        )
    return bytes(data)


BUILDERS = {
    "Lazer": lazer(),
    "Pull": pull(),
    "Prelaunch": prelaunch(),
    "Switchboard": switchboard(),
}


def _builder(source: str) -> st.SearchStrategy[bytes]:
    if source.startswith("PythLazer"):
        return BUILDERS["Lazer"]
    if "Pull" in source:
        return BUILDERS["Pull"]
    if source == "Prelaunch":
        return BUILDERS["Prelaunch"]
    if source == "SwitchboardOnDemand":
        return BUILDERS["Switchboard"]
    return st.binary(max_size=64)


def _reading(value: OraclePriceData) -> dict[str, Any]:
    """Our reading with the SDK's field names, absent fields left out as the SDK does."""
    out: dict[str, Any] = {
        "price": value.price,
        "slot": value.slot,
        "confidence": value.confidence,
        "hasSufficientNumberOfDataPoints": value.has_sufficient_number_of_data_points,
    }
    for ours, theirs in (
        ("twap", "twap"),
        ("twap_confidence", "twapConfidence"),
        ("max_price", "maxPrice"),
        ("sequence_id", "sequenceId"),
    ):
        if getattr(value, ours) is not None:
            out[theirs] = getattr(value, ours)
    return out


@GOLDEN
@given(data=st.data(), source=st.sampled_from(sorted(SUPPORTED_SOURCES)))
def test_oracle_accounts_read_as_the_sdk_reads_them(
    sdk: SdkReference, data: st.DataObject, source: str
) -> None:
    """2,000 drawn oracle accounts of every supported source (any exponent, 1K/1M and
    stable-coin scaling, Pyth verification levels, Switchboard submissions; trailing
    bytes too): the reading, or the failure, is the SDK's."""
    raw = data.draw(_builder(source))
    if data.draw(st.booleans()):
        raw += data.draw(st.binary(max_size=16))
    encoded = base64.b64encode(raw).decode()
    check(
        sdk,
        [
            Case(
                f"decodeOracle({source})",
                Call("decodeOracle", source, encoded),
                lambda: _reading(decode_oracle(source, raw)),
                inputs={"source": source, "bytes": encoded},
            )
        ],
    )


@GOLDEN
@given(data=st.data(), source=st.sampled_from(sorted(SUPPORTED_SOURCES - {"QuoteAsset"})))
def test_cut_short_oracle_accounts_are_refused(
    sdk: SdkReference, data: st.DataObject, source: str
) -> None:
    """An account shorter than its layout is refused with OracleDecodeError. The SDK
    fails on some such accounts and reads the missing bytes of 64-bit fields as zeros on
    others (borsh slices past the end); we never publish such a reading."""
    raw = data.draw(_builder(source))
    raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    with pytest.raises(OracleDecodeError):
        decode_oracle(source, raw)
    outcome = sdk.call("decodeOracle", source, base64.b64encode(raw).decode())
    assert isinstance(outcome, SdkError | dict)


@given(
    source=st.sampled_from(sorted(s for s in SUPPORTED_SOURCES if s.startswith("Pyth"))),
    exponent=full_width("i32").filter(lambda e: abs(e) > 38),
)
@settings(max_examples=200, deadline=None)
def test_an_exponent_past_38_is_refused(source: str, exponent: int) -> None:
    """An exponent whose 10**|e| overflows the program's u128 is refused at once: the
    program cannot use such an oracle; the SDK reads a price of 0 for a small one and
    computes the power for ever for a 32-bit one."""
    raw = bytes(8) + struct.pack("<qQQi4xQ", 1, 0, 0, exponent, 0)
    if "Pull" in source:
        raw = (
            bytes(8 + 32)
            + b"\x01"
            + bytes(32)
            + struct.pack("<qQiqqqQQ", 1, 0, exponent, 0, 0, 0, 0, 0)
        )
    with pytest.raises(OracleDecodeError, match="out of range"):
        decode_oracle(source, raw)
