"""The check that the server keeps every write it acknowledged."""

from __future__ import annotations

from tests.chaos.checks.core import CheckConfig, History, Outcome
from tests.chaos.history import Ack, Kv

__all__ = ["acked_not_lost"]


def acked_not_lost(history: History, config: CheckConfig) -> Outcome:
    """Proves no acknowledged write was lost. A stream that lost acknowledged messages
    hands their sequences out again: two `ack` records of one bucket and `seq` with a
    different key or epoch are a loss. Against the last `kv` snapshot: for each acked
    (bucket, key), the snapshot's seq is >= the largest seq acked before the snapshot
    (minus slack), unless the key is absent and that write may have expired (acked more
    than the bucket's TTL minus slack before the snapshot).

    Figures: `acked_writes_checked` (ack records), `values_lost` (this check's findings)."""
    outcome = Outcome()
    acks = history.of(Ack)
    by_seq: dict[tuple[str, int], Ack] = {}
    for ack in acks:
        first = by_seq.setdefault((ack.bucket, ack.seq), ack)
        if (first.key, first.epoch) != (ack.key, ack.epoch):
            outcome.flag(
                f"{ack.bucket} seq {ack.seq} acknowledged twice: {first.key} epoch "
                f"{first.epoch} to {first.src}, then {ack.key} epoch {ack.epoch} to {ack.src}",
                first,
                ack,
            )
    snapshot = history.snapshot()
    if snapshot:
        _against(snapshot, acks, config, outcome)
    else:
        outcome.figures["acks_against_snapshot"] = "skipped: no kv snapshot"
    outcome.figures.update(acked_writes_checked=len(acks), values_lost=len(outcome.problems))
    return outcome


def _against(snapshot: list[Kv], acks: list[Ack], config: CheckConfig, outcome: Outcome) -> None:
    """Flag each acked key the snapshot lacks or holds at an older seq."""
    at = snapshot[0].t
    current = {(kv.bucket, kv.key): kv for kv in snapshot}
    latest: dict[tuple[str, str], Ack] = {}
    for ack in acks:
        best = latest.get((ack.bucket, ack.key))
        if ack.t <= at - config.slack and (best is None or ack.seq > best.seq):
            latest[ack.bucket, ack.key] = ack
    for (bucket, key), ack in sorted(latest.items()):
        kv = current.get((bucket, key))
        if kv is not None and kv.seq is not None:
            if kv.seq < ack.seq:
                outcome.flag(
                    f"{bucket} {key} is at seq {kv.seq} in the snapshot, before seq "
                    f"{ack.seq} acknowledged to {ack.src}",
                    ack,
                    kv,
                )
            continue
        ttl = config.ttl.get(bucket)
        if ttl is not None and at - ack.t > ttl - config.slack:
            continue  # it may have expired
        # The key's null record, else another of the bucket's: when the snapshot was.
        seen = next((other for other in snapshot if other.bucket == bucket), snapshot[0])
        seen = kv if kv is not None else seen
        outcome.flag(
            f"{bucket} {key} is absent from the snapshot {at - ack.t:.3f} s after seq "
            f"{ack.seq} was acknowledged to {ack.src}; the bucket's TTL is "
            f"{'none' if ttl is None else f'{ttl:g} s'}",
            ack,
            seen,
        )
