"""Live values that never arrived, noticed from the leader's heartbeat.

A NATS node that loses its routes to the node leading a bucket's stream (a partition,
a one-way link) drops the republished values of that time without a word to its
clients: their own connection stays up, so no reconnect reloads them, and a key that is
written seldom (the market list) would stay behind for good. The leading streamer's
`LeaderBeat` (`drift.<net>.leader`, every half second) carries the stream sequence of
its last acknowledged write to each data bucket; `GapWatch` has a mirror reload when a
beat finds it has not seen the sequence given two beats before (a second for the
republished value, which takes another path than the beat, to arrive: a busy server is
not made busier by reloads).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from schemas import LeaderBeat, decode, leader_subject
from schemas.errors import SchemaError
from schemas.subjects import Network
from subscribers.mirror import Mirror

__all__ = ["GapWatch"]

log = logging.getLogger("drift_stream.client")
_LAG_BEATS = 2  # a beat's sequences are due this many beats later


class GapWatch:
    """Compares each beat's `last_seqs` with what the mirrors have seen; `reloads`
    counts the mirrors it had reload."""

    def __init__(self, network: Network, mirrors: Callable[[], Sequence[Mirror[Any]]]) -> None:
        self.network = network
        self._mirrors = mirrors
        self._beats: deque[dict[str, int]] = deque(maxlen=_LAG_BEATS)  # their last_seqs
        self.reloads = 0

    async def subscribe(self, nc: Client) -> Subscription:
        """Hear the network's beats from now on."""
        return await nc.subscribe(leader_subject(self.network), cb=self._on_beat)

    async def _on_beat(self, msg: Msg) -> None:
        try:
            beat = decode(LeaderBeat, msg.data)
        except SchemaError:
            log.debug("skipped a leader beat that does not parse")
            return
        if beat.network == self.network:
            self.heard(beat)

    def heard(self, beat: LeaderBeat) -> None:
        """One beat: every mirror behind the sequence of `_LAG_BEATS` beats ago reloads."""
        owed = self._beats[0] if len(self._beats) == _LAG_BEATS else {}
        for mirror in self._mirrors():
            due = owed.get(mirror.bucket)
            if due is not None and mirror.high < due and not mirror.reload.is_set():
                self.reloads += 1
                log.info(
                    "%s: the leader wrote seq %d, the last seen here is %d: reloading",
                    mirror.bucket,
                    due,
                    mirror.high,
                    extra={"network": self.network, "bucket": mirror.bucket},
                )
                mirror.reload.set()
        self._beats.append(dict(beat.last_seqs))
