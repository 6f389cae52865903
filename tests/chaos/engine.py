"""An engine that records its history: `python -m tests.chaos.engine --nats-url URL
--name NAME --out FILE`, run in a host of the fault tests.

It is an ordinary `DriftStreamClient` (presence, mirrors, reconnects) that writes
- `take`: every value it accepts (`DriftStreamClient.tap`: bucket, key, stream
  sequence, epoch, slot, the server's write time),
- `serve`: every `--probe-every` seconds, what each key read from it gives now (the
  value's sequence, epoch and write time; all null when it gives None),
- `fresh`: every `--fresh-every` seconds, a new client is started, and every value
  it takes until its first load is done is written (with the time it took it), then
  it leaves again (a new engine joining),
until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

from schemas.buckets import FUNDING_BUCKET, PRICES_BUCKET, SPOT_BUCKET
from schemas.models.base import SchemaModel
from subscribers.client import Accepted, DriftStreamClient
from tests.chaos.records import RecordFile

__all__ = ["main"]


def _fields(value: SchemaModel | None) -> dict[str, Any]:
    return {"epoch": getattr(value, "epoch", None), "slot": getattr(value, "slot", None)}


class RecordingEngine:
    """One client, its takes recorded, probed and joined by fresh clients."""

    def __init__(self, client: DriftStreamClient, out: RecordFile) -> None:
        self.client = client
        self.out = out
        self.last: dict[tuple[str, str], Accepted] = {}

    def take(self, accepted: Accepted) -> None:
        self.last[(accepted.bucket, accepted.key)] = accepted
        self.out.write(
            "take",
            t=accepted.received_at,
            bucket=accepted.bucket,
            key=accepted.key,
            seq=accepted.seq,
            written=accepted.written_at,
            **_fields(accepted.value),
        )

    async def _read(self, bucket: str, key: str) -> SchemaModel | None:
        symbol = key.split(".", 1)[1] if "." in key else key
        if bucket == FUNDING_BUCKET:
            return await self.client.funding(symbol)
        if bucket == PRICES_BUCKET:
            return await self.client.market(symbol)
        if bucket == SPOT_BUCKET:
            return await self.client.spot(symbol)
        return await self.client.markets()

    async def probe(self) -> None:
        """What every key known so far reads as now."""
        for (bucket, key), last in list(self.last.items()):
            value = await self._read(bucket, key)
            if value is None:
                self.out.write("serve", bucket=bucket, key=key, seq=None, epoch=None, written=None)
            elif value is last.value:
                self.out.write(
                    "serve", bucket=bucket, key=key, seq=last.seq, written=last.written_at,
                    **_fields(value),
                )  # fmt: skip

    async def join(self, url: str, name: str) -> None:
        """A new client starts, every value its first load takes is recorded (when it
        took it), and it leaves (within 15 s: a partition can keep it from NATS)."""
        joining = True

        def first_load(accepted: Accepted) -> None:
            if joining:
                self.out.write(
                    "fresh",
                    t=accepted.received_at,
                    bucket=accepted.bucket,
                    key=accepted.key,
                    seq=accepted.seq,
                    written=accepted.written_at,
                    **_fields(accepted.value),
                )

        try:
            async with (
                asyncio.timeout(15),
                DriftStreamClient(self.client.network, nats_url=url, name=name, tap=first_load),
            ):
                pass
        finally:
            joining = False


async def _every(seconds: float, work: Any) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except Exception as exc:  # NATS away: the next round tries again
            print(f"chaos engine: {work.__name__} failed: {exc!r}", flush=True)


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with RecordFile(Path(args.out), args.name) as out:
        async with DriftStreamClient(
            args.network, nats_url=args.nats_url, name=args.name
        ) as client:
            engine = RecordingEngine(client, out)
            client.tap(engine.take)
            joins = 0

            async def join() -> None:
                nonlocal joins
                joins += 1
                await engine.join(args.nats_url, f"{args.name}-fresh{joins}")

            tasks = [
                asyncio.create_task(_every(args.probe_every, engine.probe)),
                asyncio.create_task(_every(args.fresh_every, join)),
            ]
            out.write("mark", name="engine_up")
            await stop.wait()
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="local")
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--probe-every", type=float, default=0.2)
    parser.add_argument("--fresh-every", type=float, default=5.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
