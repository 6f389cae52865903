"""Models of leadership on the wire: the leader's heartbeat and its write fence."""

from __future__ import annotations

from pydantic import Field

from schemas.models.base import Envelope
from schemas.models.fields import U64

__all__ = ["LeaderBeat", "WriteFence"]


class LeaderBeat(Envelope):
    """The leader's heartbeat on `drift.<net>.leader`, every half second while it leads.

    Standby streamers take a silence of a couple of seconds (no beat and no lease
    renewal) for a dead leader and take the lease over; engines compare `last_seqs` with
    what their mirrors have seen, to notice live values that never reached them."""

    instance_id: str
    epoch: U64
    """The lease revision the leader was elected with."""
    last_seqs: dict[str, U64] = Field(default_factory=dict)
    """By data bucket name: the stream sequence of the leader's last acknowledged write
    there (of its latest pass that wrote to it; a bucket not yet written is absent)."""


class WriteFence(Envelope):
    """The fence record `_fence.<net>.leader` in each data bucket, written by a leader when
    it takes over; every write of that leader is conditioned on it being the last one,
    so a deposed leader's writes are refused by the server."""

    instance_id: str
    epoch: U64
