"""Settled fundings of one market, read from the history stream.

The stream `DRIFT_FUNDING_HISTORY` (`schemas.buckets.history_stream`) keeps every
FundingRate published on `drift.<net>.funding.<SYMBOL>`: each settlement is there many
times (re-sent while fresh, and again whenever the live estimate moves). `settled`
reads the market's messages published from a start time on, with a short-lived
ephemeral consumer that needs no acks, and keeps one FundingRate per settled funding
(`last_funding_rate_ts`): the last one published for it, so a correction wins. A
settlement's messages are all published after it landed, so reading from `start` finds
every funding settled at or after `start` (and the one in force then).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime

from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from schemas import FundingRate, decode, funding_subject
from schemas.buckets import HISTORY_STREAM
from schemas.errors import SchemaError
from schemas.subjects import Network
from subscribers.ccxt.errors import ExchangeNotAvailable

__all__ = ["settled"]

log = logging.getLogger("drift_stream.ccxt")
_BATCH = 1000


async def settled(
    nc: Client,
    network: Network,
    symbol: str,
    *,
    start: float | None = None,
    timeout_s: float = 10.0,
) -> list[FundingRate]:
    """One FundingRate per settled funding of `symbol` (a Drift name), oldest first,
    from messages published at or after `start` (unix seconds; None: the stream's
    first). A funding whose rate is undefined (TWAP not positive) is left out.
    ExchangeNotAvailable if there is no history stream or a read stalls `timeout_s`."""
    if start is None:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    else:
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME,
            # sent as given: RFC 3339 (nats-py types it as a datetime it cannot send)
            opt_start_time=_rfc3339(start),  # type: ignore[arg-type]
        )
    config.ack_policy = AckPolicy.NONE
    config.inactive_threshold = 30  # seconds: gone soon if this reader dies
    js = nc.jetstream()
    try:
        sub = await js.pull_subscribe(
            funding_subject(network, symbol), stream=HISTORY_STREAM, config=config
        )
    except NotFoundError as exc:
        raise ExchangeNotAvailable(f"drift: no funding history ({HISTORY_STREAM})") from exc
    by_ts: dict[int, FundingRate] = {}
    try:
        pending = (await sub.consumer_info()).num_pending or 0
        while pending > 0:
            try:
                msgs = await sub.fetch(batch=_BATCH, timeout=timeout_s)
            except (NatsTimeoutError, TimeoutError) as exc:  # nats-py raises either
                raise ExchangeNotAvailable("drift: the funding history read stalled") from exc
            for msg in msgs:
                pending = msg.metadata.num_pending
                _keep(by_ts, msg.data, symbol)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return [by_ts[ts] for ts in sorted(by_ts)]


def _keep(by_ts: dict[int, FundingRate], data: bytes, symbol: str) -> None:
    try:
        value = decode(FundingRate, data)
    except SchemaError as exc:  # as the mirrors do: skip it, the rest still reads
        log.debug("skipped an invalid FundingRate in the history: %s", exc)
        return
    if value.symbol != symbol or value.last_funding_rate_ts <= 0:
        return  # another market's, or never settled
    if value.hourly_rate_pct is None:
        by_ts.pop(value.last_funding_rate_ts, None)
        return
    by_ts[value.last_funding_rate_ts] = value  # the last one published wins


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
