"""Figures measured on every history: what was checked, and how takeovers went."""

from __future__ import annotations

import itertools

from tests.chaos.checks.core import CheckConfig, History, Outcome
from tests.chaos.history import Ack, Fault, Fresh, Get, Killed, Serve, Take

__all__ = ["figures", "first_takes", "takeovers"]


def first_takes(history: History) -> dict[int, float]:
    """Per epoch, the time of its first `take` at any engine."""
    first: dict[int, float] = {}
    for take in history.of(Take):
        if take.epoch is not None:
            first.setdefault(take.epoch, take.t)
    return first


def takeovers(history: History) -> list[dict[str, object]]:
    """For each epoch after the first: the last fault applied or process killed before
    its first `take` (and after the previous epoch's), and the seconds from that
    trigger to the first take; an epoch with no such trigger (a leader that stopped on
    its own) has no entry."""
    first = sorted((t, epoch) for epoch, t in first_takes(history).items())
    triggers: list[tuple[float, str]] = []
    for record in history.records:
        if isinstance(record, Fault) and record.phase == "apply":
            triggers.append((record.t, f"fault {record.what}"))
        elif isinstance(record, Killed):
            triggers.append((record.t, f"killed {record.src}"))
    out: list[dict[str, object]] = []
    for (before, _), (t, epoch) in itertools.pairwise(first):
        causes = [(at, what) for at, what in triggers if before < at <= t]
        if causes:
            at, what = causes[-1]
            out.append({"after": what, "t": at, "epoch": epoch, "seconds": t - at})
    return out


def figures(history: History, config: CheckConfig) -> Outcome:
    """The records checked by kind, each epoch's first take (`first_take_by_epoch`) and
    the `takeovers`; these figures flag nothing."""
    outcome = Outcome()
    for name, kind in (
        ("takes", Take),
        ("serves", Serve),
        ("fresh", Fresh),
        ("gets", Get),
        ("acks", Ack),
    ):
        outcome.figures[name] = len(history.of(kind))
    outcome.figures["first_take_by_epoch"] = first_takes(history)
    outcome.figures["takeovers"] = takeovers(history)
    return outcome
