"""Our PerpMarket and SpotMarket decoder against driftpy's IDL coder (anchorpy), field by
field: random accounts, bytes both refuse, every account of localnet's presets and of
the mainnet fixtures, and the market states computed from either decode."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from functools import reduce
from typing import Any

import pytest
from construct import ConstructError
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn
from solders.pubkey import Pubkey

from localnet import codec
from localnet.ledger import Ledger
from localnet.markets import DriftMarkets
from localnet.presets import PRESETS, preset
from streamer.account_decode import PerpAccount, SpotAccount, decode_perp, decode_spot
from streamer.decode import OracleReading, market_state, spot_state, variant
from streamer.decoders import DECODERS
from streamer.errors import SourceError
from streamer.idl import SIZES, decode_account, discriminator
from streamer.layout import LAYOUTS, Reader, size_of
from streamer.math.types import OracleGuardRails
from streamer.oracles import decode_oracle
from tests.mainnet_fixtures import (
    KINDS,
    load_accounts,
    market_oracle_pairs,
    market_slot,
    oracle_reading,
)

DECODE: dict[str, Callable[[bytes], PerpAccount | SpotAccount]] = {
    "PerpMarket": decode_perp,
    "SpotMarket": decode_spot,
}
MARKET_KINDS = tuple(DECODE)
ENUMS = {
    kind: [(path, f) for path, f in LAYOUTS[kind].fields.items() if f.variants]
    for kind in MARKET_KINDS
}
RAILS = OracleGuardRails()


def _leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every value of a decoded account by dotted path (`market.amm.sqrt_k`), `full` aside."""
    for f in dataclasses.fields(value):
        inner = getattr(value, f.name)
        if f.name == "full":
            continue
        if dataclasses.is_dataclass(inner):
            yield from _leaves(inner, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", inner


def _anchorpy_path(kind: str, path: str) -> str:
    """Where anchorpy keeps one of our fields: `market.amm.sqrt_k` -> `amm.sqrt_k`;
    a perp account's extras are the AMM's (`oracle` -> `amm.oracle`), but its name."""
    if path == "market.insurance_fund_total_factor":
        return "insurance_fund.total_factor"
    if path.startswith("market."):
        return path.removeprefix("market.")
    return path if kind == "SpotMarket" or path == "name" else f"amm.{path}"


def _plain(value: Any) -> Any:
    """An anchorpy value as ours gives it: base58 keys, bytes, ints, variant names."""
    if isinstance(value, Pubkey):
        return str(value)
    if isinstance(value, list):
        return bytes(value)
    if isinstance(value, int):
        return value
    return variant(value)


def _differences(kind: str, data: bytes) -> dict[str, tuple[Any, Any]]:
    """Our value and anchorpy's of every field we decode, where they differ (or differ in
    type); the number of fields compared is checked too."""
    ours = dict(_leaves(DECODE[kind](data)))
    theirs = codec.decode(data)
    assert len(ours) >= (50 if kind == "PerpMarket" else 15)
    out = {}
    for path, value in ours.items():
        expected = _plain(reduce(getattr, _anchorpy_path(kind, path).split("."), theirs))
        if (type(value), value) != (type(expected), expected):
            out[path] = (value, expected)
    return out


@st.composite
def accounts(draw: DrawFn, kind: str) -> bytes:
    """Random bytes of the account's size behind its discriminator, a valid tag in every
    enum field, and sometimes bytes beyond the size (both decoders ignore them)."""
    body = st.binary(min_size=SIZES[kind] - 8, max_size=SIZES[kind] - 8)
    noise = st.randoms(use_true_random=False).map(lambda r: r.randbytes(SIZES[kind] - 8))
    data = bytearray(discriminator(kind) + draw(st.one_of(body, noise)))
    for _, f in ENUMS[kind]:
        data[f.offset] = draw(st.integers(0, len(f.variants) - 1))
    return bytes(data) + draw(st.binary(max_size=16))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_accounts_decode_as_anchorpy_decodes_them(data: st.DataObject) -> None:
    """Any bytes anchorpy decodes: every field of ours is anchorpy's (exact integers,
    base58 keys, variant names), and the anchorpy path (DRIFT_DECODER=anchorpy) gives an
    equal account."""
    kind = data.draw(st.sampled_from(MARKET_KINDS))
    raw = data.draw(accounts(kind))
    assert _differences(kind, raw) == {}
    anchorpy = DECODERS["anchorpy"]
    assert DECODE[kind](raw) == (anchorpy.perp if kind == "PerpMarket" else anchorpy.spot)(raw)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_tag_no_variant_has_is_refused_by_both(data: st.DataObject) -> None:
    """An invalid tag in any enum field (read or not): anchorpy raises, ours raises
    SourceError(kind="decode") naming the field."""
    kind = data.draw(st.sampled_from(MARKET_KINDS))
    raw = bytearray(data.draw(accounts(kind)))
    path, f = data.draw(st.sampled_from(ENUMS[kind]))
    raw[f.offset] = data.draw(st.integers(len(f.variants), 255))
    with pytest.raises(IndexError):
        codec.decode(bytes(raw))
    with pytest.raises(SourceError, match=f"{path}: no variant") as refused:
        DECODE[kind](bytes(raw))
    assert refused.value.kind == "decode"


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_short_buffer_is_refused_by_both(data: st.DataObject) -> None:
    """An account truncated anywhere: anchorpy's coder raises, and so do ours and
    `decode_account` (SourceError, kind "decode")."""
    kind = data.draw(st.sampled_from(MARKET_KINDS))
    raw = data.draw(accounts(kind))[: data.draw(st.integers(0, SIZES[kind] - 1))]
    with pytest.raises(ConstructError):
        codec.decode(raw)
    for decode in (DECODE[kind], lambda b: decode_account(kind, b)):
        with pytest.raises(SourceError, match=f"not a {kind} account") as refused:
            decode(raw)
        assert refused.value.kind == "decode"


@pytest.mark.parametrize("kind", MARKET_KINDS)
def test_another_accounts_discriminator_is_refused(kind: str) -> None:
    """The other market kind's bytes, or State's discriminator in front: SourceError."""
    other = "SpotMarket" if kind == "PerpMarket" else "PerpMarket"
    for data in (discriminator(other) + bytes(1300), discriminator("State") + bytes(1300)):
        with pytest.raises(SourceError, match=f"not a {kind} account"):
            DECODE[kind](data)


def _localnet_accounts() -> list[tuple[str, bytes, OracleReading | None]]:
    """Every perp and spot market of every localnet preset, with its oracle's reading."""
    out = []
    for name in PRESETS:
        ledger = Ledger()
        markets = DriftMarkets(ledger, preset(name), now=1_796_000_000)
        views = [("PerpMarket", v) for v in markets.perps] + [
            ("SpotMarket", v) for v in markets.spots
        ]
        for kind, view in views:
            account, oracle = ledger.get(str(view.address)), ledger.get(str(view.spec.oracle))
            assert account is not None
            reading = None
            if oracle is not None:
                source = variant(view.spec.oracle_source)
                reading = OracleReading(decode_oracle(source, oracle.data), oracle.slot)
            out.append((kind, account.data, reading))
    return out


LOCALNET = _localnet_accounts()
FIXTURES = market_oracle_pairs(load_accounts())


def test_every_preset_and_fixture_account_decodes_as_anchorpy_decodes_it() -> None:
    """localnet's presets (both kinds, every market) and the real mainnet accounts in
    tests/fixtures/mainnet: field by field equal to anchorpy's decode."""
    cases = [(k, d) for k, d, _ in LOCALNET] + [(p.market.kind, p.market.data) for p in FIXTURES]
    assert {k for k, _ in cases} == set(MARKET_KINDS)
    assert len([k for k, d in cases if k == "PerpMarket"]) > 85
    problems = {i: d for i, (kind, data) in enumerate(cases) if (d := _differences(kind, data))}
    assert problems == {}


def _now(account: PerpAccount | SpotAccount) -> int:
    """Shortly after the market's newest TWAP or funding stamp (estimates get computed)."""
    if isinstance(account, SpotAccount):
        return 0
    amm = account.market.amm
    stamps = (amm.last_mark_price_twap_ts, amm.last_funding_rate_ts)
    return max(*stamps, amm.historical_oracle_data.last_oracle_price_twap_ts) + 30


def test_published_states_are_the_same_from_either_decode() -> None:
    """`market_state` / `spot_state` of every preset and fixture account: from our decode
    equal to those from anchorpy's (DRIFT_DECODER=anchorpy), most with prices."""
    cases = [(k, d, r, 7) for k, d, r in LOCALNET] + [
        (p.market.kind, p.market.data, oracle_reading(p), market_slot(p)) for p in FIXTURES
    ]
    anchorpy = DECODERS["anchorpy"]
    priced = 0
    for kind, data, reading, slot in cases:
        if kind == "PerpMarket":
            ours = decode_perp(data)
            now = _now(ours)
            state = market_state(ours, slot, reading, RAILS, now)
            assert state == market_state(anchorpy.perp(data), slot, reading, RAILS, now)
            priced += state.predicted_long is not None
        else:
            spot = decode_spot(data)
            state_spot = spot_state(spot, slot, reading)
            assert state_spot == spot_state(anchorpy.spot(data), slot, reading)
            priced += state_spot.deposit_rate is not None
    assert priced > len(cases) // 2


def test_full_is_anchorpys_decode_of_the_same_bytes() -> None:
    """`full()` of our decode is driftpy's complete object: it encodes back to the bytes."""
    for kind, data, _ in LOCALNET[:3] + LOCALNET[-3:]:
        full = DECODE[kind](data).full()
        assert codec.build(kind, full) == data[: SIZES[kind]]


def test_the_layout_matches_the_accounts() -> None:
    """Sizes from the IDL equal the accounts' (the fixtures' kinds say so independently);
    a few offsets that Drift's SDK reads by hand; non-fixed types have no size."""
    for kind in MARKET_KINDS:
        assert LAYOUTS[kind].size == KINDS[kind].size == SIZES[kind]
    perp = LAYOUTS["PerpMarket"].fields
    assert perp["amm.oracle"].offset == 8 + 32  # after the discriminator and `pubkey`
    assert perp["amm.historical_oracle_data.last_oracle_price"].offset == 8 + 64
    assert perp["amm.historical_oracle_data"].size == 48
    assert size_of({"array": ["u128", 3]}) == 48
    for bad in ("string", "bytes", {"vec": "u8"}, {"option": "u64"}, {"defined": "FillMode"}):
        with pytest.raises(TypeError):
            size_of(bad)


def test_a_reader_refuses_what_it_cannot_read() -> None:
    """A path named twice, a struct as a whole, an unknown path: errors at construction."""
    perp = LAYOUTS["PerpMarket"]
    with pytest.raises(ValueError, match="twice"):
        Reader(perp, ["market_index", "market_index"])
    with pytest.raises(TypeError, match="read its members"):
        Reader(perp, ["amm.historical_oracle_data"])
    with pytest.raises(KeyError):
        Reader(perp, ["amm.no_such_field"])
