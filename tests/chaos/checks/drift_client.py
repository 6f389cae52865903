"""The check that one DriftClient serves a network, but for a short overlap at takeover."""

from __future__ import annotations

from typing import NamedTuple

from tests.chaos.checks.core import CheckConfig, History, Outcome
from tests.chaos.history import DriftClient, Killed, Record

__all__ = ["holdings", "one_drift_client"]


class Holding(NamedTuple):
    """One instance's DriftClient from its start to its stop (None: still held)."""

    src: str
    start: DriftClient
    stop: Record | None


def holdings(history: History) -> list[Holding]:
    """Every interval an instance held a DriftClient: from a `drift_client` start to its
    stop or the instance's `killed`. A second start while holding one is not a new
    interval; pauses do not end one."""
    ends: list[DriftClient | Killed] = [*history.of(DriftClient), *history.of(Killed)]
    held: dict[str, DriftClient] = {}
    out: list[Holding] = []
    for record in sorted(ends, key=lambda r: r.t):
        if isinstance(record, DriftClient) and record.state == "start":
            held.setdefault(record.src, record)
        elif record.src in held:
            out.append(Holding(record.src, held.pop(record.src), record))
    out += [Holding(src, start, None) for src, start in held.items()]
    return out


def one_drift_client(history: History, config: CheckConfig) -> Outcome:
    """Proves one feed subscription per network: every period in which two or more
    instances held a DriftClient (one still held at the end counts until the last
    record) lasts at most `overlap_bound` seconds.

    Figures: `overlaps` (periods of positive length), `longest_overlap` (seconds)."""
    outcome = Outcome()
    # Sweep the ends before the starts of one instant: a handover is not an overlap.
    points: list[tuple[float, int, Holding]] = []
    for holding in holdings(history):
        stop = holding.stop.t if holding.stop is not None else history.end
        if stop > holding.start.t:
            points += [(holding.start.t, 1, holding), (stop, -1, holding)]
    points.sort(key=lambda point: (point[0], point[1]))
    held: set[Holding] = set()
    involved: list[Holding] = []
    since, overlaps, longest = 0.0, 0, 0.0
    for t, step, holding in points:
        if step > 0:
            held.add(holding)
            if len(held) == 2:
                since, involved = t, sorted(held, key=lambda h: h.start.t)
            elif len(held) > 2:
                involved.append(holding)
            continue
        held.discard(holding)
        if len(held) != 1 or t <= since:
            continue  # not the end of an overlap (or one of no length)
        overlaps, longest = overlaps + 1, max(longest, t - since)
        if t - since > config.overlap_bound:
            names = list(dict.fromkeys(h.src for h in involved))
            outcome.flag(
                f"{len(names)} DriftClients ({', '.join(names)}) at once for "
                f"{t - since:.3f} s from {since:.3f}; the bound is {config.overlap_bound:g} s",
                *[r for h in involved for r in (h.start, h.stop)],
            )
    outcome.figures.update(overlaps=overlaps, longest_overlap=longest)
    return outcome
