"""The mainnet account fixtures: a well-formed snapshot folder of sane, decodable accounts.

Every file is a `solana account --output json` document whose bytes have the size and
discriminator of their kind, sit at the address the program derives for them, decode with
driftpy, and hold values a live market would (names match indexes, reserves price near the
oracle, the market-maker oracle fields agree with the layout the manifest states).
"""

from __future__ import annotations

import base64
import json
import math
import shutil
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from driftpy.accounts.oracle import decode_oracle
from driftpy.addresses import (
    get_perp_market_public_key,
    get_prelaunch_oracle_public_key,
    get_spot_market_public_key,
    get_state_public_key,
)
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.constants.perp_markets import mainnet_perp_market_configs
from driftpy.constants.spot_markets import mainnet_spot_market_configs
from solders.pubkey import Pubkey

from tests.mainnet_fixtures import (
    FIXTURES,
    KINDS,
    MANIFEST,
    FixtureAccount,
    FixtureError,
    account_file_json,
    discriminator,
    load_accounts,
    load_manifest,
    market_oracle_pairs,
    rent_exempt_lamports,
)

ACCOUNTS = load_accounts()
MANIFEST_DOC = load_manifest()
PRICE_PRECISION = 10**6
SPOT_CUMULATIVE_INTEREST_PRECISION = 10**10
PERP_SYMBOLS = {c.market_index: c.symbol for c in mainnet_perp_market_configs}
SPOT_SYMBOLS = {c.market_index: c.symbol for c in mainnet_spot_market_configs}


def of_kind(kind: str) -> list[FixtureAccount]:
    return [a for a in ACCOUNTS.values() if a.kind == kind]


def name(account: FixtureAccount) -> str:
    return bytes(account.decoded.name).decode().strip()


def test_folder_holds_the_manifest_and_one_account_file_per_entry() -> None:
    """No stray files; the manifest lists exactly the account files; every kind is kept."""
    names = {p.name for p in FIXTURES.iterdir()}
    files = {n.removesuffix(".json") for n in names if n.endswith(".json") and n != MANIFEST}
    assert names == {MANIFEST, "README.md"} | {f"{k}.json" for k in files}
    assert files == set(MANIFEST_DOC["accounts"]) == set(ACCOUNTS)
    assert {a.kind for a in ACCOUNTS.values()} == set(KINDS)


def test_manifest_header_and_counts_match_the_folder() -> None:
    """Network, program, capture time, counts by kind and the slot span of the sources."""
    assert MANIFEST_DOC["network"] == "mainnet"
    assert MANIFEST_DOC["program_id"] == str(DRIFT_PROGRAM_ID)
    datetime.fromisoformat(MANIFEST_DOC["captured_at"])
    counts = Counter(a.kind for a in ACCOUNTS.values())
    assert MANIFEST_DOC["counts"] == {"total": len(ACCOUNTS), **counts}
    stated = [a.provenance.source_slot for a in ACCOUNTS.values() if a.provenance.source_slot]
    assert (MANIFEST_DOC["min_slot"], MANIFEST_DOC["max_slot"]) == (min(stated), max(stated))


@pytest.mark.parametrize("pubkey", sorted(ACCOUNTS))
def test_file_is_the_solana_account_document_of_its_bytes(pubkey: str) -> None:
    """The file is exactly what `solana account --output json` prints for these bytes."""
    account = ACCOUNTS[pubkey]
    doc = json.loads((FIXTURES / f"{pubkey}.json").read_text())
    assert doc == account_file_json(account.pubkey, account.data, account.owner, account.lamports)
    assert base64.b64decode(doc["account"]["data"][0], validate=True) == account.data
    assert account.owner == KINDS[account.kind].owner
    assert account.lamports >= rent_exempt_lamports(len(account.data))


@pytest.mark.parametrize("pubkey", sorted(ACCOUNTS))
def test_size_discriminator_and_provenance(pubkey: str) -> None:
    """Bytes of the kind's size and discriminator, cited to a commit of a public repository."""
    account = ACCOUNTS[pubkey]
    assert len(account.data) == KINDS[account.kind].size
    assert account.data[:8] == discriminator(account.kind)
    source = account.provenance
    assert source.repo.count("/") == 1
    assert len(source.commit) == 40
    assert source.path
    assert source.layout in ("current", "legacy")
    assert bool(source.legacy_notes) == (source.layout == "legacy")


def test_recorded_times_fall_between_launch_and_capture() -> None:
    """Each account's own newest time is after Drift v2 launched and before assembly; a
    market's is at least its last funding time (a `now` for computations on it)."""
    captured = datetime.fromisoformat(MANIFEST_DOC["captured_at"]).timestamp()
    for a in ACCOUNTS.values():
        ts = a.provenance.data_ts
        assert ts is None or 1_640_000_000 < ts < captured
        if a.kind == "PerpMarket":
            assert ts is not None
            assert ts >= a.decoded.amm.last_funding_rate_ts
        if a.kind == "SpotMarket":
            assert ts is not None
            assert ts >= a.decoded.last_interest_ts


def test_drift_accounts_decode_with_driftpy_as_their_kind() -> None:
    """driftpy's IDL coder picks the kind named in the manifest from the bytes alone."""
    for account in ACCOUNTS.values():
        if KINDS[account.kind].owner == DRIFT_PROGRAM_ID:
            assert type(account.decoded).__name__ == account.kind


def test_accounts_sit_at_the_addresses_the_program_derives() -> None:
    """Markets, State and Drift's oracle accounts are the PDAs of what they hold."""
    for a in of_kind("PerpMarket"):
        assert a.pubkey == a.decoded.pubkey
        assert a.pubkey == get_perp_market_public_key(DRIFT_PROGRAM_ID, a.decoded.market_index)
    for a in of_kind("SpotMarket"):
        assert a.pubkey == a.decoded.pubkey
        assert a.pubkey == get_spot_market_public_key(DRIFT_PROGRAM_ID, a.decoded.market_index)
    (state,) = of_kind("State")
    assert state.pubkey == get_state_public_key(DRIFT_PROGRAM_ID)
    for a in of_kind("PrelaunchOracle"):
        index = a.decoded.perp_market_index
        assert a.pubkey == get_prelaunch_oracle_public_key(DRIFT_PROGRAM_ID, index)
    for a in of_kind("PythLazerOracle"):
        feed = int(a.entry["pyth_lazer_feed_id"]).to_bytes(4, "little")
        assert a.pubkey == Pubkey.find_program_address([b"pyth_lazer", feed], DRIFT_PROGRAM_ID)[0]
    for a in of_kind("PriceUpdateV2"):
        # verification level: 1 byte when Full (flag bit set), 2 when Partial; the feed id follows
        start = 41 if a.data[40] & 1 else 42
        feed_id = a.data[start : start + 32]
        assert a.pubkey == Pubkey.find_program_address([b"pyth_pull", feed_id], DRIFT_PROGRAM_ID)[0]
    for a in ACCOUNTS.values():
        if a.kind != "PullFeedAccountData":  # a Switchboard feed is a keypair account
            assert not a.pubkey.is_on_curve()


def test_perp_markets_hold_sane_values() -> None:
    """Name matches index, funding hourly, constant product intact, price near the oracle."""
    for a in of_kind("PerpMarket"):
        m, amm = a.decoded, a.decoded.amm
        assert name(a) == PERP_SYMBOLS[m.market_index] == a.entry["name"]
        if type(m.contract_type).__name__ == "Perpetual":
            assert amm.funding_period == 3600
        assert amm.funding_period > 0
        assert amm.peg_multiplier > 0
        assert amm.order_step_size > 0
        assert amm.order_tick_size > 0
        assert math.isclose(
            amm.sqrt_k**2, amm.base_asset_reserve * amm.quote_asset_reserve, rel_tol=1e-3
        )
        reserve_price = amm.quote_asset_reserve * amm.peg_multiplier // amm.base_asset_reserve
        oracle_price = amm.historical_oracle_data.last_oracle_price
        assert abs(reserve_price - oracle_price) <= max(oracle_price // 100, 1)
        assert amm.last_funding_rate_ts > 1_640_000_000  # after Drift v2 launched (2022)
        assert a.provenance.data_slot == amm.last_update_slot > 0


def test_perp_market_mm_oracle_fields_match_the_stated_layout() -> None:
    """Current layout: the MM oracle fields are unset or track the oracle. Legacy: the slot
    is 0, so the program and the SDK ignore the two repurposed fields beside it."""
    layouts: Counter[str] = Counter()
    for a in of_kind("PerpMarket"):
        amm = a.decoded.amm
        layouts[a.provenance.layout] += 1
        if a.provenance.layout == "legacy":
            assert amm.mm_oracle_slot == 0
            assert amm.last_funding_oracle_twap == 0  # added after these were captured
        elif amm.mm_oracle_slot == 0:
            assert amm.mm_oracle_price == amm.mm_oracle_sequence_id == 0
        else:
            oracle_price = amm.historical_oracle_data.last_oracle_price
            assert abs(amm.mm_oracle_price - oracle_price) < oracle_price // 50
            assert amm.mm_oracle_sequence_id > 0
            assert abs(amm.mm_oracle_slot - amm.last_update_slot) < 1_000
    assert layouts["current"] >= 2, "keep at least SOL-PERP and ETH-PERP in the current layout"


def test_spot_markets_hold_sane_values() -> None:
    """Name matches index; interest indexes, balances and rate curve are well ordered."""
    for a in of_kind("SpotMarket"):
        m = a.decoded
        assert name(a) == SPOT_SYMBOLS[m.market_index] == a.entry["name"]
        assert 0 < m.decimals <= 12
        assert m.cumulative_deposit_interest >= SPOT_CUMULATIVE_INTEREST_PRECISION
        assert m.cumulative_borrow_interest >= SPOT_CUMULATIVE_INTEREST_PRECISION
        assert m.deposit_balance > m.borrow_balance > 0
        assert 0 < m.optimal_utilization <= PRICE_PRECISION
        assert 0 < m.optimal_borrow_rate <= m.max_borrow_rate
        assert m.historical_oracle_data.last_oracle_price > 0


def test_every_market_is_paired_with_its_oracle_as_the_manifest_says() -> None:
    """Pairs follow the market's own oracle field; the manifest's `present` flag agrees."""
    pairs = market_oracle_pairs(ACCOUNTS)
    assert len(pairs) == len(of_kind("PerpMarket")) + len(of_kind("SpotMarket"))
    for pair in pairs:
        link = pair.market.entry["oracle"]
        assert link["pubkey"] == str(pair.oracle_pubkey)
        assert link["source"] == type(pair.source).__name__
        assert link["present"] == (pair.oracle is not None)
        if pair.oracle is not None:
            assert KINDS[pair.oracle.kind].is_oracle
            assert link["source"] in pair.oracle.entry["oracle_sources"]
    assert sum(p.oracle is not None for p in pairs) >= 8


def test_oracles_read_the_price_their_market_last_saw() -> None:
    """Decoded with the market's source, an oracle from the same test as its market gives
    the price the market last recorded (within 5%, or 10 units for near-zero prices)."""
    checked = 0
    for pair in market_oracle_pairs(ACCOUNTS):
        if pair.oracle is None or not pair.market.entry["oracle"]["from_same_test"]:
            continue
        price = decode_oracle(pair.oracle.data, pair.source).price
        market = pair.market.decoded
        history = market.amm if pair.market.kind == "PerpMarket" else market
        seen = history.historical_oracle_data.last_oracle_price
        assert price > 0
        assert abs(price - seen) <= max(seen // 20, 10), (pair.market.entry["name"], price, seen)
        checked += 1
    assert checked >= 8


def test_a_broken_fixture_is_reported_by_file_name(tmp_path: Path) -> None:
    """Truncated bytes, invalid base64 and a stray file each raise FixtureError naming it."""
    folder = tmp_path / "mainnet"
    shutil.copytree(FIXTURES, folder)
    victim = folder / f"{of_kind('SpotMarket')[0].pubkey}.json"
    original = json.loads(victim.read_text())

    doc = json.loads(victim.read_text())
    doc["account"]["data"][0] = base64.b64encode(
        base64.b64decode(doc["account"]["data"][0])[:-8]
    ).decode()
    victim.write_text(json.dumps(doc))
    with pytest.raises(FixtureError, match=f"{victim.name}: 768 bytes"):
        load_accounts(folder)

    doc["account"]["data"][0] = "not*base64"
    victim.write_text(json.dumps(doc))
    with pytest.raises(FixtureError, match=f"{victim.name}: not a solana account file"):
        load_accounts(folder)

    victim.write_text(json.dumps(original))
    (folder / "11111111111111111111111111111111.json").write_text(json.dumps(original))
    with pytest.raises(FixtureError, match="files without a manifest entry"):
        load_accounts(folder)
