"""The check that engines stop serving a value once it outlived its bucket's TTL."""

from __future__ import annotations

from tests.chaos.checks.core import CheckConfig, History, Outcome
from tests.chaos.history import Serve, Take

__all__ = ["stale_serve"]


def stale_serve(history: History, config: CheckConfig) -> Outcome:
    """Proves the mirror drops expired values: every `serve` that returned a value with
    a write time has t - written <= ttl[bucket] + slack; an older one should have been
    None. Buckets without a TTL in the configuration are not judged."""
    outcome = Outcome()
    taken: dict[tuple[str, str, str, int | None], Take]
    taken = {(take.src, take.bucket, take.key, take.seq): take for take in history.of(Take)}
    for serve in history.of(Serve):
        ttl = config.ttl.get(serve.bucket)
        if serve.written is None or ttl is None:
            continue
        age = serve.t - serve.written
        if age > ttl + config.slack:
            outcome.flag(
                f"{serve.src} served {serve.bucket} {serve.key} seq {serve.seq} {age:.3f} s "
                f"after it was written; the bucket's TTL is {ttl:g} s",
                taken.get((serve.src, serve.bucket, serve.key, serve.seq)),
                serve,
            )
    return outcome
