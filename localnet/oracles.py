"""Oracle accounts for every oracle source the Drift mainnet markets use.

Each encoder picks the raw oracle fields so that driftpy's own decoder
(`driftpy.accounts.oracle.decode_oracle`) returns *exactly* the requested price in
PRICE_PRECISION (1e6): driftpy decodes some sources through floats, so the encoder
checks the round trip and nudges the raw value by a unit when a float rounds it away.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass

from anchorpy.program.common import NamedInstruction
from driftpy.accounts.oracle import SWB_ON_DEMAND_CODER, decode_oracle
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.types import OracleSource
from solders.pubkey import Pubkey

from localnet import codec
from localnet.errors import EncodingError

__all__ = [
    "PYTH_RECEIVER_PROGRAM",
    "SWITCHBOARD_ON_DEMAND_PROGRAM",
    "OracleAccount",
    "encode_oracle",
    "multiplier",
    "oracle_price",
    "sequence_id",
    "source_name",
]

PYTH_RECEIVER_PROGRAM = Pubkey.from_string("rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ")
SWITCHBOARD_ON_DEMAND_PROGRAM = Pubkey.from_string("SBondMDrcV3K4kxZR1HNVT7osZxAHVHgYXL5Ze1oMUv")
_RAW_PER_PRICE = 100  # raw Pyth units per PRICE_PRECISION unit at the chosen exponent
_NUDGES = (0, 1, -1, 2, -2, 5, 10, 20, 50, 99)
_SWB_PRECISION = 10**12  # driftpy: price = value // SWB_PRECISION
_PRICE_UPDATE_V2 = hashlib.sha256(b"account:PriceUpdateV2").digest()[:8]
_SWB_PULL_FEED = SWB_ON_DEMAND_CODER.accounts.acc_name_to_discriminator["PullFeedAccountData"]


@dataclass(frozen=True, slots=True)
class OracleAccount:
    """Encoded oracle account: its bytes and the program that owns it."""

    data: bytes
    owner: Pubkey


def source_name(source: object) -> str:
    """`OracleSource.PythLazer1K()` -> `PythLazer1K`."""
    text = str(source)
    return text.removeprefix("OracleSource.").removesuffix("()")


def multiplier(source: object) -> int:
    """How many base units one price covers: 1, 1_000 (1K) or 1_000_000 (1M)."""
    name = source_name(source)
    if "1M" in name:
        return 1_000_000
    if "1K" in name:
        return 1_000
    return 1


def sequence_id(source: object, publish_us: int) -> int | None:
    """The sequence id the SDK's oracle client reads: the Pyth publish time
    (microseconds for Pyth Lazer, seconds for Pyth pull); None for other sources."""
    name = source_name(source)
    if name.startswith("PythLazer"):
        return publish_us
    if "Pull" in name:
        return publish_us // 1_000_000
    return None


def _pyth_lazer(raw: int, exponent: int, slot: int, publish_us: int) -> bytes:
    o = codec.template("PythLazerOracle")
    o.price = raw
    o.exponent = exponent
    o.conf = max(abs(raw) // 100_000, 1)
    o.posted_slot = slot
    o.publish_time = publish_us  # microseconds, as Pyth Lazer posts it
    return codec.build("PythLazerOracle", o)


def _pyth_pull(raw: int, exponent: int, slot: int, publish_us: int) -> bytes:
    # PriceUpdateV2 is not in the Drift IDL: lay it out as the Pyth receiver does.
    conf = max(abs(raw) // 100_000, 1)
    ts = publish_us // 1_000_000  # seconds
    return (
        _PRICE_UPDATE_V2
        + bytes(32)  # write_authority
        + b"\x01"  # VerificationLevel::Full
        + b"\x11" * 32  # feed_id
        + struct.pack("<qQiqqqQ", raw, conf, exponent, ts, ts - 1, raw, conf)
        + struct.pack("<Q", slot)
    )


def _prelaunch(raw: int, slot: int, market_index: int) -> bytes:
    o = codec.template("PrelaunchOracle")
    o.price = raw
    o.max_price = max(raw * 10, 1)
    o.confidence = max(abs(raw) // 1_000, 1)
    o.last_update_slot = slot
    o.amm_last_update_slot = slot
    o.perp_market_index = market_index
    return codec.build("PrelaunchOracle", o)


@functools.cache
def _switchboard_layout() -> tuple[bytes, dict[str, int]]:
    """An encoded PullFeedAccountData and the byte offsets of the result fields set.

    Encoding the whole feed through the coder takes milliseconds; it is done once, with
    a distinct marker in each field to find where it lands, then values are packed in.
    """
    o = SWB_ON_DEMAND_CODER.accounts.decode(_SWB_PULL_FEED + b"\0" * 4096)
    o.result.num_samples = 1
    markers = {"value": 0x51, "mean": 0x52, "range": 0x53, "slot": 0x54}
    for name, mark in markers.items():
        setattr(o.result, name, int.from_bytes(bytes([mark]) * 8, "little"))
    data = bytes(
        SWB_ON_DEMAND_CODER.accounts.build(NamedInstruction(data=o, name="PullFeedAccountData"))
    )
    offsets = {name: data.index(bytes([mark]) * 8) for name, mark in markers.items()}
    for name in markers:
        setattr(o.result, name, 0)
    blank = bytes(
        SWB_ON_DEMAND_CODER.accounts.build(NamedInstruction(data=o, name="PullFeedAccountData"))
    )
    return blank, offsets


def _switchboard(raw: int, slot: int) -> bytes:
    blank, at = _switchboard_layout()
    data = bytearray(blank)
    for name, value in (
        ("value", raw * _SWB_PRECISION),
        ("mean", raw * _SWB_PRECISION),
        ("range", max(abs(raw) // 1_000, 1) * _SWB_PRECISION),
    ):
        data[at[name] : at[name] + 16] = value.to_bytes(16, "little", signed=True)
    struct.pack_into("<Q", data, at["slot"], slot)
    return bytes(data)


def _encoder(name: str, market_index: int) -> tuple[Callable[[int, int, int], bytes], Pubkey]:
    """(raw, slot, publish_us) -> bytes for the source, and the owning program.

    For the Pyth sources the exponent is chosen so that raw == price (1e6) * 1K/1M
    scaling cancels out: driftpy divides by 10**|exp| and multiplies by 1e6 * multiple.
    """
    mult = multiplier(name)
    # Two more digits than PRICE_PRECISION (exponent -8, as Pyth posts most feeds), and
    # three or six more for the 1K/1M markets: raw ~= price * 100.
    exponent = -8 - (len(str(mult)) - 1)
    if name.startswith("PythLazer"):
        return (lambda raw, slot, us: _pyth_lazer(raw, exponent, slot, us)), DRIFT_PROGRAM_ID
    if "Pull" in name:
        return (lambda raw, slot, us: _pyth_pull(raw, exponent, slot, us)), PYTH_RECEIVER_PROGRAM
    if name == "Prelaunch":
        return (lambda raw, slot, us: _prelaunch(raw, slot, market_index)), DRIFT_PROGRAM_ID
    if name == "SwitchboardOnDemand":
        return (lambda raw, slot, us: _switchboard(raw, slot)), SWITCHBOARD_ON_DEMAND_PROGRAM
    raise EncodingError(f"localnet cannot encode oracle source {name}")


def oracle_price(data: bytes, source: OracleSource) -> int:
    """The price driftpy reads from an oracle account (PRICE_PRECISION)."""
    return int(decode_oracle(data, source).price)


def encode_oracle(
    source: OracleSource,
    price: int,
    *,
    slot: int,
    ts: int,
    market_index: int = 0,
    publish_us: int | None = None,
) -> OracleAccount:
    """Encode an oracle account that driftpy decodes to exactly `price` (1e6 precision).

    `publish_us` is the publish time in microseconds (default `ts` seconds): Pyth
    sources carry it as their sequence id (see `sequence_id`).
    """
    publish = ts * 1_000_000 if publish_us is None else publish_us
    if price <= 0:
        raise EncodingError(f"oracle price must be positive, got {price}")
    name = source_name(source)
    encode, owner = _encoder(name, market_index)
    scaled = name.startswith("Pyth")
    base = price * _RAW_PER_PRICE if scaled else price
    # driftpy decodes Pyth prices through floats and truncates, so raw == price * 100
    # can land a unit low; one of the nearby raw values decodes exactly.
    if not scaled:  # Prelaunch and Switchboard decode with integer arithmetic: exact
        return OracleAccount(encode(base, slot, publish), owner)
    for delta in _NUDGES:
        data = encode(base + delta, slot, publish)
        if oracle_price(data, source) == price:
            return OracleAccount(data, owner)
    raise EncodingError(f"no {name} encoding decodes to exactly {price}")
