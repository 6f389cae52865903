"""The check that every engine catches up with the final state after the faults heal."""

from __future__ import annotations

from collections import defaultdict

from tests.chaos.checks.core import CheckConfig, History, Outcome
from tests.chaos.history import Take

__all__ = ["convergence"]


def convergence(history: History, config: CheckConfig) -> Outcome:
    """Proves engines converge: for the last `kv` snapshot, every engine (a `src` with
    `take` records) took, for every key the snapshot holds that engines read (some
    engine took it: not a key of the writer's own, like the write fence) in a bucket
    the engine reads (took anything from), a value with `seq` >= the snapshot's, at
    most `convergence_bound` seconds after the snapshot (or before it).

    Figure `convergence`: the largest time from the snapshot to such a first take (0 if
    the engine had it already), or why the check did not run."""
    outcome = Outcome()
    snapshot = history.snapshot()
    if not snapshot:
        outcome.figures["convergence"] = "skipped: no kv snapshot"
        return outcome
    at, worst = snapshot[0].t, 0.0
    takes: dict[str, dict[tuple[str, str], list[Take]]] = defaultdict(lambda: defaultdict(list))
    for take in history.of(Take):
        takes[take.src][take.bucket, take.key].append(take)
    read = {key for by_key in takes.values() for key in by_key}
    for engine, by_key in sorted(takes.items()):
        buckets = {bucket for bucket, _ in by_key}
        for kv in snapshot:
            if kv.seq is None or kv.bucket not in buckets or (kv.bucket, kv.key) not in read:
                continue
            mine = by_key.get((kv.bucket, kv.key), [])
            first = next((take for take in mine if take.seq >= kv.seq), None)
            if first is None:
                had = f"seq {mine[-1].seq}" if mine else "nothing"
                outcome.flag(
                    f"{engine} never took {kv.bucket} {kv.key} seq >= {kv.seq} (the "
                    f"snapshot's); it took {had}",
                    mine[-1] if mine else None,
                    kv,
                )
                continue
            late = max(0.0, first.t - at)
            worst = max(worst, late)
            if late > config.convergence_bound:
                outcome.flag(
                    f"{engine} took {kv.bucket} {kv.key} seq {first.seq} {late:.3f} s after "
                    f"the snapshot; the bound is {config.convergence_bound:g} s",
                    kv,
                    first,
                )
    outcome.figures["convergence"] = worst
    return outcome
