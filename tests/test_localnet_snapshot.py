"""localnet serving a snapshot folder: every account exactly as captured, over real
JSON-RPC and websockets, the slot clock from the manifest, the simulation on top."""

from __future__ import annotations

import base64
import json
import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import base58
import httpx
import pytest
import pytest_asyncio
from driftpy.accounts.oracle import decode_oracle
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.decode.utils import decode_name
from solders.pubkey import Pubkey

from localnet.ledger import DEFAULT_START_SLOT, Account, Ledger
from localnet.server import LocalnetServer
from localnet.simulation import SimulationConfig
from localnet.snapshot_checks import DISCRIMINATORS
from tests.drift_clients import drift_client, wait_until
from tests.mainnet_fixtures import FIXTURES
from tests.snapshot_folders import (
    FIXTURE_MANIFEST,
    SOL_ORACLE,
    TOKEN_PROGRAM,
    account_files,
    run_snapshot,
    spl_token_account,
    write_doc,
)

DOCS = {doc["pubkey"]: doc for doc in (json.loads(p.read_text()) for p in account_files())}
KINDS = {key: entry["kind"] for key, entry in FIXTURE_MANIFEST["accounts"].items()}
MAX_SLOT = FIXTURE_MANIFEST["max_slot"]
WETH_ORACLE = "6bEp2MiyoiiiDxcVqE8rUHQWwHirXUXtKfAEATTVqNzT"  # PriceUpdateV2, not Drift's
# The four markets whose oracle account the fixtures do not have.
NO_ORACLE = {
    key
    for key, entry in FIXTURE_MANIFEST["accounts"].items()
    if entry.get("oracle", {}).get("present") is False
}


@pytest_asyncio.fixture
async def served() -> AsyncIterator[LocalnetServer]:
    """localnet over the mainnet fixtures, no simulation."""
    async with LocalnetServer(snapshot=FIXTURES, slot_ms=50) as server:
        yield server


@pytest_asyncio.fixture
async def simulated() -> AsyncIterator[LocalnetServer]:
    """localnet over the mainnet fixtures with a fast simulation."""
    config = SimulationConfig(price_interval_s=0.05, funding_interval_s=3600, seed=1)
    async with LocalnetServer(snapshot=FIXTURES, slot_ms=50, simulation=config) as server:
        yield server


async def rpc(url: str, method: str, *params: Any) -> Any:
    """One JSON-RPC call over HTTP; its result (fails the test on an error answer)."""
    async with httpx.AsyncClient() as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        answer = (await http.post(url, json=body)).json()
    assert "error" not in answer, answer
    return answer["result"]


async def subscribe(ws: aiohttp.ClientWebSocketResponse, method: str, *params: Any) -> int:
    await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    answer = await ws.receive_json(timeout=5)
    assert isinstance(answer["result"], int), answer
    return int(answer["result"])


async def test_every_account_is_served_exactly_as_its_file(served: LocalnetServer) -> None:
    """getAccountInfo of each of the 24 accounts is the file's `account` object, every
    field (data, lamports, owner, executable, rentEpoch, space); getMultipleAccounts too."""
    for key, doc in DOCS.items():
        answer = await rpc(served.url, "getAccountInfo", key, {"encoding": "base64"})
        assert answer["value"] == doc["account"], key
    keys = sorted(DOCS)
    many = await rpc(served.url, "getMultipleAccounts", keys, {"encoding": "base64"})
    assert many["value"] == [DOCS[k]["account"] for k in keys]
    assert len(served.ledger) == len(DOCS) == 24  # exactly the snapshot: no preset accounts


async def test_program_accounts_by_discriminator_are_the_snapshot_markets(
    served: LocalnetServer,
) -> None:
    """getProgramAccounts over the Drift program with the PerpMarket discriminator
    filter (as driftpy's find-all sends it) returns exactly the snapshot's perp markets."""
    for kind in ("PerpMarket", "SpotMarket"):
        memcmp = {"offset": 0, "bytes": base58.b58encode(DISCRIMINATORS[kind]).decode()}
        config = {"encoding": "base64", "filters": [{"memcmp": memcmp}]}
        found = await rpc(served.url, "getProgramAccounts", str(DRIFT_PROGRAM_ID), config)
        expected = {k for k, v in KINDS.items() if v == kind}
        assert {a["pubkey"] for a in found} == expected
        assert all(a["account"] == DOCS[a["pubkey"]]["account"] for a in found)


async def test_slot_clock_starts_at_max_slot_and_advances() -> None:
    """The slot is the manifest's max_slot at start and moves on (a slotSubscribe
    notification past it); account bytes stay as captured meanwhile."""
    server = LocalnetServer(snapshot=FIXTURES, slot_ms=20)
    assert server.ledger.slot == MAX_SLOT
    async with server, aiohttp.ClientSession() as http, http.ws_connect(server.ws_url) as ws:
        assert await rpc(server.url, "getSlot") >= MAX_SLOT
        await subscribe(ws, "slotSubscribe")
        note = await ws.receive_json(timeout=5)
        assert note["method"] == "slotNotification"
        assert note["params"]["result"]["slot"] > MAX_SLOT
        answer = await rpc(server.url, "getAccountInfo", SOL_ORACLE, {"encoding": "base64"})
        assert answer["value"] == DOCS[SOL_ORACLE]["account"]


async def test_account_subscribe_sees_a_write_with_the_captured_frame(
    simulated: LocalnetServer,
) -> None:
    """accountSubscribe on two oracles (one owned by Drift, one by Drift's Pyth receiver,
    134 bytes) under --simulate: each notification carries the bytes getAccountInfo then
    serves, and lamports, owner, executable, rentEpoch and space stay as in the file."""
    async with aiohttp.ClientSession() as http, http.ws_connect(simulated.ws_url) as ws:
        subs = {
            await subscribe(ws, "accountSubscribe", key, {"encoding": "base64"}): key
            for key in (SOL_ORACLE, WETH_ORACLE)
        }
        seen: dict[str, dict[str, Any]] = {}
        while len(seen) < 2:
            note = await ws.receive_json(timeout=5)
            key = subs[note["params"]["subscription"]]
            seen[key] = note["params"]["result"]["value"]
    for key, value in seen.items():
        captured = DOCS[key]["account"]
        assert value["data"] != captured["data"]  # the simulation moved the price
        frame = ("lamports", "owner", "executable", "rentEpoch", "space")
        assert {f: value[f] for f in frame} == {f: captured[f] for f in frame}
    sol = seen[SOL_ORACLE]
    view = simulated.markets.perp("SOL-PERP")
    price = decode_oracle(base64.b64decode(sol["data"][0]), view.spec.oracle_source).price
    captured_price = decode_oracle(
        base64.b64decode(DOCS[SOL_ORACLE]["account"]["data"][0]), view.spec.oracle_source
    ).price
    assert price != captured_price


async def test_missing_oracles_warn_and_stay_out_of_the_simulation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each market whose oracle is not in the folder loads with a WARNING naming the
    market (symbol and index) and the oracle; the simulation leaves those markets out."""
    with caplog.at_level(logging.WARNING, logger="drift_stream.localnet"):
        server = LocalnetServer(snapshot=FIXTURES, simulation=SimulationConfig())
    missing = {
        "ETH-PERP (perp 2)": "93FG52TzNKCnMiasV14Ba34BYcHDb9p4zK4GjZnLwqWR",
        "XRP-PERP (perp 13)": "92VexDMsSzYvVq7eiEoodEzZxCLqYnfGKpVTqpkX12FY",
        "PENGU (spot 31)": "4A3KroGPjZxPAeBNF287V3NyRwV2q8iBi1vX7kHxTCh7",
        "JitoSOL-3 (spot 40)": "Fqv8vT5fdjvBbHd5k4B4ZvnXLH6bbdKP8cMv93ybCP8W",
    }
    assert server.snapshot is not None
    assert server.warnings == server.snapshot.warnings  # nothing else was left out
    assert len(server.warnings) == len(missing) + 1
    assert "websocket DriftClient" in server.warnings[-1]
    for label, oracle in missing.items():
        assert any(label in w and oracle in w for w in server.warnings), label
        assert any(r.levelno == logging.WARNING and label in r.getMessage() for r in caplog.records)
    assert [v.spec.symbol for v in server.markets.perps] == [
        "SOL-PERP",
        "BTC-PERP",
        "1MPEPE-PERP",
        "JUP-PERP",
        "CLOUD-PERP",
        "KAMALA-POPULAR-VOTE-2024-BET",
    ]
    assert [v.spec.symbol for v in server.markets.spots] == ["USDC", "SOL", "wBTC", "wETH"]
    assert server.simulator is not None
    before = {k: server.ledger.get(k) for k in DOCS}
    server.simulator.step_prices(now=1_775_000_000)
    server.simulator.update_funding(now=1_775_000_000)
    for key in (k for k, kind in KINDS.items() if kind in ("PerpMarket", "SpotMarket")):
        moved = server.ledger.get(key) != before[key]
        assert moved == (key not in NO_ORACLE), key


async def test_plain_folder_and_foreign_accounts(tmp_path: Path) -> None:
    """A folder of plain `solana account` files under other names, no manifest, with an
    SPL token account (rent epoch 0) and an executable account besides: every account
    is served as it is, and the slot clock starts at the ledger's default."""
    for i, path in enumerate(account_files()):
        shutil.copyfile(path, tmp_path / f"account-{i:02}.json")
    wallet, mint = Pubkey.from_string(SOL_ORACLE), Pubkey.from_string(WETH_ORACLE)
    token, token_doc = spl_token_account(wallet, mint)
    write_doc(tmp_path, "token.json", token_doc)
    program = {
        "pubkey": str(Pubkey.from_bytes(b"\x07" * 32)),
        "account": {
            "lamports": 1_141_440,
            "data": [base64.b64encode(bytes(36)).decode(), "base64"],
            "owner": "BPFLoaderUpgradeab1e11111111111111111111111",
            "executable": True,
            "rentEpoch": 361,
        },
    }
    write_doc(tmp_path, "program.json", program)
    (tmp_path / "README.md").write_text("not an account file\n")
    server = LocalnetServer(snapshot=tmp_path, slot_ms=50)
    assert server.snapshot is not None
    assert server.snapshot.manifest is None
    assert server.ledger.slot == DEFAULT_START_SLOT
    docs = {**DOCS, token: token_doc, program["pubkey"]: program}
    async with server:
        keys = sorted(docs)
        many = await rpc(server.url, "getMultipleAccounts", keys, {"encoding": "base64"})
        for key, value in zip(keys, many["value"], strict=True):
            want = dict(docs[key]["account"])
            want.setdefault("space", len(base64.b64decode(want["data"][0])))
            assert value == want, key
        tokens = await rpc(server.url, "getProgramAccounts", TOKEN_PROGRAM, {"encoding": "base64"})
        assert [a["pubkey"] for a in tokens] == [token]
        assert tokens[0]["account"]["rentEpoch"] == 0
        assert tokens[0]["account"]["space"] == 165


async def test_admin_over_a_snapshot(served: LocalnetServer) -> None:
    """/admin/markets lists the adopted markets (those with an oracle); /admin/market
    changes one, and only the fields set change: lamports and the rest stay."""
    async with httpx.AsyncClient() as http:
        markets = (await http.get(f"{served.url}/admin/markets")).json()
        assert markets["preset"] == "snapshot"
        assert [m["symbol"] for m in markets["perps"]][:2] == ["SOL-PERP", "BTC-PERP"]
        sol = markets["perps"][0]
        assert sol["oracle_price"] == 143_798_202
        resp = await http.post(
            f"{served.url}/admin/market", json={"symbol": "SOL-PERP", "last_funding_rate": 777}
        )
        assert resp.status_code == 200, resp.text
        unknown = await http.post(
            f"{served.url}/admin/market", json={"symbol": "ETH-PERP", "last_funding_rate": 1}
        )
        assert unknown.status_code == 404  # no oracle: not adopted
    address = sol["address"]
    answer = await rpc(served.url, "getAccountInfo", address, {"encoding": "base64"})
    served_value, captured = answer["value"], DOCS[address]["account"]
    assert served_value["lamports"] == captured["lamports"]
    assert served_value["data"] != captured["data"]
    assert served.markets.perp(0).account.amm.last_funding_rate == 777


@pytest.mark.timeout(60)
async def test_driftpy_polling_client_reads_the_snapshot_markets(served: LocalnetServer) -> None:
    """A real driftpy DriftClient (polling, find-all) over the snapshot reads all eight
    perp markets by name and the oracle prices of those whose oracle is there."""
    async with drift_client(served.url, "polling") as client:
        names = {}
        for index in (0, 1, 2, 10, 13, 24, 31, 37):
            market = client.get_perp_market_account(index)
            assert market is not None, index
            names[index] = decode_name(market.name).strip()
        assert names[0] == "SOL-PERP"
        assert names[37] == "KAMALA-POPULAR-VOTE-2024-BET"
        price = client.get_oracle_price_data_for_perp_market(0)
        assert price is not None
        assert price.price == 143_798_202
        assert client.get_oracle_price_data_for_perp_market(2) is None  # oracle missing


@pytest.mark.timeout(60)
async def test_driftpy_websocket_client_reads_a_complete_snapshot(tmp_path: Path) -> None:
    """Websocket find-all mode over the fixtures without the four markets whose oracle
    is missing: the DriftClient reads every perp market and oracle price, and a
    simulated price step reaches it."""
    for path in account_files():
        if path.stem not in NO_ORACLE:
            shutil.copyfile(path, tmp_path / path.name)
    config = SimulationConfig(price_interval_s=0.05, seed=2)
    async with (
        LocalnetServer(snapshot=tmp_path, slot_ms=50, simulation=config) as server,
        drift_client(server.url, "websocket") as client,
    ):
        for view in server.markets.perps:
            market = client.get_perp_market_account(view.spec.market_index)
            assert market is not None
            assert decode_name(market.name).strip() == view.spec.symbol
        captured = 143_798_202

        def moved() -> bool:
            price = client.get_oracle_price_data_for_perp_market(0)
            return price is not None and price.price != captured

        await wait_until(moved, timeout=10)


def test_ledger_load_and_later_writes_keep_the_account_frame() -> None:
    """`Ledger.load` holds the accounts as given (each with its slot and rent epoch),
    tells no listener, and records history; a later write changes data and owner only."""
    ledger = Ledger(slot=10)
    seen: list[str] = []
    ledger.on_account(lambda key, account: seen.append(key))
    loaded = Account(b"x", "Owner1", lamports=5, executable=True, slot=7, rent_epoch=0)
    ledger.load({"K": loaded}, slot=9)
    assert ledger.slot == 9
    assert ledger.get("K") == loaded
    assert ledger.account_at("K", 8) == loaded
    assert seen == []
    written = ledger.set_account("K", b"y", "Owner2")
    assert (written.data, written.owner, written.slot) == (b"y", "Owner2", 9)
    assert (written.lamports, written.executable, written.rent_epoch) == (5, True, 0)
    assert written.to_json()["rentEpoch"] == 0
    assert seen == ["K"]
    with pytest.raises(RuntimeError):
        ledger.load({}, 9)  # only an empty ledger
    with pytest.raises(ValueError, match="after slot 6"):
        Ledger().load({"K": loaded}, slot=6)


@pytest.mark.timeout(120)
async def test_a_captured_snapshot_is_served_back_exactly(
    localnet_mainnet: LocalnetServer, tmp_path: Path
) -> None:
    """`drift-stream snapshot` of the mainnet preset, served by a second localnet: all
    269 accounts byte for byte (owner, lamports, rent epoch too), every market adopted,
    no warnings, and a websocket DriftClient reads every perp market from it."""
    out = tmp_path / "snap"
    code, text = await run_snapshot(
        "--rpc-url", localnet_mainnet.url, "--out", str(out), timeout=90
    )
    assert code == 0, text
    async with LocalnetServer(snapshot=out, slot_ms=50) as server:
        assert server.warnings == []
        assert len(server.ledger) == len(localnet_mainnet.ledger) == 269
        for key, captured in server.snapshot.accounts.items() if server.snapshot else ():
            original = localnet_mainnet.ledger.get(key)
            assert original is not None
            assert original.to_json() == captured.to_json(), key
        assert len(server.markets.perps) == 85
        assert len(server.markets.spots) == 63
        async with drift_client(server.url, "websocket") as client:
            for view in server.markets.perps:
                market = client.get_perp_market_account(view.spec.market_index)
                assert market is not None
                assert decode_name(market.name).strip() == view.spec.symbol
