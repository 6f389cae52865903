"""Where one market update's CPU goes, stage by stage, the old and the new path side by side.

A market update (its account and its oracle changed in a slot) costs the streamer:

- decode: the PerpMarket account's bytes to the fields our math reads (`DRIFT_DECODER`:
  ours, or driftpy's IDL coder, the path before our decoder), and the oracle account's;
- math: `market_state`, the SDK's rules (bid, ask, mark, funding estimate);
- build: the FundingRate and the MarketSnapshot models;
- encode: both to JSON;
- put: both written, fenced, to a real nats-server, in a pass of every market: each
  acknowledgement awaited as its own request (`js.publish`, the path before) or the pass
  pipelined with its answers gathered at once (`streamer.acks`).

Each stage is timed alone over every perp market of the mainnet preset (85), as the
median of `rounds` rounds that alternate between the two paths, so machine noise hits
both alike. What the stages do not hold (the websocket's receive, asyncio, the nats-py
read loop, the pass's bookkeeping) is what the fan-out figure has on top.

.venv/bin/python -m benchmarks.stages [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats

from localnet.ledger import Ledger
from localnet.markets import STATE_ADDRESS, DriftMarkets
from localnet.presets import preset
from schemas import encode, fence_key
from schemas.buckets import FUNDING_BUCKET, bucket_specs
from schemas.subjects import kv_subject
from streamer.buckets import ensure_bucket
from streamer.decode import guard_rails_of, market_state
from streamer.decoders import DECODERS
from streamer.fence_stream import JetStreamFence
from streamer.idl import decode_account
from streamer.models import funding_rate, market_snapshot
from streamer.nats_server import NatsServer
from streamer.oracle_reader import OracleReader

__all__ = ["STAGES", "run_stages", "stages_table"]

STAGES = ("decode", "math", "build", "encode", "put")
_PATHS = ("old", "new")


def _cpu_us(work: Callable[[], object], count: int) -> float:
    started = time.process_time()
    work()
    return 1e6 * (time.process_time() - started) / count


async def _acpu_us(work: Callable[[], Any], count: int) -> float:
    started = time.process_time()
    await work()
    return 1e6 * (time.process_time() - started) / count


async def run_stages(root: Path, rounds: int = 30) -> dict[str, Any]:
    """CPU us per market update of each stage on each path (medians of `rounds`)."""
    ledger = Ledger()
    markets = DriftMarkets(ledger, preset("mainnet"))
    blobs = [_data(ledger, str(view.address)) for view in markets.perps]
    rails = guard_rails_of(decode_account("State", _data(ledger, str(STATE_ADDRESS))))
    accounts = [DECODERS["own"].perp(blob) for blob in blobs]
    now = int(time.time())

    def lookup(key: str) -> tuple[bytes, int] | None:
        account = ledger.get(key)
        return None if account is None else (account.data, 1)

    def readings() -> list[Any]:
        reader = OracleReader(lookup)  # a fresh reader: every oracle decoded again
        return [reader.reading(a.oracle, a.oracle_source) for a in accounts]

    oracles = readings()
    states = [market_state(a, 1, o, rails, now) for a, o in zip(accounts, oracles, strict=True)]

    def build() -> list[Any]:
        out: list[Any] = []
        for s in states:
            out.append(funding_rate(s, network="local", slot=1, ts=now, epoch=1))
            out.append(market_snapshot(s, network="local", slot=1, ts=now, epoch=1))
        return [m for m in out if m is not None]

    models = build()
    payloads = [encode(m) for m in models]
    n = len(blobs)
    samples: dict[tuple[str, str], list[float]] = {(p, s): [] for p in _PATHS for s in STAGES}
    async with NatsServer(store_dir=Path(tempfile.mkdtemp(prefix="js-stages-", dir=root))) as s:
        nc = await nats.connect(s.url)
        try:
            kv = await ensure_bucket(nc.jetstream(), bucket_specs()[FUNDING_BUCKET])
            fence = JetStreamFence(kv)
            subject = kv_subject(FUNDING_BUCKET, fence_key("local"))
            seq = await fence.put_fence(subject, b"{}", expected=0)
            items = [(f"local.m{i}", p) for i, p in enumerate(payloads)]
            headers = {
                "Nats-Expected-Last-Subject-Sequence": str(seq),
                "Nats-Expected-Last-Subject-Sequence-Subject": subject,
            }
            js = nc.jetstream()

            async def put_old() -> None:  # each acknowledgement its own request
                pre = kv._pre
                await asyncio.gather(*(js.publish(pre + k, d, headers=headers) for k, d in items))

            async def put_new() -> None:
                await fence.put_many(items, fence=subject, seq=seq)

            for round_ in range(rounds + 1):  # the first round warms up, untimed
                for path in _PATHS:
                    perp = DECODERS["own" if path == "new" else "anchorpy"].perp

                    def decode(perp: Callable[[bytes], Any] = perp) -> object:
                        return [perp(b) for b in blobs], readings()

                    took = {
                        "decode": _cpu_us(decode, n),
                        "math": _cpu_us(
                            lambda: [
                                market_state(a, 1, o, rails, now)
                                for a, o in zip(accounts, oracles, strict=True)
                            ],
                            n,
                        ),
                        "build": _cpu_us(build, n),
                        "encode": _cpu_us(lambda: [encode(m) for m in models], n),
                        "put": await _acpu_us(put_new if path == "new" else put_old, n),
                    }
                    if round_:
                        for stage, us in took.items():
                            samples[path, stage].append(us)
        finally:
            await nc.close()
    out: dict[str, Any] = {"rounds": rounds, "markets": n, "values_per_update": len(items) / n}
    for path in _PATHS:
        per = {stage: statistics.median(samples[path, stage]) for stage in STAGES}
        out[path] = {**per, "total": sum(per.values())}
    return out


def _data(ledger: Ledger, address: str) -> bytes:
    account = ledger.get(address)
    if account is None:
        raise LookupError(f"localnet holds no account {address}")
    return account.data


def stages_table(result: dict[str, Any]) -> str:
    """`run_stages` as a markdown table: each stage's us per market update, both paths."""
    old, new = result["old"], result["new"]
    lines = [
        "| stage | before (anchorpy decode, acks one by one) | now | now / before |",
        "|---|---|---|---|",
    ]
    for stage in (*STAGES, "total"):
        ratio = new[stage] / old[stage] if old[stage] else 0.0
        lines.append(f"| {stage} | {old[stage]:.1f} us | {new[stage]:.1f} us | {ratio:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="CPU per market update, stage by stage")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drift-stages-") as tmp:
        print(stages_table(asyncio.run(run_stages(Path(tmp), args.rounds))))


if __name__ == "__main__":
    main()
