"""The lease's logic as a pure state machine: what a holder or a standby does at a given
moment (time passed in, no I/O), the timings it keeps, and what a lease value says.
`streamer.lease` drives it against a real KV bucket; tests/test_lease.py drives it with
hypothesis.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

__all__ = [
    "BEAT_EVERY_S",
    "DETECT_AFTER_S",
    "GIVE_UP_FRACTION",
    "Action",
    "LeaseMachine",
    "holder_of",
]

BEAT_EVERY_S = 0.5
"""How often the leader publishes a LeaderBeat."""
DETECT_AFTER_S = 2.0
"""How long a holder may show no life before a standby takes the lease over."""
GIVE_UP_FRACTION = 2 / 3
"""A leader that could not renew for this share of the TTL steps down."""
_RENEW_EVERY_MAX_S = 1.0


class Action(enum.Enum):
    ACQUIRE = "acquire"  # nobody holds the lease: create the key
    TAKE_OVER = "take_over"  # the holder went silent: compare-and-set on its revision
    RENEW = "renew"
    WAIT = "wait"


@dataclass
class LeaseMachine:
    """What a lease holder (or standby) does at time `now`. Pure: no I/O, no clock."""

    ttl: float
    detect_after: float = DETECT_AFTER_S
    leader: bool = False
    epoch: int | None = None  # the revision that granted the lease: stable while held
    revision: int | None = None  # the newest revision we wrote, for compare-and-set
    renewed_at: float | None = None
    # A standby's view of the holder, from reading the key and hearing beats.
    seen: bool = False  # the key was read since this instance last led (or started)
    holder_revision: int | None = None  # None: no key (nobody holds the lease)
    holder_epoch: int | None = None
    alive_at: float | None = None  # the holder's last sign of life, as seen from here

    @property
    def renew_every(self) -> float:
        return min(self.ttl / 3, _RENEW_EVERY_MAX_S)

    @property
    def give_up_after(self) -> float:
        return self.ttl * GIVE_UP_FRACTION

    def overdue(self, now: float) -> bool:
        """A leader whose last confirmed renewal is too old must step down now."""
        return (
            self.leader
            and self.renewed_at is not None
            and now - self.renewed_at >= self.give_up_after
        )

    def next_action(self, now: float) -> Action:
        if self.leader:
            if self.renewed_at is None or now - self.renewed_at >= self.renew_every:
                return Action.RENEW
            return Action.WAIT
        if not self.seen:
            return Action.WAIT
        if self.holder_revision is None:
            return Action.ACQUIRE
        if self.alive_at is not None and now - self.alive_at >= self.detect_after:
            return Action.TAKE_OVER
        return Action.WAIT

    def saw_key(self, revision: int | None, epoch: int | None, now: float) -> None:
        """The lease key read at `now`: its revision (None: absent) and holder's epoch."""
        if not self.seen or revision != self.holder_revision:
            self.alive_at = now  # first look, or a renewal or takeover: alive
        self.seen, self.holder_revision, self.holder_epoch = True, revision, epoch

    def saw_beat(self, epoch: int, now: float) -> bool:
        """A LeaderBeat of `epoch`; True when it shows that this leader was deposed."""
        if self.leader:
            return self.epoch is not None and epoch > self.epoch
        if self.holder_epoch is None or epoch >= self.holder_epoch:
            self.alive_at = now  # a deposed leader's late beats (older epoch) do not count
        return False

    def blind(self, now: float) -> None:
        """The key could not be read: no evidence that the holder died."""
        self.alive_at = now

    def acquired(self, revision: int, now: float) -> None:
        self.leader, self.epoch, self.revision, self.renewed_at = True, revision, revision, now

    def renewed(self, revision: int, sent_at: float) -> None:
        """`sent_at`: when the renewal was sent (the key's new TTL runs from about then)."""
        self.revision, self.renewed_at = revision, sent_at

    def lost(self) -> None:
        self.leader, self.epoch, self.revision, self.renewed_at = False, None, None, None
        self.seen, self.holder_revision, self.holder_epoch, self.alive_at = False, None, None, None


def holder_of(value: bytes) -> tuple[str | None, int | None]:
    """(instance id, epoch) from a lease value; (None, None) if it does not parse."""
    try:
        data = json.loads(value)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    holder, epoch = data.get("instance_id"), data.get("epoch")
    return (
        holder if isinstance(holder, str) else None,
        epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None,
    )
