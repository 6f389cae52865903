"""Create-or-bind the KV buckets from their one definition in `schemas.buckets`."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, RePublish, StorageType, StreamConfig
from nats.js.errors import BadRequestError
from nats.js.kv import KeyValue

from schemas.buckets import BucketSpec, StreamSpec

__all__ = ["ensure_bucket", "ensure_buckets", "ensure_stream", "kv_config"]

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


async def ensure_bucket(js: JetStreamContext, spec: BucketSpec, *, replicas: int = 1) -> KeyValue:
    """Create the bucket, or bind to it if another process created it first.

    A bucket that exists with another configuration (say, another TTL) is bound as it
    is and the difference logged: the first creator's config wins, nothing is deleted.
    """
    config = kv_config(spec, replicas=replicas)
    try:
        return await js.create_key_value(config)
    except BadRequestError as exc:
        kv = await js.key_value(spec.name)
        status = await kv.status()
        log.warning(
            "bucket %s exists with another configuration; using it as it is (%s)",
            spec.name,
            exc.description,
            extra={"bucket": spec.name, "want_ttl_s": spec.ttl_s, "has_ttl_s": status.ttl},
        )
        return kv


async def ensure_buckets(
    js: JetStreamContext, specs: Mapping[str, BucketSpec], *, replicas: int = 1
) -> dict[str, KeyValue]:
    """Every bucket of `specs`, by name."""
    return {name: await ensure_bucket(js, spec, replicas=replicas) for name, spec in specs.items()}


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, *, replicas: int = 1) -> None:
    """Create the history stream, or leave an existing one as it is."""
    config = StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        max_age=spec.max_age_s,
        max_bytes=spec.max_bytes,
        storage=StorageType.FILE,
        num_replicas=replicas,
    )
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        log.warning(
            "stream %s exists with another configuration; using it as it is (%s)",
            spec.name,
            exc.description,
            extra={"stream": spec.name},
        )
