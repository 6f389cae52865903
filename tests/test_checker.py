"""The chaos history checker: a clean history passes with the figures computed by hand;
each check fails on a history that breaks only its invariant; random valid histories
pass and a random mutation of a kind is caught by the check for that kind; the loader
reports bad lines instead of raising."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chaos import checker, history
from tests.chaos.checker import CHECKS, CheckConfig, Verdict, check, format
from tests.chaos.checks.core import History
from tests.chaos.checks.drift_client import holdings
from tests.chaos.history import (
    Ack,
    DriftClient,
    Fresh,
    Kv,
    Malformed,
    Record,
    Take,
    load,
    parse,
)

PRICES, FUNDING, MARKETS = "drift_prices", "drift_funding", "drift_markets"
SOL, BTC = "local.SOL-PERP", "local.BTC-PERP"
TTL = {PRICES: 10.0, FUNDING: 30.0, MARKETS: 60.0, "drift_spot": 30.0}
CONFIG = CheckConfig(ttl=TTL, overlap_bound=20.0, convergence_bound=5.0)
SLACK = CONFIG.slack
_lines = itertools.count(1)


def rec(ev: str, t: float, src: str, **fields: Any) -> Record:
    """One record as the loader would read it from a line of `h.jsonl`."""
    record = parse({"ev": ev, "t": t, "src": src, **fields}, "h.jsonl", next(_lines))
    assert record is not None
    assert not isinstance(record, Malformed), record.error
    return record


def value(bucket: str, key: str, seq: int | None, epoch: int | None, **more: Any) -> Any:
    return {"bucket": bucket, "key": key, "seq": seq, "epoch": epoch, **more}


def clean() -> list[Record]:
    """Two leaders: s1 (epoch 1) is partitioned at 1005, s2 (epoch 2) elected at 1020;
    s1 stops its DriftClient at the heal (1025). Two engines take every value, a fresh
    client and a raw get read epoch 2, BTC expires before the snapshot at 1030.25."""
    return [
        rec("elected", 1000.0, "s1", epoch=1),
        rec("drift_client", 1000.0, "s1", state="start"),
        rec("ack", 1001.0, "s1", **value(PRICES, SOL, 1, 1)),
        rec("take", 1001.25, "e1", **value(PRICES, SOL, 1, 1, written=1001.0, slot=10)),
        rec("take", 1001.5, "e2", **value(PRICES, SOL, 1, 1, written=1001.0, slot=10)),
        rec("ack", 1002.0, "s1", **value(PRICES, BTC, 2, 1)),
        rec("take", 1002.25, "e1", **value(PRICES, BTC, 2, 1, written=1002.0)),
        rec("take", 1002.5, "e2", **value(PRICES, BTC, 2, 1, written=1002.0)),
        rec("serve", 1002.5, "e1", **value(PRICES, SOL, 1, 1, written=1001.0)),
        rec("ack", 1003.0, "s1", **value(FUNDING, SOL, 1, 1)),
        rec("take", 1003.25, "e1", **value(FUNDING, SOL, 1, 1, written=1003.0)),
        rec("take", 1003.5, "e2", **value(FUNDING, SOL, 1, 1, written=1003.0)),
        rec("fault", 1005.0, "harness", what="partition s1", phase="apply"),
        rec("serve", 1012.5, "e1", **value(PRICES, SOL, None, None, written=None)),
        rec("elected", 1020.0, "s2", epoch=2),
        rec("drift_client", 1020.0, "s2", state="start"),
        rec("ack", 1021.0, "s2", **value(PRICES, SOL, 3, 2)),
        rec("take", 1021.5, "e1", **value(PRICES, SOL, 3, 2, written=1021.0)),
        rec("take", 1022.0, "e2", **value(PRICES, SOL, 3, 2, written=1021.0)),
        rec("ack", 1022.0, "s2", **value(FUNDING, SOL, 2, 2)),
        rec("take", 1022.5, "e1", **value(FUNDING, SOL, 2, 2, written=1022.0)),
        rec("take", 1023.0, "e2", **value(FUNDING, SOL, 2, 2, written=1022.0)),
        rec("fault", 1025.0, "harness", what="partition s1", phase="heal"),
        rec("drift_client", 1025.0, "s1", state="stop"),
        rec("deposed", 1025.5, "s1"),
        rec("fresh", 1026.0, "f1", **value(PRICES, SOL, 3, 2, written=1021.0)),
        rec("get", 1026.5, "host1", **value(FUNDING, SOL, 2, 2, written=1022.0)),
        rec("ack", 1030.0, "s2", **value(PRICES, SOL, 4, 2)),
        rec("kv", 1030.25, "harness", **value(PRICES, SOL, 4, 2)),
        rec("kv", 1030.25, "harness", **value(PRICES, BTC, None, None)),
        rec("kv", 1030.25, "harness", **value(FUNDING, SOL, 2, 2)),
        rec("take", 1030.5, "e1", **value(PRICES, SOL, 4, 2, written=1030.0)),
        rec("take", 1031.0, "e2", **value(PRICES, SOL, 4, 2, written=1030.0)),
        rec("mark", 1031.5, "harness", name="end"),
    ]


def test_clean_history_passes_with_figures_by_hand() -> None:
    """Every check passes, and each figure is the number worked out in `clean`."""
    verdict = check(clean(), CONFIG)
    assert verdict.ok, format(verdict)
    assert verdict.figures == {
        "takes": 12,
        "serves": 2,
        "fresh": 1,
        "gets": 1,
        "acks": 6,
        "first_take_by_epoch": {1: 1001.25, 2: 1021.5},
        # partitioned at 1005, epoch 2 first taken at 1021.5
        "takeovers": [{"after": "fault partition s1", "t": 1005.0, "epoch": 2, "seconds": 16.5}],
        "convergence": 0.75,  # e2 took seq 4 at 1031.0, the snapshot is at 1030.25
        "overlaps": 1,
        "longest_overlap": 5.0,  # s2 started at 1020, s1 stopped at 1025
        "acked_writes_checked": 6,
        "values_lost": 0,
        "behind_reads": 0,
        "behind_reads_latest": 0.0,
        "skipped": [],
    }
    assert format(verdict).startswith("OK")


def with_(records: list[Record], *more: Record) -> list[Record]:
    return [*records, *more]


def without(records: list[Record], drop: Callable[[Record], bool]) -> list[Record]:
    kept = [r for r in records if not drop(r)]
    assert len(kept) < len(records)
    return kept


def _is(ev: str, t: float, src: str) -> Callable[[Record], bool]:
    return lambda r: r.ev == ev and r.t == t and r.src == src


def _kv(bucket: str, seq: int | None = None) -> Callable[[Record], bool]:
    return lambda r: isinstance(r, Kv) and r.bucket == bucket and seq in (None, r.seq)


ONE_CHECK_BROKEN: dict[str, tuple[str, Callable[[], list[Record]], int]] = {
    # name: (check expected to fail, the history, how many of its records show it)
    "engine back to epoch 1": (
        "engine_epochs",
        lambda: with_(clean(), rec("take", 1024.0, "e1", **value(PRICES, SOL, 1, 1))),
        2,
    ),
    "serve 11 s old in a 10 s bucket": (
        "stale_serve",
        lambda: with_(
            clean(), rec("serve", 1032.0, "e1", **value(PRICES, SOL, 3, 2, written=1021.0))
        ),
        2,
    ),
    "get at a higher seq with a lower epoch": (
        "no_interleaving",
        lambda: with_(clean(), rec("get", 1031.25, "host1", **value(PRICES, BTC, 5, 1))),
        2,
    ),
    "two epochs under one seq": (
        "no_interleaving",
        lambda: with_(clean(), rec("get", 1027.0, "host1", **value(PRICES, BTC, 2, 2))),
        2,
    ),
    "fresh read of epoch 1 after an ack of epoch 2": (
        "fresh_reads",
        lambda: with_(clean(), rec("fresh", 1031.0, "f2", **value(PRICES, SOL, 1, 1))),
        2,
    ),
    "an engine never catches up": (
        "convergence",
        lambda: without(clean(), _is("take", 1031.0, "e2")),
        2,
    ),
    "an engine catches up too late": (
        "convergence",
        lambda: with_(
            without(clean(), _is("take", 1031.0, "e2")),
            rec("take", 1036.0, "e2", **value(PRICES, SOL, 4, 2)),
        ),
        2,
    ),
    "two DriftClients for 30 s with a 20 s bound": (
        "one_drift_client",
        lambda: with_(
            clean(),
            rec("drift_client", 1025.0, "s3", state="start"),
            rec("drift_client", 1055.0, "s3", state="stop"),
        ),
        3,
    ),
    "two acks with one seq": (
        "acked_not_lost",
        lambda: with_(clean(), rec("ack", 1002.1, "s1", **value(PRICES, "local.ETH-PERP", 2, 1))),
        2,
    ),
    "an acked key missing from the snapshot while alive": (
        "acked_not_lost",
        lambda: without(clean(), _kv(FUNDING)),
        2,  # the ack, and the snapshot (another of its keys)
    ),
    "the snapshot behind an acked seq": (
        "acked_not_lost",
        lambda: with_(
            without(clean(), _kv(PRICES, 4)),
            rec("kv", 1030.25, "harness", **value(PRICES, SOL, 3, 2)),
        ),
        2,
    ),
}


@pytest.mark.parametrize("case", list(ONE_CHECK_BROKEN))
def test_each_check_fails_alone_with_the_records_in_its_excerpt(case: str) -> None:
    """The history breaks one invariant: exactly that check fails, once, and its excerpt
    holds the records added or kept to break it (those not in the clean history, or
    named by the check)."""
    name, history, shown = ONE_CHECK_BROKEN[case]
    records = history()
    verdict = check(records, CONFIG)
    assert verdict.failed() == {name}, format(verdict)
    assert len(verdict.violations) == 1, format(verdict)
    (violation,) = verdict.violations
    baseline = {r.text().split("  (")[0] for r in clean()}
    added = [r for r in records if r.text().split("  (")[0] not in baseline]
    assert all(r in violation.excerpt for r in added), format(verdict)
    evidence = [r for r in violation.excerpt if r.ev not in ("fault", "mark", "elected", "deposed")]
    assert len(evidence) == shown, format(verdict)
    assert [r.t for r in violation.excerpt] == sorted(r.t for r in violation.excerpt)
    assert violation.message in format(verdict)


def test_skipped_checks_do_not_run() -> None:
    """A skipped check's violation is not reported, and the figures say it was skipped."""
    _, history, _ = ONE_CHECK_BROKEN["engine back to epoch 1"]
    verdict = check(history(), replace(CONFIG, skip=frozenset({"engine_epochs"})))
    assert verdict.ok
    assert verdict.figures["skipped"] == ["engine_epochs"]
    with pytest.raises(ValueError, match="no such checks"):
        check(history(), replace(CONFIG, skip=frozenset({"engine_epoch"})))


def test_no_snapshot_skips_convergence_and_says_so() -> None:
    """Without a `kv` snapshot the snapshot checks cannot run; the figures say so."""
    verdict = check([r for r in clean() if r.ev != "kv"], CONFIG)
    assert verdict.ok, format(verdict)
    assert verdict.figures["convergence"] == "skipped: no kv snapshot"
    assert verdict.figures["acks_against_snapshot"] == "skipped: no kv snapshot"


def test_the_fresh_read_slack_allows_a_read_just_after_a_write() -> None:
    """A fresh read 0.2 s after the new leader's ack may still see the old value; 0.3 s
    after it may not (slack 0.25 s)."""
    quiet: list[Record] = [r for r in clean() if r.ev != "fault"]  # no fault: no window
    early = check(with_(quiet, rec("get", 1021.2, "h", **value(PRICES, SOL, 1, 1))), CONFIG)
    late = check(with_(quiet, rec("get", 1021.3, "h", **value(PRICES, SOL, 1, 1))), CONFIG)
    assert early.ok, format(early)
    assert late.failed() == {"fresh_reads"}


def test_a_killed_streamer_ends_its_drift_client_a_paused_one_does_not() -> None:
    """SIGKILL ends a DriftClient, SIGSTOP does not: b overlaps a from 10 to 12 only."""
    records = [
        rec("drift_client", 0.0, "a", state="start"),
        rec("paused", 5.0, "a"),
        rec("drift_client", 10.0, "b", state="start"),
        rec("killed", 12.0, "b"),
        rec("resumed", 30.0, "a"),
        rec("mark", 40.0, "harness", name="end"),
    ]
    assert [(h.src, h.stop.ev if h.stop else None) for h in holdings(History(records))] == [
        ("b", "killed"),
        ("a", None),
    ]
    verdict = check(records, CONFIG)
    assert verdict.ok
    assert (verdict.figures["overlaps"], verdict.figures["longest_overlap"]) == (1, 2.0)


def test_the_public_api() -> None:
    """The names other modules may use: pinned, so a change is deliberate."""
    assert checker.__all__ == ["CHECKS", "CheckConfig", "Verdict", "Violation", "check", "format"]
    assert history.__all__ == [
        "Ack",
        "Deposed",
        "DriftClient",
        "Elected",
        "Fault",
        "Fresh",
        "Get",
        "Killed",
        "Kv",
        "Malformed",
        "Mark",
        "Paused",
        "Record",
        "Resumed",
        "Serve",
        "Take",
        "load",
        "parse",
    ]
    assert all(hasattr(module, name) for module in (checker, history) for name in module.__all__)


# --- random histories -----------------------------------------------------------------


@dataclass
class Scenario:
    """A generated valid history and what it was generated from (for mutations)."""

    records: list[Record] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    epochs: int = 0
    last_start: float = 0.0


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Leaders of epochs 1..n, each writing every key at least once, taken over by a
    partition or a kill; engines take values in order (every key's first and last
    value, others at random), serve live values, fresh readers read the latest value,
    and the snapshot holds each key's last value unless it expired."""
    out, t = Scenario(epochs=draw(st.integers(2, 4))), 1000.0
    buckets = draw(st.lists(st.sampled_from([PRICES, FUNDING, MARKETS]), min_size=1, unique=True))
    keys = [
        (b, k)
        for b in buckets
        for k in draw(st.lists(st.sampled_from([SOL, BTC]), min_size=1, unique=True))
    ]
    seqs = {b: draw(st.integers(0, 4)) for b in buckets}
    add, last_stop = out.records.append, 0.0
    for epoch in range(1, out.epochs + 1):
        leader = f"s{epoch}"
        add(rec("elected", t, leader, epoch=epoch))
        add(rec("drift_client", t, leader, state="start"))
        out.last_start = t
        writes = draw(st.permutations(keys)) + draw(st.lists(st.sampled_from(keys), max_size=5))
        for bucket, key in writes:
            t += draw(st.floats(0.01, 2.0))
            seqs[bucket] += draw(st.integers(1, 3))
            ack = rec("ack", t, leader, **value(bucket, key, seqs[bucket], epoch))
            assert isinstance(ack, Ack)
            out.acks.append(ack)
            add(ack)
            if draw(st.booleans()):
                add(_read(draw, out.acks, t))
        if epoch == out.epochs:
            break
        # after the last take of this epoch (takes lag at most 1 s), and the last stop
        t = max(t + 1.0, last_stop) + draw(st.floats(0.01, 2.0))
        killed = draw(st.booleans())
        if killed:
            add(rec("killed", t, leader))
        else:
            add(rec("fault", t, "harness", what=f"partition {leader}", phase="apply"))
        t += draw(st.floats(1.0, 20.0))  # the lease expires, the next leader is elected
        if not killed:
            stop = last_stop = t + draw(st.floats(0.0, CONFIG.overlap_bound * 0.9))
            add(rec("drift_client", stop, leader, state="stop"))
            add(rec("fault", stop, "harness", what=f"partition {leader}", phase="heal"))
            add(rec("deposed", stop, leader))
    snap = t + draw(st.floats(0.5, 3.0))
    for bucket, key in keys:
        last = [a for a in out.acks if (a.bucket, a.key) == (bucket, key)][-1]
        alive = snap - last.t <= TTL[bucket]
        add(
            rec(
                "kv",
                snap,
                "harness",
                **value(bucket, key, last.seq if alive else None, last.epoch if alive else None),
            )
        )
    # Every key's first value in each epoch, and its last value, are taken by all.
    required = [*{(a.bucket, a.key, a.epoch): a for a in reversed(out.acks)}.values()]
    required += {(a.bucket, a.key): a for a in out.acks}.values()
    for engine in [f"e{i}" for i in range(draw(st.integers(1, 3)))]:
        taken_at = 0.0
        for ack in out.acks:
            if ack not in required and draw(st.booleans()):
                continue
            taken_at = max(taken_at, ack.t + draw(st.floats(0.0, 1.0)))
            add(
                rec(
                    "take",
                    taken_at,
                    engine,
                    **value(ack.bucket, ack.key, ack.seq, ack.epoch, written=ack.t),
                )
            )
            if draw(st.booleans()):
                age = draw(st.floats(0.0, TTL[ack.bucket]))
                add(
                    rec(
                        "serve",
                        max(taken_at, ack.t + age),
                        engine,
                        **value(ack.bucket, ack.key, ack.seq, ack.epoch, written=ack.t),
                    )
                )
    add(rec("mark", max(r.t for r in out.records) + 0.1, "harness", name="end"))
    return out


def _read(draw: st.DrawFn, acks: list[Ack], t: float) -> Record:
    """A fresh client's or a raw get's read at `t` of some key's latest value (a get of
    nothing if it expired)."""
    some = draw(st.sampled_from(acks))
    latest = [a for a in acks if (a.bucket, a.key) == (some.bucket, some.key)][-1]
    if t - latest.t > TTL[latest.bucket]:
        return rec("get", t, "reader", **value(latest.bucket, latest.key, None, None))
    kind = draw(st.sampled_from(["fresh", "get"]))
    seen = value(latest.bucket, latest.key, latest.seq, latest.epoch, written=latest.t)
    return rec(kind, t, f"reader-{kind}", **seen)


@settings(max_examples=150, deadline=None)
@given(scenario=scenarios())
def test_random_valid_histories_pass(scenario: Scenario) -> None:
    """Property: a history generated to keep every invariant passes, every epoch is
    taken, and each takeover is measured up to the next epoch."""
    verdict = check(scenario.records, CONFIG)
    assert verdict.ok, format(verdict)
    assert verdict.figures["values_lost"] == 0
    assert verdict.figures["acked_writes_checked"] == len(scenario.acks)
    first, takeovers = verdict.figures["first_take_by_epoch"], verdict.figures["takeovers"]
    assert isinstance(first, dict)
    assert sorted(first) == list(range(1, scenario.epochs + 1))
    assert isinstance(takeovers, list)
    assert [t["epoch"] for t in takeovers] == list(range(2, scenario.epochs + 1))


Mutation = Callable[[st.DataObject, Scenario], list[Record]]


def _retake_older(data: st.DataObject, s: Scenario) -> list[Record]:
    """An engine takes a key's epoch-1 value again after its last take."""
    takes = [r for r in s.records if isinstance(r, Take)]
    newest = data.draw(st.sampled_from([t for t in takes if t.epoch == s.epochs]))
    old = next(
        t for t in takes if (t.src, t.bucket, t.key) == (newest.src, newest.bucket, newest.key)
    )
    later = max(t.t for t in takes if t.src == newest.src)
    return with_(
        s.records,
        rec("take", later + 0.5, old.src, **value(old.bucket, old.key, old.seq, old.epoch)),
    )


def _serve_expired(data: st.DataObject, s: Scenario) -> list[Record]:
    """An engine serves a value it took after the value's TTL (and the slack)."""
    take = data.draw(st.sampled_from([r for r in s.records if isinstance(r, Take)]))
    assert take.written is not None
    t = take.written + TTL[take.bucket] + SLACK + data.draw(st.floats(0.01, 10.0))
    return with_(
        s.records,
        rec(
            "serve",
            t,
            take.src,
            **value(take.bucket, take.key, take.seq, take.epoch, written=take.written),
        ),
    )


def _interleave(data: st.DataObject, s: Scenario) -> list[Record]:
    """A get sees epoch 1 above every seq of the stream, or a second epoch under one."""
    first = s.acks[0]
    if data.draw(st.booleans()):  # a deposed leader's value after all the stream's values
        top = max(a.seq for a in s.acks if a.bucket == first.bucket)
        return with_(
            s.records, rec("get", first.t, "h", **value(first.bucket, first.key, top + 1, 1))
        )
    # a second value under one sequence: an epoch-1 write seen with a later epoch
    return with_(
        s.records, rec("get", first.t, "h", **value(first.bucket, first.key, first.seq, 2))
    )


def _fresh_stale(data: st.DataObject, s: Scenario) -> list[Record]:
    """A fresh client reads a key's epoch-1 value after a later epoch's ack of it."""
    newer = data.draw(st.sampled_from([a for a in s.acks if a.epoch and a.epoch > 1]))
    old = next(a for a in s.acks if (a.bucket, a.key) == (newer.bucket, newer.key))
    windows = History(s.records).fault_windows(CONFIG.catch_up)
    after = max([newer.t + SLACK, *(end for _, end in windows)])  # no fault excuses it
    t = after + data.draw(st.floats(0.01, 5.0))
    return with_(
        s.records, rec("fresh", t, "late", **value(old.bucket, old.key, old.seq, old.epoch))
    )


def _lag(data: st.DataObject, s: Scenario) -> list[Record]:
    """An engine never takes a snapshot key's value, or takes it after the bound."""
    kv = data.draw(
        st.sampled_from([r for r in s.records if isinstance(r, Kv) and r.seq is not None])
    )
    engine = data.draw(st.sampled_from(sorted({r.src for r in s.records if isinstance(r, Take)})))

    def caught_up(r: Record) -> bool:
        return (
            isinstance(r, Take)
            and r.src == engine
            and (r.bucket, r.key) == (kv.bucket, kv.key)
            and r.seq >= (kv.seq or 0)
        )

    records = without(s.records, caught_up)
    if data.draw(st.booleans()):
        late = kv.t + CONFIG.convergence_bound + data.draw(st.floats(0.01, 5.0))
        records.append(rec("take", late, engine, **value(kv.bucket, kv.key, kv.seq, kv.epoch)))
    return records


def _second_drift_client(data: st.DataObject, s: Scenario) -> list[Record]:
    """A rogue instance holds a DriftClient beside the last leader for too long."""
    stop = s.last_start + CONFIG.overlap_bound + data.draw(st.floats(0.01, 10.0))
    return with_(
        s.records,
        rec("drift_client", s.last_start, "rogue", state="start"),
        rec("drift_client", stop, "rogue", state="stop"),
    )


def _lose_ack(data: st.DataObject, s: Scenario) -> list[Record]:
    """An acked seq is handed out again, or the newest acked key is absent or behind in
    the snapshot."""
    kvs = [r for r in s.records if isinstance(r, Kv) and r.seq is not None]
    newest = max(
        kvs, key=lambda kv: next(a.t for a in s.acks if (a.bucket, a.seq) == (kv.bucket, kv.seq))
    )
    how = data.draw(st.sampled_from(["reused", "absent", "behind"]))
    if how == "reused":
        ack = data.draw(st.sampled_from(s.acks))
        return with_(
            s.records,
            rec("ack", ack.t, "s0", **value(ack.bucket, "local.LOST-PERP", ack.seq, ack.epoch)),
        )
    records = without(s.records, lambda r: r is newest)
    seq = None if how == "absent" else (newest.seq or 0) - 1
    epoch = None if seq is None else newest.epoch
    records.append(rec("kv", newest.t, "harness", **value(newest.bucket, newest.key, seq, epoch)))
    return records


MUTATIONS: dict[str, Mutation] = {
    "engine_epochs": _retake_older,
    "stale_serve": _serve_expired,
    "no_interleaving": _interleave,
    "fresh_reads": _fresh_stale,
    "convergence": _lag,
    "one_drift_client": _second_drift_client,
    "acked_not_lost": _lose_ack,
}


def test_every_check_has_a_mutation() -> None:
    """The mutation property covers every check."""
    assert list(MUTATIONS) == list(CHECKS)


@settings(max_examples=150, deadline=None)
@given(scenario=scenarios(), name=st.sampled_from(list(MUTATIONS)), data=st.data())
def test_a_random_mutation_is_caught_by_its_check_alone(
    scenario: Scenario, name: str, data: st.DataObject
) -> None:
    """Each mutation breaks one invariant of a valid history: only its check fails."""
    verdict = check(MUTATIONS[name](data, scenario), CONFIG)
    assert verdict.failed() == {name}, format(verdict)


# --- the loader -----------------------------------------------------------------------


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_load_reports_bad_lines_ignores_unknown_kinds_and_sorts(tmp_path: Path) -> None:
    """Bad JSON, wrong types, a missing `ev`, an unreadable file: each a `Malformed`
    naming file and line (checker errors, not violations); unknown kinds and extra
    fields are ignored; records of several files come out sorted by time."""
    take = {"ev": "take", "t": 5.0, "src": "e1", **value(PRICES, SOL, 3, 1), "extra": "kept out"}
    a = _write(
        tmp_path / "a.jsonl",
        [
            json.dumps(take),
            "{not json",
            json.dumps({"ev": "heartbeat", "t": 1.0, "src": "x"}),
            "",
            json.dumps({**take, "seq": "7"}),
            json.dumps([1, 2]),
            json.dumps({"t": 1.0, "src": "x"}),
            json.dumps({**take, "t": 6.0, "bucket": None}),
            json.dumps({"ev": "serve", "t": 6.5, "src": "e1", **value(PRICES, SOL, None, 2)}),
        ],
    )
    b = _write(
        tmp_path / "b.jsonl",
        [json.dumps({"ev": "mark", "t": 1.0, "src": "harness", "name": "start"})],
    )
    c = tmp_path / "c.jsonl"
    c.write_bytes(b'{"ev": "mark", "t": NaN, "src": "h", "name": "x"}\n\xff\xfe\n')
    records = load([a, b, c, tmp_path / "missing.jsonl"])
    bad = {(r.file, r.line): r.error for r in records if isinstance(r, Malformed)}
    assert set(bad) == {(str(a), n) for n in (2, 5, 6, 7, 8, 9)} | {
        (str(c), 1),
        (str(c), 2),
        (str(tmp_path / "missing.jsonl"), 0),
    }
    assert "finite" in bad[str(c), 1]
    assert "seq" in bad[str(a), 5]
    assert "bucket" in bad[str(a), 8]
    assert "null" in bad[str(a), 9]
    good = [r for r in records if not isinstance(r, Malformed)]
    assert [(r.ev, r.t, Path(r.file).name, r.line) for r in good] == [
        ("mark", 1.0, "b.jsonl", 1),
        ("take", 5.0, "a.jsonl", 1),
    ]
    assert [r.t for r in records] == sorted(r.t for r in records)
    verdict = check(records, CONFIG)
    assert not verdict.ok
    assert not verdict.violations
    report = format(verdict)
    assert f"{a}:2:" in report
    assert f"{a}:8:" in report


def test_load_reads_what_clean_writes(tmp_path: Path) -> None:
    """A history written out and loaded back is judged the same, and excerpts name the
    file and line of each record."""
    records = ONE_CHECK_BROKEN["engine back to epoch 1"][1]()
    path = _write(
        tmp_path / "h.jsonl", [r.model_dump_json(exclude={"file", "line"}) for r in records]
    )
    loaded = load([path])
    verdict: Verdict = check(loaded, CONFIG)
    assert verdict.failed() == {"engine_epochs"}
    assert f"({path}:" in format(verdict)
    assert isinstance(loaded[1], DriftClient)
    assert isinstance(next(r for r in loaded if r.ev == "fresh"), Fresh)


def test_convergence_asks_only_for_keys_engines_read() -> None:
    """A key of the writer's own in a bucket engines read (the write fence) is in the
    snapshot but no engine takes it: convergence does not wait for it; a key an engine
    did take but one engine never caught up on still fails."""
    fence = "_fence.local.leader"
    records = [
        *clean(),
        rec("ack", 1020.5, "s2", **value(PRICES, fence, 100, 2)),
        rec("kv", 1030.25, "harness", **value(PRICES, fence, 100, 2)),
    ]
    assert check(records, CONFIG).ok, format(check(records, CONFIG))
    behind = [r for r in records if not (isinstance(r, Take) and r.src == "e2" and r.seq == 4)]
    assert check(behind, CONFIG).failed() == {"convergence"}


def test_a_node_behind_may_answer_an_older_state_during_a_fault_and_just_after() -> None:
    """A read of SOL's epoch-1 state (seq 1) while the partition is in force, or within
    `catch_up` of its heal (1025 + 5), is counted as a read from a node behind, not
    flagged; after that window it is flagged. A read at a higher seq with a lower epoch
    (a deposed write stored after the new one) is flagged even during the fault."""
    during = check(with_(clean(), rec("get", 1024.0, "h", **value(PRICES, SOL, 1, 1))), CONFIG)
    after_heal = check(with_(clean(), rec("get", 1029.0, "h", **value(PRICES, SOL, 1, 1))), CONFIG)
    assert during.ok, format(during)
    assert after_heal.ok, format(after_heal)
    assert (during.figures["behind_reads"], during.figures["behind_reads_latest"]) == (1, 0.0)
    assert after_heal.figures["behind_reads_latest"] == 4.0  # 1029 is 4 s after the heal
    past = check(with_(clean(), rec("get", 1030.5, "h", **value(PRICES, SOL, 1, 1))), CONFIG)
    assert past.failed() == {"fresh_reads"}
    interleaved = with_(clean(), rec("get", 1024.0, "h", **value(PRICES, SOL, 5, 1)))
    assert "fresh_reads" in check(interleaved, CONFIG).failed()
