"""localnet's account encoding: exact round trips through driftpy's own decoders."""

from __future__ import annotations

import pytest
from driftpy.constants.perp_markets import mainnet_perp_market_configs
from driftpy.decode.utils import decode_name
from driftpy.types import OracleSource
from hypothesis import given, settings
from hypothesis import strategies as st

from localnet import codec
from localnet.errors import EncodingError
from localnet.ledger import Ledger
from localnet.markets import DriftMarkets
from localnet.oracles import encode_oracle, oracle_price, source_name
from localnet.presets import preset

SOURCES = [
    OracleSource.PythLazer(),
    OracleSource.PythLazer1K(),
    OracleSource.PythLazer1M(),
    OracleSource.PythPull(),
    OracleSource.Pyth1KPull(),
    OracleSource.Pyth1MPull(),
    OracleSource.Prelaunch(),
    OracleSource.SwitchboardOnDemand(),
]


@settings(max_examples=300, deadline=None)
@given(source=st.sampled_from(SOURCES), price=st.integers(1, 10**13))
def test_oracle_round_trip_is_exact(source: OracleSource, price: int) -> None:
    """Every oracle source decodes (with driftpy) to exactly the encoded price."""
    account = encode_oracle(source, price, slot=1, ts=1_700_000_000)
    assert oracle_price(account.data, source) == price


@pytest.mark.parametrize("price", [0, -5])
def test_oracle_price_must_be_positive(price: int) -> None:
    """A non-positive oracle price is refused with EncodingError."""
    with pytest.raises(EncodingError, match="positive"):
        encode_oracle(OracleSource.PythLazer(), price, slot=1, ts=1)


def test_account_sizes_match_mainnet() -> None:
    """Built accounts have the byte sizes Drift's program uses on mainnet."""
    for name, size in codec.ACCOUNT_SIZES.items():
        assert len(codec.build(name, codec.template(name))) == size


def test_mainnet_preset_covers_every_driftpy_perp_market() -> None:
    """The mainnet preset serves every perp market config driftpy knows, as configured."""
    spec = preset("mainnet")
    assert [
        (p.market_index, p.symbol, p.oracle, source_name(p.oracle_source)) for p in spec.perps
    ] == [
        (c.market_index, c.symbol, c.oracle, source_name(c.oracle_source))
        for c in mainnet_perp_market_configs
    ]
    assert len(spec.spots) == 63
    assert all(p.price > 0 for p in spec.perps)
    assert {p.symbol for p in preset("small").perps} == {"SOL-PERP", "BTC-PERP", "ETH-PERP"}


def test_unknown_preset_is_a_clear_error() -> None:
    """An unknown preset name raises ValueError naming the choices."""
    with pytest.raises(ValueError, match="small, mainnet"):
        preset("testnet")


def test_shared_oracles_move_every_market_that_reads_them() -> None:
    """PUMP-PERP and 1KPUMP-PERP share one oracle: moving one moves the other x1000."""
    markets = DriftMarkets(Ledger(), preset("mainnet"))
    pump, kpump = markets.perp("PUMP-PERP"), markets.perp("1KPUMP-PERP")
    assert pump.spec.oracle == kpump.spec.oracle
    markets.set_oracle_price("1KPUMP-PERP", 4_000_000)
    assert kpump.oracle_price == 4_000_000
    assert pump.oracle_price == 4_000


def test_perp_accounts_decode_to_their_specs() -> None:
    """Every served perp account decodes to its symbol, index and oracle."""
    ledger = Ledger()
    markets = DriftMarkets(ledger, preset("mainnet"))
    for view in markets.perps:
        account = ledger.get(str(view.address))
        assert account is not None
        decoded = codec.decode(account.data)
        assert decode_name(decoded.name).strip() == view.spec.symbol
        assert decoded.market_index == view.spec.market_index
        assert decoded.amm.oracle == view.spec.oracle
