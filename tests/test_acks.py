"""Pipelined JetStream publishes (`streamer.acks.AckInbox`) against a real nats-server:
every message gets its own answer, in order: its stream sequence, the server's refusal,
no responders, or a timeout; a closed connection fails each message without a hang."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError

from streamer.acks import _STORED, AckInbox, acked_seq
from streamer.nats_server import NatsServer


@pytest_asyncio.fixture
async def nc(tmp_path: Path) -> AsyncIterator[Client]:
    async with NatsServer(store_dir=tmp_path / "js") as server:
        conn = await nats.connect(server.url)
        await conn.jetstream().add_stream(name="S", subjects=["s.>"])
        yield conn
        await conn.close()


async def test_every_message_is_stored_and_answered_in_order(nc: Client) -> None:
    inbox = AckInbox(nc, timeout=5)
    answers = await inbox.publish_all([(f"s.{i}", str(i).encode()) for i in range(300)], {})
    assert answers == list(range(1, 301))
    again = await inbox.publish_all([("s.x", b"x")], {})  # the subscription is reused
    assert again == [301]
    js = nc.jetstream()
    assert (await js.get_last_msg("S", "s.299")).data == b"299"


async def test_a_refused_message_fails_alone(nc: Client) -> None:
    """Conditioned on the subject's last sequence: only the first of three writes to one
    subject holds its condition; the other subject's write is stored."""
    inbox = AckInbox(nc, timeout=5)
    expect = {"Nats-Expected-Last-Subject-Sequence": "0"}
    answers = await inbox.publish_all([("s.a", b"1"), ("s.a", b"2"), ("s.b", b"3")], expect)
    assert answers[0] == 1
    assert answers[2] == 2
    assert isinstance(answers[1], APIError)
    assert answers[1].err_code == 10071


async def test_no_stream_and_no_answer(nc: Client) -> None:
    """A subject no stream takes: no responders. A subject someone hears but never
    answers: a timeout, after `timeout`, for that message only."""
    silent = await nc.subscribe("quiet.>")
    inbox = AckInbox(nc, timeout=0.5)
    answers = await inbox.publish_all([("nowhere.x", b""), ("quiet.x", b""), ("s.y", b"")], {})
    assert isinstance(answers[0], NoRespondersError)
    assert isinstance(answers[1], NatsTimeoutError)
    assert answers[2] == 1
    await silent.unsubscribe()


async def test_a_closed_connection_fails_every_message(nc: Client) -> None:
    inbox = AckInbox(nc, timeout=5)
    assert await inbox.publish_all([("s.a", b"")], {}) == [1]
    await nc.close()
    answers = await inbox.publish_all([("s.a", b""), ("s.b", b"")], {})
    assert all(isinstance(a, nats.errors.ConnectionClosedError) for a in answers)


@pytest.mark.parametrize(
    "answer",
    [[], "x", {"seq": "1"}, {"error": {"code": 503, "err_code": 10039, "description": "no"}}],
)
def test_a_malformed_or_error_answer_raises(answer: object) -> None:
    with pytest.raises(APIError):
        acked_seq(answer)


@settings(max_examples=200)
@given(st.text(max_size=20), st.integers(0, 2**64), st.one_of(st.none(), st.text(max_size=8)))
def test_the_fast_read_of_an_answer_agrees_with_json(
    stream: str, seq: int, domain: str | None
) -> None:
    """nats-server's answer `{"stream":..,["domain":..,]"seq":N}` read by the pattern is
    what JSON says; one with anything else (an escape, a duplicate flag) is left to JSON."""
    answer: dict[str, object] = {"stream": stream}
    if domain is not None:
        answer["domain"] = domain
    answer["seq"] = seq
    data = json.dumps(answer, separators=(",", ":")).encode()
    fast = _STORED.fullmatch(data)
    if fast is not None:
        assert int(fast.group(1)) == acked_seq(json.loads(data))
    else:
        assert "\\" in data.decode() or '"' in stream + (domain or "")
    assert _STORED.fullmatch(data[:-1] + b',"duplicate":true}') is None
