"""Real driftpy DriftClients against localnet, and what a streamer feed subscribes
there, for tests (no mocks of driftpy)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Literal

from driftpy.account_subscription_config import AccountSubscriptionConfig
from driftpy.accounts.bulk_account_loader import BulkAccountLoader
from driftpy.drift_client import DriftClient
from driftpy.types import OracleInfo
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair

from localnet.presets import PerpSpec
from localnet.server import LocalnetServer
from streamer.decode import variant

Mode = Literal["websocket", "websocket-indexes", "polling", "cached"]


@contextlib.asynccontextmanager
async def drift_client(
    url: str,
    mode: Mode,
    *,
    poll_s: float = 0.05,
    perps: Sequence[PerpSpec] = (),
) -> AsyncIterator[DriftClient]:
    """A subscribed, read-only DriftClient (`sub_account_ids=[]`), unsubscribed after."""
    connection = AsyncClient(url)
    kwargs: dict[str, Any] = {}
    if mode == "polling":
        config = AccountSubscriptionConfig(
            "polling", bulk_account_loader=BulkAccountLoader(connection, Confirmed, poll_s)
        )
    elif mode == "websocket-indexes":
        config = AccountSubscriptionConfig("websocket")
        kwargs = {
            "perp_market_indexes": [p.market_index for p in perps],
            "spot_market_indexes": [0],
            "oracle_infos": [OracleInfo(p.oracle, p.oracle_source) for p in perps],
        }
    else:
        config = AccountSubscriptionConfig(mode)
    client = DriftClient(
        connection,
        Keypair(),
        env="mainnet",
        account_subscription=config,
        sub_account_ids=[],
        **kwargs,
    )
    await client.subscribe()
    try:
        yield client
    finally:
        await client.unsubscribe()
        await connection.close()


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds until `predicate()` holds. driftpy has no change callback to await, so
    this checks after every 5 ms turn of the loop; fails the test on timeout."""
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.005)
    return time.perf_counter() - start


async def wait_until_async(probe: Callable[[], Awaitable[object | None]], within: float) -> object:
    """Await `probe()` until it returns something other than None (for what has no event:
    KV expiry, a stream sourcing another); fails the test after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (result := await probe()) is None:
        if loop.time() > deadline:
            raise AssertionError(f"no value within {within} s")
        await asyncio.sleep(0.05)
    return result


def followed_accounts(localnet: LocalnetServer) -> int:
    """The accounts one streamer feed follows over `localnet`: State, every market, and
    every oracle account they read (QuoteAsset reads none)."""
    specs = [v.spec for v in localnet.markets.perps] + [v.spec for v in localnet.markets.spots]
    oracles = {str(s.oracle) for s in specs if variant(s.oracle_source) != "QuoteAsset"}
    return 1 + len(specs) + len(oracles)


def feed_subscribed(localnet: LocalnetServer, feeds: int = 1) -> bool:
    """Exactly `feeds` streamer feeds have every account and a slot subscription."""
    subs = localnet.stats_json()["subscriptions"]
    followed = feeds * followed_accounts(localnet)
    return bool(subs["account"] == followed and subs["slot"] == feeds)
