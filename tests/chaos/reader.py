"""A raw reader of the buckets, as a new engine or the nats CLI reads them:
`python -m tests.chaos.reader --nats-url URL --name NAME --out FILE`, run in every host.

Every `--every` seconds it writes
- `fresh`: the last value of every key of every data bucket, read the way an engine's
  first load reads them (`subscribers.buckets.last_entries`),
- `get`: each of those keys read again with a plain `kv.get` (the nats CLI's way),
- `ack`: its own presence heartbeat (`drift_consumers`), as the server acknowledged it
  (the checker proves acknowledged writes survive),
until SIGTERM or SIGINT. A round that fails (NATS away) is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from pathlib import Path

import nats
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from schemas import ConsumerPresence, encode
from schemas.buckets import (
    CONSUMERS_BUCKET,
    FUNDING_BUCKET,
    MARKETS_BUCKET,
    PRICES_BUCKET,
    SPOT_BUCKET,
)
from subscribers.buckets import last_entries
from tests.chaos.records import RecordFile

__all__ = ["DATA_BUCKETS", "epoch_of", "main"]

DATA_BUCKETS = (FUNDING_BUCKET, PRICES_BUCKET, MARKETS_BUCKET, SPOT_BUCKET)


def epoch_of(data: bytes | None) -> int | None:
    """The epoch field of a stored value (None if there is none)."""
    try:
        epoch = json.loads(data or b"{}").get("epoch")
    except (ValueError, AttributeError):
        return None
    return epoch if isinstance(epoch, int) else None


async def read_round(kvs: dict[str, KeyValue], network: str, out: RecordFile) -> None:
    """Every key's last value twice: as a first load, then with kv.get."""
    for bucket, kv in kvs.items():
        pattern = network if bucket == MARKETS_BUCKET else f"{network}.*"
        entries = await last_entries(kv, pattern, timeout_s=3)
        for entry in entries:
            out.write(
                "fresh",
                bucket=bucket,
                key=entry.key,
                seq=entry.revision,
                epoch=epoch_of(entry.value),
                slot=None,
                written=None,
            )
        for entry in entries:
            try:
                got = await kv.get(entry.key)
            except KeyNotFoundError:
                out.write("get", bucket=bucket, key=entry.key, seq=None, epoch=None, written=None)
                continue
            out.write(
                "get",
                bucket=bucket,
                key=entry.key,
                seq=got.revision,
                epoch=epoch_of(got.value),
                written=None,
            )


async def heartbeat(kv: KeyValue, network: str, name: str, out: RecordFile) -> None:
    """One presence write of this reader, recorded once acknowledged."""
    key = f"{network}.{name}"
    value = ConsumerPresence(consumer_id=name, name=name, ts=time.time())
    seq = await kv.put(key, encode(value))
    out.write("ack", bucket=CONSUMERS_BUCKET, key=key, seq=seq, epoch=None)


async def _bind(js: JetStreamContext, bucket: str, stop: asyncio.Event) -> KeyValue:
    """The bucket, once it can be bound (the streamer makes it; NATS may be away)."""
    while True:
        try:
            return await js.key_value(bucket)
        except Exception as exc:
            if stop.is_set():
                raise
            print(f"chaos reader: binding {bucket}: {exc!r}", flush=True)
            await asyncio.sleep(0.5)


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with RecordFile(Path(args.out), args.name) as out:
        nc = await nats.connect(
            args.nats_url.split(","),
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            ping_interval=5,
            max_outstanding_pings=3,
        )
        try:
            js = nc.jetstream(timeout=3)
            kvs = {bucket: await _bind(js, bucket, stop) for bucket in DATA_BUCKETS}
            presence = await _bind(js, CONSUMERS_BUCKET, stop)
            out.write("mark", name="reader_up")
            while not stop.is_set():
                for work in (
                    read_round(kvs, args.network, out),
                    heartbeat(presence, args.network, args.name, out),
                ):
                    try:
                        await work
                    except Exception as exc:  # NATS away: the next round tries again
                        print(f"chaos reader: {exc!r}", flush=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), args.every)
        finally:
            await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="local")
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--every", type=float, default=1.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
