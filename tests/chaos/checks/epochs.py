"""Checks that leaders' epochs only go forward: at each engine, in each stream, and for
readers that start after a new leader wrote."""

from __future__ import annotations

import bisect
from collections import defaultdict

from tests.chaos.checks.core import CheckConfig, History, Outcome
from tests.chaos.history import Ack, Fresh, Get, Take

__all__ = ["engine_epochs", "fresh_reads", "no_interleaving"]

Reading = Take | Fresh | Get


def _value(record: Reading | Ack, *, key: bool = True, bucket: bool = True) -> str:
    where = (f"{record.bucket} " if bucket else "") + (f"{record.key} " if key else "")
    return f"{where}epoch {record.epoch} (seq {record.seq})"


def engine_epochs(history: History, config: CheckConfig) -> Outcome:
    """Proves no engine went back to a deposed leader's value: per engine (`src`) and
    (bucket, key), the epochs of its `take` records in time order never decrease.
    Takes without an epoch are not judged."""
    outcome = Outcome()
    highest: dict[tuple[str, str, str], tuple[int, Take]] = {}
    for take in history.of(Take):
        if take.epoch is None:
            continue
        group = (take.src, take.bucket, take.key)
        best = highest.get(group)
        if best is not None and take.epoch < best[0]:
            after = _value(best[1], key=False)
            outcome.flag(f"{take.src} took {_value(take)} after {after}", best[1], take)
        elif best is None or take.epoch > best[0]:
            highest[group] = (take.epoch, take)
    return outcome


def no_interleaving(history: History, config: CheckConfig) -> Outcome:
    """Proves a deposed leader's writes never entered a stream after the new leader's:
    per bucket, over every process's `take`, `fresh` and `get` records ordered by `seq`,
    the epoch never decreases as `seq` increases. Records of one `seq` must agree on key
    and epoch: a disagreement means two values were stored under one sequence."""
    outcome = Outcome()
    streams: dict[str, dict[int, list[Reading]]] = defaultdict(lambda: defaultdict(list))
    readings: list[Reading] = [*history.of(Take), *history.of(Fresh), *history.of(Get)]
    for reading in readings:
        if reading.seq is not None:
            streams[reading.bucket][reading.seq].append(reading)
    for bucket, by_seq in sorted(streams.items()):
        highest: tuple[int, Reading] | None = None
        for seq in sorted(by_seq):
            values: dict[tuple[str, int | None], Reading] = {}
            for reading in sorted(by_seq[seq], key=lambda r: r.t):  # the first of each
                values.setdefault((reading.key, reading.epoch), reading)
            if len(values) > 1:
                seen = ", ".join(f"{key} epoch {epoch}" for key, epoch in values)
                outcome.flag(f"{bucket} seq {seq} holds two values: {seen}", *values.values())
            epochs = [(r.epoch, r) for r in values.values() if r.epoch is not None]
            if not epochs:
                continue
            low, high = min(epochs, key=_first), max(epochs, key=_first)
            if highest is not None and low[0] < highest[0]:
                outcome.flag(
                    f"{bucket}: {_value(low[1], bucket=False)} after a lower seq's "
                    f"{_value(highest[1], bucket=False)}",
                    highest[1],
                    low[1],
                )
            if highest is None or high[0] > highest[0]:
                highest = high
    return outcome


def fresh_reads(history: History, config: CheckConfig) -> Outcome:
    """Proves a reader that starts after a takeover never sees the deposed leader's
    value: a `fresh` or `get` of (bucket, key) at time t with epoch e is a violation if
    an `ack` or `take` of that key with a higher epoch happened before t - slack.

    One exception, a property of nats-server rather than of drift-stream: a read of an
    *older state* (a lower `seq` than that newer write's) while a fault is in force or
    within `catch_up` seconds of its heal. A stream leader cut off from its quorum
    keeps leading (and answering reads from its store) for up to 10 s, and a replica
    back from a partition serves what it has until routes return; such a read is
    counted (figures `behind_reads`, `behind_reads_latest`: the most seconds after a
    heal), not flagged. A read at a higher `seq` with a lower epoch (a deposed
    leader's write stored after the new leader's) is flagged always."""
    outcome = Outcome()
    windows = history.fault_windows(config.catch_up)
    behind, latest = 0, 0.0
    # Per key: the write times, and at each the first write of the highest epoch so far.
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    highest: dict[tuple[str, str], list[tuple[int, Ack | Take]]] = defaultdict(list)
    writes: list[Ack | Take] = [*history.of(Ack), *history.of(Take)]
    for write in sorted(writes, key=lambda w: w.t):
        if write.epoch is None:
            continue
        key, running = (write.bucket, write.key), highest[write.bucket, write.key]
        times[key].append(write.t)
        better = not running or write.epoch > running[-1][0]
        running.append((write.epoch, write) if better else running[-1])
    readers: list[Fresh | Get] = [*history.of(Fresh), *history.of(Get)]
    for reader in sorted(readers, key=lambda r: r.t):
        key = (reader.bucket, reader.key)
        if reader.epoch is None or key not in times:
            continue
        before = bisect.bisect_left(times[key], reader.t - config.slack)
        if before == 0:
            continue
        epoch, newer = highest[key][before - 1]
        if epoch > reader.epoch:
            window = next((w for w in windows if w[0] <= reader.t <= w[1]), None)
            older_state = reader.seq is not None and newer.seq > reader.seq
            if older_state and window is not None:
                behind += 1
                latest = max(latest, reader.t - (window[1] - config.catch_up))
                continue
            outcome.flag(
                f"{reader.src} read {_value(reader)} {reader.t - newer.t:.3f} s after "
                f"{newer.src}'s {newer.ev} of {_value(newer, key=False)}",
                newer,
                reader,
            )
    outcome.figures["behind_reads"] = behind
    outcome.figures["behind_reads_latest"] = latest
    return outcome


def _first(pair: tuple[int, Reading]) -> int:
    return pair[0]
