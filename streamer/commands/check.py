"""`drift-stream streamer --check --instance-id ID`: the healthcheck of one streamer
instance (exit 0 if its heartbeat in drift_health is there and fresh, else 1)."""

from __future__ import annotations

import argparse
import time

from streamer.commands.common import ONE_SHOT, settings_for
from streamer.redact import redact_url
from subscribers.connection import server_list

__all__ = ["run"]


async def run(args: argparse.Namespace) -> None:
    """Healthcheck: the instance's heartbeat in drift_health is there and fresh."""
    import nats

    from schemas import StreamerStatus, decode
    from schemas.buckets import HEALTH_BUCKET
    from streamer.app import health_key

    if not args.instance_id:
        raise SystemExit("--check needs --instance-id (the instance to check)")
    settings = settings_for(args, "streamer", network=args.network, nats_url=args.nats_url)
    try:
        nc = await nats.connect(
            server_list(settings.nats_url.get_secret_value()), **ONE_SHOT, connect_timeout=2
        )
    except Exception as exc:
        raise SystemExit(f"unhealthy: NATS unreachable: {redact_url(str(exc))}") from None
    try:
        kv = await nc.jetstream(timeout=2).key_value(HEALTH_BUCKET)
        entry = await kv.get(health_key(settings.network, args.instance_id))
        status = decode(StreamerStatus, entry.value or b"")
        ttl = (await kv.status()).ttl or 10.0
    except Exception as exc:
        raise SystemExit(f"unhealthy: no heartbeat of {args.instance_id}: {exc!r}") from None
    finally:
        await nc.close()
    age = time.time() - status.ts
    if age > ttl:
        raise SystemExit(f"unhealthy: last heartbeat {age:.1f} s ago")
    print(f"healthy: {args.instance_id} {status.state.value}, heartbeat {age:.1f} s ago")
