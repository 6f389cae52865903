"""Figures measured on every history: what was checked, and how takeovers went."""

from __future__ import annotations

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
    """For each fault applied or process killed after some epoch was taken and before
    a higher one was: the first such higher epoch to be taken, and the seconds from the
    trigger to its first take."""
    first = first_takes(history)
    out: list[dict[str, object]] = []
    for trigger in history.records:
        if isinstance(trigger, Fault) and trigger.phase == "apply":
            what = f"fault {trigger.what}"
        elif isinstance(trigger, Killed):
            what = f"killed {trigger.src}"
        else:
            continue
        taken = [epoch for epoch, t in first.items() if t <= trigger.t]
        if not taken:
            continue  # the first leader's election is no takeover
        later = [(t, epoch) for epoch, t in first.items() if t > trigger.t and epoch > max(taken)]
        if later:
            t, epoch = min(later)
            out.append({"after": what, "t": trigger.t, "epoch": epoch, "seconds": t - trigger.t})
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
