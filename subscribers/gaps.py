"""Live values that never arrived, noticed from the leader's heartbeat.

A NATS node that loses its routes to the node leading a bucket's stream (a partition,
a one-way link) drops the republished values of that time without a word to its
clients: their own connection stays up, so no reconnect reloads them, and a key that is
written seldom (the market list) would stay behind for good. The leading streamer's
`LeaderBeat` (`drift.<net>.leader`, every half second) carries the stream sequence of
its last acknowledged write to each data bucket; `GapWatch` has a mirror reload when a
beat finds it has not seen the sequence given two beats before (a second for the
republished value, which takes another path than the beat, to arrive), has had no new
value of that bucket since the previous beat, and holds no received message it has yet
to apply. A busy engine, or a busy server whose republishing runs behind its beats,
delivers late but delivers: values keep coming, nothing is reloaded, and nobody is
made busier by reloads.

A connection the caller gave the client (`nc=`) has the caller's reconnect callback,
not the client's: its reconnects are noticed at the next beat, and every mirror reloads.
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

    def __init__(
        self,
        network: Network,
        mirrors: Callable[[], Sequence[Mirror[Any]]],
        reconnects: Callable[[], int] = lambda: 0,
    ) -> None:
        self.network = network
        self._mirrors = mirrors
        self._reconnects = reconnects  # of a connection whose callbacks are not ours
        self._reconnected = reconnects()
        self._beats: deque[dict[str, int]] = deque(maxlen=_LAG_BEATS)  # their last_seqs
        self._highs: dict[str, int] = {}  # each mirror's `high` at the previous beat
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
        """One beat: a mirror behind the sequence of `_LAG_BEATS` beats ago, with no new
        value since the previous beat and none waiting to be applied, reloads."""
        owed = self._beats[0] if len(self._beats) == _LAG_BEATS else {}
        if (reconnected := self._reconnects()) != self._reconnected:
            self._reconnected = reconnected  # what came meanwhile was not delivered
            log.info("NATS reconnected: reloading", extra={"network": self.network})
            for mirror in self._mirrors():
                mirror.reload.set()
        for mirror in self._mirrors():
            due, moved = owed.get(mirror.bucket), mirror.high != self._highs.get(mirror.bucket)
            self._highs[mirror.bucket] = mirror.high
            if due is None or mirror.high >= due or moved or mirror.backlog:
                continue  # seen, or coming: late (values still arrive) or not applied yet
            if mirror.reload.is_set():  # reloading already
                continue
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
