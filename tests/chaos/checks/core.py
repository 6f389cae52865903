"""What every check shares: the configuration, the indexed history, and an outcome."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar, cast

from tests.chaos.history import (
    Deposed,
    Elected,
    Fault,
    Killed,
    Kv,
    Mark,
    Paused,
    Record,
    Resumed,
)

__all__ = ["Check", "CheckConfig", "History", "Outcome", "Problem"]

R = TypeVar("R")
# Harness and leadership events: shown around a problem so a reader sees its cause.
_CONTEXT = (Fault, Killed, Paused, Resumed, Elected, Deposed, Mark)
_MAX_CONTEXT = 6


@dataclass(frozen=True)
class CheckConfig:
    """The bounds the history is judged by.

    `ttl`: seconds a value lives, per bucket (a bucket not named never expires).
    `slack`: seconds two records' times may disagree by (recording is not instant).
    `overlap_bound`: seconds two DriftClients may coexist after a takeover.
    `convergence_bound`: seconds after the final snapshot engines have to catch up.
    `catch_up`: seconds after a fault heals during which a reader may still be answered
        from a node behind (see `checks.epochs.fresh_reads`).
    `skip`: names of checks not to run.
    """

    ttl: Mapping[str, float]
    overlap_bound: float
    convergence_bound: float
    slack: float = 0.25
    catch_up: float = 5.0
    skip: frozenset[str] = frozenset()


class Problem(NamedTuple):
    """One thing a check found wrong: a one-line message and the records that show it."""

    message: str
    records: tuple[Record, ...]


@dataclass
class Outcome:
    """What one check found: its problems and the figures it measured."""

    problems: list[Problem] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)

    def flag(self, message: str, *records: Record | None) -> None:
        """Record a problem shown by these records (None ones left out)."""
        self.problems.append(Problem(message, tuple(r for r in records if r is not None)))


class History:
    """The records sorted by time (ties keep their order), indexed by kind."""

    def __init__(self, records: Iterable[Record]) -> None:
        self.records: list[Record] = sorted(records, key=lambda record: record.t)
        self._by_kind: dict[type, list[Record]] = defaultdict(list)
        self._position: dict[int, int] = {}
        for position, record in enumerate(self.records):
            self._by_kind[type(record)].append(record)
            self._position[id(record)] = position
        self._context = [r for r in self.records if isinstance(r, _CONTEXT)]
        self._context_times = [r.t for r in self._context]

    def of(self, kind: type[R]) -> list[R]:
        """The records of this kind, in time order."""
        return cast(list[R], self._by_kind.get(kind, []))

    @property
    def end(self) -> float:
        """The last record's time (0 for an empty history)."""
        return self.records[-1].t if self.records else 0.0

    def fault_windows(self, grace: float) -> list[tuple[float, float]]:
        """(apply, heal + grace) of every fault; one never healed lasts to the end."""
        opened: dict[str, list[float]] = defaultdict(list)
        windows: list[tuple[float, float]] = []
        for fault in self.of(Fault):
            if fault.phase == "apply":
                opened[fault.what].append(fault.t)
            elif opened[fault.what]:
                windows.append((opened[fault.what].pop(0), fault.t + grace))
        windows += [(t, self.end) for starts in opened.values() for t in starts]
        return sorted(windows)

    def snapshot(self) -> list[Kv]:
        """The last `kv` snapshot: every `kv` record at the latest `kv` time."""
        kvs = self.of(Kv)
        return [kv for kv in kvs if kv.t == kvs[-1].t] if kvs else []

    def excerpt(self, records: Iterable[Record]) -> tuple[Record, ...]:
        """These records and the harness and leadership events between the first and
        the last (at most a few, the latest), in time order, each once."""
        shown = {id(record): record for record in records}
        if not shown:
            return ()
        start, stop = min(r.t for r in shown.values()), max(r.t for r in shown.values())
        first = bisect.bisect_left(self._context_times, start)
        last = bisect.bisect_right(self._context_times, stop)
        between = [r for r in self._context[first:last] if id(r) not in shown]
        for record in between[-_MAX_CONTEXT:]:
            shown[id(record)] = record
        return tuple(sorted(shown.values(), key=lambda r: (r.t, self._position.get(id(r), 0))))


Check = Callable[[History, CheckConfig], Outcome]
