"""Create-or-bind the KV buckets from their one definition in `schemas.buckets`.

A bucket's creator also sets its stream's flags (`allow_rollup_hdrs`, `allow_atomic`)
as the spec says; the streamer aligns them on buckets that already exist (`align=True`),
so a deployment made by an older version gets them at the streamer's next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    KeyValueConfig,
    RePublish,
    StorageType,
    StreamConfig,
    StreamSource,
    SubjectTransform,
)
from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from schemas.buckets import BucketSpec, StreamSpec
from subscribers.errors import BucketUnavailableError

__all__ = [
    "BucketUnavailableError",
    "align_flags",
    "ensure_bucket",
    "ensure_buckets",
    "ensure_stream",
    "kv_config",
    "last_entries",
]

log = logging.getLogger("drift_stream.buckets")


def kv_config(spec: BucketSpec, *, replicas: int = 1) -> KeyValueConfig:
    """The nats-py KeyValueConfig of a bucket spec (bucket TTL = every value's TTL)."""
    republish = None
    if spec.republish_src is not None and spec.republish_dest is not None:
        republish = RePublish(src=spec.republish_src, dest=spec.republish_dest)
    return KeyValueConfig(
        bucket=spec.name,
        description=spec.description or None,
        history=spec.history,
        ttl=spec.ttl_s,
        storage=StorageType.FILE,
        replicas=replicas,
        republish=republish,
    )


async def ensure_bucket(
    js: JetStreamContext, spec: BucketSpec, *, replicas: int = 1, align: bool = False
) -> KeyValue:
    """Bind the bucket, or create it if nobody has yet.

    Binding first lets a reader that may not create streams (an engine user, see
    `streamer.auth`) use buckets the streamer made. A bucket that exists with another
    TTL is used as it is and the difference logged: the first creator's config wins.
    Its stream flags are the spec's once this call created it, or with `align`.
    """
    try:
        kv = await js.key_value(spec.name)
    except BucketNotFoundError:
        pass
    else:
        await _warn_if_different(kv, spec)
        if align:
            await align_flags(js, kv, spec)
        return kv
    try:
        kv = await js.create_key_value(kv_config(spec, replicas=replicas))
    except BadRequestError:  # created by another process since our look
        kv = await js.key_value(spec.name)
        await _warn_if_different(kv, spec)
        if align:
            await align_flags(js, kv, spec)
        return kv
    except NatsTimeoutError as exc:  # denied (never answered), or a cluster still busy
        with contextlib.suppress(BucketNotFoundError, NatsTimeoutError):
            return await js.key_value(spec.name)  # it was being created meanwhile
        raise BucketUnavailableError(
            f"bucket {spec.name} does not exist and this user could not create it "
            "(no permission?): start the streamer first"
        ) from exc
    await align_flags(js, kv, spec)
    return kv


async def align_flags(js: JetStreamContext, kv: KeyValue, spec: BucketSpec) -> None:
    """Set the bucket stream's `allow_rollup_hdrs` and `allow_atomic` to the spec's."""
    config = (await js.stream_info(kv._stream)).config
    if bool(config.allow_rollup_hdrs) == spec.rollups and bool(config.allow_atomic) == spec.atomic:
        return
    config.allow_rollup_hdrs = spec.rollups
    config.allow_atomic = spec.atomic
    await js.update_stream(config)
    log.info(
        "bucket %s: rollups %s, atomic batches %s",
        spec.name,
        "allowed" if spec.rollups else "refused",
        "allowed" if spec.atomic else "refused",
        extra={"bucket": spec.name},
    )


async def _warn_if_different(kv: KeyValue, spec: BucketSpec) -> None:
    try:
        has_ttl = (await kv.status()).ttl
    except Exception as exc:  # status is informational only
        log.debug("status of bucket %s unavailable: %r", spec.name, exc)
        return
    if spec.ttl_s is not None and has_ttl is not None and abs(has_ttl - spec.ttl_s) > 1e-3:
        log.warning(
            "bucket %s exists with TTL %.1f s, not %.1f s; using it as it is",
            spec.name,
            has_ttl,
            spec.ttl_s,
            extra={"bucket": spec.name, "want_ttl_s": spec.ttl_s, "has_ttl_s": has_ttl},
        )


async def ensure_buckets(
    js: JetStreamContext, specs: Mapping[str, BucketSpec], *, replicas: int = 1, align: bool = False
) -> dict[str, KeyValue]:
    """Every bucket of `specs`, by name."""
    return {
        name: await ensure_bucket(js, spec, replicas=replicas, align=align)
        for name, spec in specs.items()
    }


async def ensure_stream(
    js: JetStreamContext, spec: StreamSpec, *, replicas: int = 1, align: bool = False
) -> None:
    """Create the history stream; an existing one is left as it is, unless `align` and it
    does not source the bucket yet (made by an older version, it captured the plain
    subjects): then it is switched to sourcing, from now on, keeping what it holds."""
    source = StreamSource(
        name=spec.source_stream,
        subject_transforms=[SubjectTransform(src=spec.source_subject, dest=spec.subject)],
    )
    config = StreamConfig(
        name=spec.name,
        description=spec.description,
        sources=[source],
        max_age=spec.max_age_s,
        max_bytes=spec.max_bytes,
        storage=StorageType.FILE,
        num_replicas=replicas,
    )
    try:
        await js.add_stream(config)
        return
    except BadRequestError as exc:
        problem = exc.description
    existing = (await js.stream_info(spec.name)).config
    if any(s.name == spec.source_stream for s in existing.sources or []):
        return
    if not align:
        log.warning(
            "stream %s exists with another configuration; using it as it is (%s)",
            spec.name,
            problem,
            extra={"stream": spec.name},
        )
        return
    source.opt_start_time = datetime.now(UTC)  # what it captured already stays
    existing.subjects = None
    existing.sources = [source]
    existing.description = spec.description
    await js.update_stream(existing)
    log.info(
        "stream %s now sources %s (it captured the plain subjects)",
        spec.name,
        spec.source_stream,
        extra={"stream": spec.name},
    )


_FETCH_WAIT_S = 0.5


async def last_entries(
    kv: KeyValue, pattern: str, *, headers_only: bool = False, timeout_s: float = 5.0
) -> list[KeyValue.Entry]:
    """The live keys of `pattern` (e.g. `local.*`) with their last values, complete.

    nats-py's `keys()` and the first batch of `watch()` can end early: their "no more
    values" marker is decided from a consumer info that may arrive after every value
    was delivered, and then says nothing is pending (seen as an empty key list under
    load). A pull consumer delivers nothing until asked, so its pending count is exact:
    fetch that many (asking the server again if one expired meanwhile). Deleted,
    purged and expired keys are left out.

    On a cluster the server puts the (R1) consumer on any replica of the stream, and
    one just back from a partition serves its own, older values until it has applied
    what it missed (seen for seconds after the raft leader counted it current): a new
    reader would take a deposed leader's value as the last one. So unless the consumer
    is on the stream's leader, every entry is read again from the leader (`_confirmed`).
    """
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        ack_policy=AckPolicy.NONE,
        headers_only=headers_only or None,
        inactive_threshold=30,
        mem_storage=True,
    )
    sub = await kv._js.pull_subscribe(
        f"{kv._pre}{pattern}", durable=None, stream=kv._stream, config=config
    )
    name: str | None = None
    try:
        info = await sub.consumer_info()
        name, pending = info.name, info.num_pending or 0
        lagging = await _off_leader(kv, info.cluster.leader if info.cluster else None)
        entries: dict[str, KeyValue.Entry] = {}
        async with asyncio.timeout(timeout_s):
            while pending > 0:
                try:
                    msgs = await sub.fetch(batch=min(pending, 1_000), timeout=_FETCH_WAIT_S)
                except NatsTimeoutError:  # a counted value expired before we fetched it
                    pending = (await sub.consumer_info()).num_pending or 0
                    continue
                for msg in msgs:
                    pending -= 1
                    headers = msg.headers or {}
                    key = msg.subject[len(kv._pre) :]
                    if headers.get("KV-Operation") or headers.get("Nats-Marker-Reason"):
                        entries.pop(key, None)  # deleted, purged or expired
                        continue
                    meta = msg.metadata
                    entries[key] = KeyValue.Entry(
                        bucket=kv._name,
                        key=key,
                        value=msg.data,
                        revision=meta.sequence.stream,
                        delta=meta.num_pending,
                        created=meta.timestamp,  # type: ignore[arg-type]  # nats-py: a datetime
                        operation=None,
                    )
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        if name is not None:  # at once, not after the inactivity timeout: a server
            with contextlib.suppress(Exception):  # caps the consumers a stream may have
                await kv._js.delete_consumer(kv._stream, name)
    return await _confirmed(kv, entries.values()) if lagging else list(entries.values())


async def _off_leader(kv: KeyValue, replica: str | None) -> bool:
    """Whether a consumer on `replica` (None: not clustered) is off the stream's leader,
    so it may hold older values than the leader."""
    if replica is None:
        return False
    cluster = (await kv._js.stream_info(kv._stream)).cluster
    return cluster is not None and cluster.leader != replica


async def _confirmed(kv: KeyValue, entries: Iterable[KeyValue.Entry]) -> list[KeyValue.Entry]:
    """Each entry read again from the stream's leader (a message get): the newer of the
    two kept, none if the key is gone."""

    async def confirm(entry: KeyValue.Entry) -> KeyValue.Entry | None:
        try:
            msg = await kv._js.get_msg(kv._stream, subject=f"{kv._pre}{entry.key}")
        except NotFoundError:
            return None
        headers = msg.headers or {}
        if headers.get("KV-Operation") or headers.get("Nats-Marker-Reason"):
            return None
        if (msg.seq or 0) <= (entry.revision or 0):
            return entry
        return KeyValue.Entry(
            bucket=kv._name,
            key=entry.key,
            value=msg.data,
            revision=msg.seq,
            delta=None,
            created=msg.time,  # type: ignore[arg-type]  # nats-py: a datetime
            operation=None,
        )

    confirmed = await asyncio.gather(*(confirm(entry) for entry in entries))
    return [entry for entry in confirmed if entry is not None]
