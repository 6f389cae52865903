"""JetStream publishes pipelined on one connection, their acknowledgements gathered at once.

nats-py's `js.publish` is a request: a future, a task with its own timeout and an
`await` per message. A pass writes tens to hundreds of values, so `AckInbox` sends
them all (each with a reply subject of its own under one inbox subscription, made once
per connection) and waits once for every answer, within one timeout. Each message's
outcome is its own: the answer's stream sequence, or the exception a `js.publish` of
it would have raised (the answer's error, no responders, a timeout, or the publish
refused by the client, e.g. its reconnect buffer off while disconnected).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError

__all__ = ["AckInbox", "Answer", "acked_seq"]

Answer = int | BaseException  # a message's stream sequence, or why it was not stored
_NO_RESPONDERS = "503"
_STORED = re.compile(rb'\{"stream":"[^"\\]*",(?:"domain":"[^"\\]*",)?"seq":(\d+)\}')


def acked_seq(answer: object) -> int:
    """The stream sequence a JetStream publish answer acknowledges; raises its error
    as nats-py does (`APIError` and its subclasses, by `err_code`)."""
    if not isinstance(answer, dict):
        raise APIError(description=f"unexpected publish answer: {answer!r}"[:200])
    error = answer.get("error")
    if isinstance(error, dict):
        APIError.from_error(error)
    seq = answer.get("seq")
    if not isinstance(seq, int):
        raise APIError(description=f"unexpected publish answer: {answer!r}"[:200])
    return seq


@dataclass
class _Round:
    """The answers of one `publish_all`, filled as they arrive."""

    answers: list[Answer | None]
    remaining: int
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self, index: int, answer: Answer) -> None:
        if 0 <= index < len(self.answers) and self.answers[index] is None:
            self.answers[index] = answer
            self.remaining -= 1
            if self.remaining == 0 and not self.done.done():
                self.done.set_result(None)


class AckInbox:
    """Pipelined JetStream publishes on `nc`, answered on one inbox subscription."""

    def __init__(self, nc: Client, timeout: float) -> None:
        self._nc = nc
        self._timeout = timeout
        self._prefix = nc.new_inbox()
        self._sub: Subscription | None = None
        self._rounds: dict[str, _Round] = {}
        self._next = 0

    async def publish_all(
        self, messages: Sequence[tuple[str, bytes]], headers: dict[str, str]
    ) -> list[Answer]:
        """Publish every (subject, data) with `headers`; each one's answer, in order."""
        if not messages:
            return []
        if self._sub is None:
            self._sub = await self._nc.subscribe(f"{self._prefix}.>", cb=self._on_answer)
        self._next += 1
        token = str(self._next)
        round_ = _Round([None] * len(messages), len(messages))
        self._rounds[token] = round_
        try:
            for index, (subject, data) in enumerate(messages):
                reply = f"{self._prefix}.{token}.{index}"
                try:
                    await self._nc.publish(subject, data, reply=reply, headers=headers)
                except Exception as exc:  # refused by the client: never sent
                    round_.settle(index, exc)
            if round_.remaining:
                async with asyncio.timeout(self._timeout):
                    await round_.done
        except TimeoutError:
            pass  # what did not answer in time is a timeout, below
        finally:
            del self._rounds[token]
        return [NatsTimeoutError() if a is None else a for a in round_.answers]

    async def _on_answer(self, msg: Msg) -> None:
        token, _, index = msg.subject[len(self._prefix) + 1 :].partition(".")
        round_ = self._rounds.get(token)
        if round_ is None or not index.isdigit():
            return  # a late answer of a round that timed out
        round_.settle(int(index), _answer(msg))

    async def close(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None and not self._nc.is_closed:
            await sub.unsubscribe()


def _answer(msg: Msg) -> Answer:
    if msg.headers and msg.headers.get("Status") == _NO_RESPONDERS:
        return NoRespondersError()
    stored = _STORED.fullmatch(msg.data)  # the usual answer, read without a JSON parse
    if stored is not None:
        return int(stored.group(1))
    try:
        return acked_seq(json.loads(msg.data))
    except (APIError, ValueError) as exc:
        return exc
