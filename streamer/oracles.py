"""Oracle accounts read as the official SDK's oracle clients read them.

One function per oracle program (`PythLazerClient`, `PythPullClient`,
`PrelaunchOracleClient`, `SwitchboardOnDemandClient`, `QuoteAssetOracleClient` of
`@drift-labs/sdk`), integer math only: price and confidence scaled to PRICE_PRECISION
with truncating division, 1K/1M sources multiplied in, stable coins snapped to 1 within
the confidence (at most 5 bps). driftpy's decoders go through floats and leave Pyth
pull confidences unscaled, so the streamer does not use them for anything it publishes.

A market's price depends on the oracle account *and* the market's oracle source (BONK
spot and 1MBONK-PERP read the same account at scales a million apart), so a reading is
always `decode_oracle(source, data)` of one account's bytes.
"""

from __future__ import annotations

import struct

from streamer.math.constants import PRICE_PRECISION, QUOTE_PRECISION
from streamer.math.safe_math import MathError, pow10, safe_div
from streamer.math.types import OraclePriceData

__all__ = ["SUPPORTED_SOURCES", "OracleDecodeError", "decode_oracle", "oracle_multiple"]

_LAZER = struct.Struct("<8xqQQi4xQ")  # price, publish_time, posted_slot, exponent, conf
_PRELAUNCH = struct.Struct("<8xqqQQQH70x")  # price, max_price, conf, slot, amm slot, market
_PULL_MESSAGE = struct.Struct("<32xqQiqqqQQ")  # after the verification level
_SWB_SUBMISSIONS = 32
_SWB_SUBMISSION_SIZE = 64  # oracle pubkey, slot, landed_at (u64 at +40), value (i128)
_SWB_RESULT_OFFSET = 2264  # PullFeedAccountData.result (the SDK's switchboard IDL)
_SWB_SIZE = 3208  # the whole PullFeedAccountData, which the SDK's decoder reads
_SWB_PRECISION = 10 ** (18 - 6)
_FIVE_BPS = 500
# The program's 10u128.pow(|exponent|) overflows past 38; the SDK's BN pow would run for
# ever on a 32-bit exponent. No real feed is near either.
_MAX_EXPONENT = 38
_QUOTE_ASSET = OraclePriceData(price=PRICE_PRECISION, slot=0, confidence=1)

SUPPORTED_SOURCES = frozenset(
    {
        "PythLazer",
        "PythLazer1K",
        "PythLazer1M",
        "PythLazerStableCoin",
        "PythPull",
        "Pyth1KPull",
        "Pyth1MPull",
        "PythStableCoinPull",
        "Prelaunch",
        "SwitchboardOnDemand",
        "QuoteAsset",
    }
)


class OracleDecodeError(ValueError):
    """The bytes are not an oracle account of the source (or the source is unsupported)."""


def oracle_multiple(source: str) -> int:
    """How many base units one quoted price covers: 1, 1_000 (1K) or 1_000_000 (1M)."""
    if "1M" in source:
        return 1_000_000
    if "1K" in source:
        return 1_000
    return 1


def _convert_pyth_price(price: int, exponent: int, multiple: int) -> int:
    """The SDK's `convertPythPrice`: price * 1e6 / (10**|exponent| / multiple)."""
    if abs(exponent) > _MAX_EXPONENT:
        raise OracleDecodeError(f"exponent {exponent} is out of range (|e| <= {_MAX_EXPONENT})")
    precision = safe_div(pow10(abs(exponent)), multiple)
    return safe_div(price * PRICE_PRECISION, precision)


def _stable_coin_price(price: int, confidence: int) -> int:
    if abs(price - QUOTE_PRECISION) < min(confidence, _FIVE_BPS):
        return QUOTE_PRECISION
    return price


def _pyth(
    price: int, conf: int, exponent: int, slot: int, sequence_id: int, source: str
) -> OraclePriceData:
    multiple = oracle_multiple(source)
    confidence = _convert_pyth_price(conf, exponent, multiple)
    value = _convert_pyth_price(price, exponent, multiple)
    if "StableCoin" in source:
        value = _stable_coin_price(value, confidence)
    twap = _convert_pyth_price(price, exponent, multiple)
    return OraclePriceData(
        price=value,
        slot=slot,
        confidence=confidence,
        twap=twap,
        twap_confidence=twap,  # sic: the SDK reports the price here too
        sequence_id=sequence_id,
    )


def _unpack(layout: struct.Struct, data: bytes, offset: int, what: str) -> tuple[int, ...]:
    if len(data) < offset + layout.size:
        raise OracleDecodeError(f"{what}: {len(data)} bytes is too short")
    return layout.unpack_from(data, offset)


def _pyth_lazer(data: bytes, source: str) -> OraclePriceData:
    price, publish_time, posted_slot, exponent, conf = _unpack(_LAZER, data, 0, source)
    return _pyth(price, conf, exponent, posted_slot, publish_time, source)


def _pyth_pull(data: bytes, source: str) -> OraclePriceData:
    offset = 8 + 32  # discriminator, write authority
    if len(data) <= offset:
        raise OracleDecodeError(f"{source}: {len(data)} bytes is too short")
    level = data[offset]
    if level == 0:  # VerificationLevel::Partial { num_signatures: u8 }
        offset += 2
    elif level == 1:  # VerificationLevel::Full
        offset += 1
    else:
        raise OracleDecodeError(f"{source}: unknown verification level {level}")
    price, conf, exponent, publish_time, _, _, _, posted_slot = _unpack(
        _PULL_MESSAGE, data, offset, source
    )
    return _pyth(price, conf, exponent, posted_slot, publish_time, source)


def _prelaunch(data: bytes) -> OraclePriceData:
    price, max_price, conf, _, amm_slot, _ = _unpack(_PRELAUNCH, data, 0, "Prelaunch")
    return OraclePriceData(price=price, slot=amm_slot, confidence=conf, max_price=max_price)


def _switchboard_on_demand(data: bytes) -> OraclePriceData:
    end = _SWB_RESULT_OFFSET + 64
    if len(data) < _SWB_SIZE:
        raise OracleDecodeError(f"SwitchboardOnDemand: {len(data)} bytes is too short")
    landed_at = 0
    for i in range(_SWB_SUBMISSIONS):
        at = 8 + i * _SWB_SUBMISSION_SIZE + 40
        landed_at = max(landed_at, int.from_bytes(data[at : at + 8], "little"))
    value = int.from_bytes(
        data[_SWB_RESULT_OFFSET : _SWB_RESULT_OFFSET + 16], "little", signed=True
    )
    range_ = int.from_bytes(data[_SWB_RESULT_OFFSET + 48 : end], "little", signed=True)
    return OraclePriceData(
        price=safe_div(value, _SWB_PRECISION),
        slot=landed_at,
        confidence=safe_div(range_, _SWB_PRECISION),
    )


def decode_oracle(source: str, data: bytes) -> OraclePriceData:
    """The SDK's reading of an oracle account for a market with this oracle source.

    OracleDecodeError for bytes that do not fit the source, an unsupported source, or a
    reading the SDK's integer math cannot produce (an exponent too small for the 1K/1M
    multiple divides by zero there; one past 38 overflows the program's u128).
    """
    try:
        if source == "QuoteAsset":
            return _QUOTE_ASSET
        if source.startswith("PythLazer"):
            return _pyth_lazer(data, source)
        if source in ("PythPull", "Pyth1KPull", "Pyth1MPull", "PythStableCoinPull"):
            return _pyth_pull(data, source)
        if source == "Prelaunch":
            return _prelaunch(data)
        if source == "SwitchboardOnDemand":
            return _switchboard_on_demand(data)
    except MathError as exc:
        raise OracleDecodeError(f"{source}: {exc}") from exc
    raise OracleDecodeError(f"unsupported oracle source {source!r}")
