"""Judge a chaos test's history: `check(records, config)` runs every check and returns a
`Verdict` (violations with excerpts, and measured figures); `format` renders it.

The checks, in the order they run (each proves what its docstring says):

- `engine_epochs`: no engine goes back to an older epoch for a key;
- `stale_serve`: no engine serves a value older than its bucket's TTL;
- `no_interleaving`: in each stream, epochs never decrease as `seq` increases;
- `fresh_reads`: readers that start after a takeover never see the old leader's value;
- `convergence`: after healing, every engine catches up with the final snapshot;
- `one_drift_client`: one DriftClient per network, but for a bounded overlap;
- `acked_not_lost`: every acknowledged write survives (or expired by its TTL).

Malformed input lines are checker errors (the harness wrote something wrong), reported
apart from violations (the system did something wrong); either fails the verdict.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from tests.chaos.checks.acks import acked_not_lost
from tests.chaos.checks.convergence import convergence
from tests.chaos.checks.core import Check, CheckConfig, History
from tests.chaos.checks.drift_client import one_drift_client
from tests.chaos.checks.epochs import engine_epochs, fresh_reads, no_interleaving
from tests.chaos.checks.figures import figures
from tests.chaos.checks.staleness import stale_serve
from tests.chaos.history import Malformed, Record

__all__ = ["CHECKS", "CheckConfig", "Verdict", "Violation", "check", "format"]

CHECKS: dict[str, Check] = {
    run.__name__: run
    for run in (
        engine_epochs,
        stale_serve,
        no_interleaving,
        fresh_reads,
        convergence,
        one_drift_client,
        acked_not_lost,
    )
}
# Violations shown per check by `format`; the verdict keeps them all.
SHOWN = 10


@dataclass(frozen=True)
class Violation:
    """A check that failed: its name, a one-line message, and the records around the
    problem in time order."""

    check: str
    message: str
    excerpt: tuple[Record, ...]


@dataclass(frozen=True)
class Verdict:
    """Every violation found, the input lines that could not be read, and the figures."""

    violations: tuple[Violation, ...]
    errors: tuple[Malformed, ...]
    figures: dict[str, object]

    @property
    def ok(self) -> bool:
        """No violation and every line read."""
        return not self.violations and not self.errors

    def failed(self) -> set[str]:
        """The names of the checks that found a violation."""
        return {violation.check for violation in self.violations}


def check(records: Iterable[Record], config: CheckConfig) -> Verdict:
    """Run every check not in `config.skip` on these records (any order)."""
    unknown = set(config.skip) - set(CHECKS)
    if unknown:
        raise ValueError(f"no such checks: {sorted(unknown)} (the checks: {list(CHECKS)})")
    history = History(records)
    found: list[Violation] = []
    measured = figures(history, config).figures
    for name, run in CHECKS.items():
        if name in config.skip:
            continue
        outcome = run(history, config)
        found += [Violation(name, p.message, history.excerpt(p.records)) for p in outcome.problems]
        measured.update(outcome.figures)
    measured["skipped"] = sorted(config.skip)
    return Verdict(tuple(found), tuple(history.of(Malformed)), measured)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _figure(value: object, indent: str = " ") -> str:
    """A figure after its name: lists one item a line, dicts as `key: value, ...`."""
    if isinstance(value, list):
        return "".join(f"\n    {_figure(item, '')}" for item in value) or " none"
    if isinstance(value, dict):
        items = ", ".join(f"{key}:{_figure(item)}" for key, item in value.items())
        return indent + (items or "none")
    if isinstance(value, float):
        return f"{indent}{value:.3f}"
    return indent + (str(value) if isinstance(value, str | int) else json.dumps(value))


def format(verdict: Verdict) -> str:
    """The verdict for a human: a summary line, the malformed lines, each violation
    (at most `SHOWN` per check) with its excerpt, then the figures."""
    if verdict.ok:
        lines = ["OK: every check passed"]
    else:
        failed = f" ({', '.join(sorted(verdict.failed()))})" if verdict.violations else ""
        lines = [
            f"FAIL: {_count(len(verdict.violations), 'violation')}{failed}, "
            f"{_count(len(verdict.errors), 'malformed line')}"
        ]
    lines += [f"malformed: {error.text()}" for error in verdict.errors]
    shown: dict[str, int] = {}
    for violation in verdict.violations:
        shown[violation.check] = shown.get(violation.check, 0) + 1
        if shown[violation.check] > SHOWN:
            continue
        lines.append(f"{violation.check}: {violation.message}")
        lines += [f"    {record.text()}" for record in violation.excerpt]
    lines += [f"{name}: {n - SHOWN} more violations" for name, n in shown.items() if n > SHOWN]
    lines.append("figures:")
    lines += [f"  {name}:{_figure(value)}" for name, value in verdict.figures.items()]
    return "\n".join(lines)
