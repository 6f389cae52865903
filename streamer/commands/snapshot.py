"""`drift-stream snapshot --rpc-url URL --out DIR [--markets SOL-PERP,USDC]`.

Captures Drift's State, every perp and spot market (or the named ones) and every
oracle they read, as close to one slot as an RPC allows: State first, then batched
getMultipleAccounts (at most 100 keys a call, fewer when the provider answers 413),
each asking for `minContextSlot` = the newest slot seen so far; the manifest records
each batch's context slot and the span `min_slot`..`max_slot`. No getProgramAccounts:
State's counts and the market PDAs list every market on any provider. Requests are
paced and 429s retried with the project's backoff (`streamer.feed.rpc`). Shows a
progress bar on a terminal; the folder is written atomically
(`streamer.commands.snapshot_files`); the manifest never holds the URL's secrets.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from driftpy.constants.config import DRIFT_PROGRAM_ID

from schemas.snapshot import ManifestEntry, SnapshotManifest
from streamer.commands.snapshot_files import account_kind, write_snapshot
from streamer.errors import SourceError
from streamer.feed.discovery import discover, market_name, parse_markets
from streamer.feed.pacing import PacingConfig
from streamer.feed.rpc import RawAccount, RpcClient
from streamer.feed.store import AccountStore
from streamer.idl import decode_account
from streamer.redact import redact_url

__all__ = ["capture", "run"]

log = logging.getLogger("drift_stream.snapshot")


class _Progress:
    """A rich progress bar on a terminal; a log line per step elsewhere."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None
        if sys.stderr.isatty():
            from rich.progress import Progress

            self._bar = Progress(transient=True)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("snapshot", total=2)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def step(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=text)
        else:
            log.info("snapshot: %s", text)


def _entry(key: str, account: RawAccount, slot: int) -> ManifestEntry:
    kind = account_kind(account.data)
    if kind in ("PerpMarket", "SpotMarket"):
        market = decode_account(kind, account.data)
        return ManifestEntry(
            kind=kind, name=market_name(market), market_index=market.market_index, slot=slot
        )
    return ManifestEntry(kind=kind, slot=slot)


async def capture(
    rpc: RpcClient, wanted: frozenset[str] | None, network: str
) -> tuple[dict[str, RawAccount], SnapshotManifest, str | None]:
    """Read the accounts; (accounts, manifest, the problem with `wanted` if any)."""
    with _Progress() as progress:
        seen: dict[str, tuple[RawAccount, int]] = {}
        catalog = await discover(rpc, AccountStore(), wanted, seen=seen)
        progress.step(f"State and {len(catalog.perps) + len(catalog.spots)} markets")
        kept = [catalog.state, *catalog.perps.values(), *catalog.spots.values()]
        read: dict[str, tuple[RawAccount | None, int]] = {k: seen[k] for k in kept}
        floor = max(slot for _, slot in read.values())
        read.update(await rpc.get_multiple(list(catalog.oracles), min_context_slot=floor))
        progress.step(f"{len(catalog.oracles)} oracles")
    accounts = {k: a for k, (a, _) in read.items() if a is not None}
    missing = sorted(k for k, (a, _) in read.items() if a is None)
    if missing:
        log.warning("%d oracle accounts do not exist: %s", len(missing), ", ".join(missing[:10]))
    entries = {k: _entry(k, a, read[k][1]) for k, a in accounts.items()}
    counts: dict[str, int] = {"total": len(entries)}
    for entry in entries.values():
        counts[entry.kind or "Other"] = counts.get(entry.kind or "Other", 0) + 1
    slots = [read[k][1] for k in accounts]
    manifest = SnapshotManifest(
        network=network,
        program_id=str(DRIFT_PROGRAM_ID),
        captured_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        min_slot=min(slots),
        max_slot=max(slots),
        counts=dict(sorted(counts.items())),
        accounts=entries,
        rpc=_host(rpc.url),
        skipped=list(catalog.skipped),
    )
    return accounts, manifest, catalog.problem()


def _host(url: str) -> str:
    """The RPC's scheme and host only: a path or query may hold an API key."""
    parts = urlsplit(redact_url(url))
    return f"{parts.scheme}://{parts.hostname or ''}"


async def run(args: argparse.Namespace, rpc_url: str, network: str, pacing: PacingConfig) -> None:
    started = time.perf_counter()
    wanted = parse_markets(args.markets)
    try:
        # a batch job: wait out any Retry-After a provider asks for (up to 5 minutes)
        async with RpcClient(rpc_url, pacing=pacing, max_attempts=10, max_wait_s=300) as rpc:
            accounts, manifest, problem = await capture(rpc, wanted, network)
            if problem:
                raise SystemExit(f"drift-stream snapshot: {problem}")
            write_snapshot(args.out, accounts, manifest, replace=args.force)
            requests, limited = rpc.stats.requests, rpc.stats.rate_limited
    except (SourceError, OSError) as exc:
        raise SystemExit(f"drift-stream snapshot: {exc}") from None
    print(
        f"snapshot {args.out}: {manifest.counts['total']} accounts, slots "
        f"{manifest.min_slot}..{manifest.max_slot}, {requests} RPC requests "
        f"({limited} answered 429) in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
