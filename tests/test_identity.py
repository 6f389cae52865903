"""Per-engine identity: the `<engine>` token of a presence key, `<net>.<engine>.<id>`.

An engine's token is its connection's NATS user (else the client's name); a user that
may not write that engine's presence key fails at `connect()` with one clear error,
from the library and from a command, at once rather than after a put timeout. With a
NATS user per engine (streamer.auth), no engine can touch another's presence.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import ServerError

from localnet.server import LocalnetServer
from schemas import CONSUMERS_BUCKET, ConsumerPresence, Network, decode, parse_consumer_key
from schemas.subjects import kv_subject
from streamer.nats_server import NatsServer
from subscribers import AuthenticationError, DriftStreamClient, EngineIdentityError
from subscribers.buckets import last_entries
from tests.drift_clients import wait_until
from tests.test_auth import SecureNats, Violations, connect_as, secure_nats, secure_streamer

__all__ = ["secure_nats"]  # a fixture shared with test_auth

NET: Network = "local"
ROLLUP = "Nats-Rollup"


async def _presence_keys(client: DriftStreamClient) -> list[str]:
    """The live presence keys (`last_entries`: nats-py's `keys()` can end early)."""
    assert client._nc is not None
    kv = await client._nc.jetstream().key_value(CONSUMERS_BUCKET)
    return sorted(entry.key for entry in await last_entries(kv, ">"))


async def test_without_a_nats_user_the_name_is_the_engine(fresh_nats: NatsServer) -> None:
    """On a server without users the client's name is its engine token: its presence key
    is `<net>.<name>.<consumer_id>`, and it is gone after a clean close."""
    async with DriftStreamClient(
        NET, nats_url=fresh_nats.url, name="risk-engine", consumer_id="r-1", presence_ttl_s=5
    ) as client:
        assert client.engine == "risk-engine"
        assert await _presence_keys(client) == ["local.risk-engine.r-1"]
        assert parse_consumer_key("local.risk-engine.r-1").engine == "risk-engine"
        other = DriftStreamClient(NET, nats_url=fresh_nats.url, name="risk-engine")
        async with other:  # a second instance of the same engine: a key of its own
            keys = await _presence_keys(client)
            assert len(keys) == 2
            assert {parse_consumer_key(k).engine for k in keys} == {"risk-engine"}
        assert await _presence_keys(client) == ["local.risk-engine.r-1"]


async def test_the_nats_user_of_the_url_is_the_engine(secure_nats: SecureNats) -> None:
    """With a user in its URL, the client's engine token is that user, whatever its name
    (the name stays in the presence value)."""
    async with DriftStreamClient(
        NET, nats_url=secure_nats.urls["operator"], name="funding-table", consumer_id="t-1"
    ) as client:
        assert client.engine == "operator"
        assert await _presence_keys(client) == ["local.operator.t-1"]


async def test_a_user_that_may_not_write_the_presence_fails_at_connect(
    secure_nats: SecureNats,
) -> None:
    """The streamer user may not write presence: `connect()` raises EngineIdentityError
    (an AuthenticationError) naming the user, the engine and the refused subject, as
    soon as NATS refuses the key (not after the 5 s put timeout), without the password,
    and leaves no connection open."""
    url = secure_nats.urls["streamer"]
    client = DriftStreamClient(NET, nats_url=url, name="risk-engine", consumer_id="x-1")
    started = time.monotonic()
    with pytest.raises(EngineIdentityError) as raised:
        await client.connect()
    assert time.monotonic() - started < 3
    assert isinstance(raised.value, AuthenticationError)
    message = str(raised.value)
    assert message.startswith(
        "NATS user streamer may not write presence for engine streamer (refused: "
        "$KV.drift_consumers.local.streamer.x-1); "
    ), message
    password = urlsplit(url).password
    assert password
    assert password not in message
    assert raised.value.url == f"nats://streamer:***@127.0.0.1:{secure_nats.server.port}"
    assert client._nc is not None
    assert client._nc.is_closed


async def test_a_user_name_that_cannot_be_a_key_token(tmp_path: Path) -> None:
    """A NATS user whose name is not a key token (`bad.name`) cannot name an engine:
    EngineIdentityError at connect, saying why."""
    config = tmp_path / "nats.conf"
    config.write_text('authorization { users = [ { user: "bad.name", password: "pw" } ] }\n')
    async with NatsServer(store_dir=tmp_path / "js", config_file=config) as server:
        url = server.url.replace("nats://", "nats://bad.name:pw@")
        client = DriftStreamClient(NET, nats_url=url, name="fine")
        with pytest.raises(EngineIdentityError, match=r"NATS user 'bad\.name' cannot name an"):
            await client.connect()


@pytest.mark.timeout(60)
async def test_a_command_says_so_in_one_line(secure_nats: SecureNats) -> None:
    """`drift-stream funding` as a user that may not write presence: exit 1, one line
    naming the user and the engine, no traceback, no password."""
    url = secure_nats.urls["streamer"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streamer.cli",
        "funding",
        "--once",
        "--network",
        NET,
        "--nats-url",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    text = err.decode()
    assert proc.returncode == 1, text
    lines = [line for line in text.splitlines() if line.startswith("drift-stream: ")]
    assert len(lines) == 1, text
    assert lines[0].startswith(
        "drift-stream: NATS user streamer may not write presence for engine streamer"
    )
    assert lines[0].endswith("(credentials from --nats-url)")
    assert "Traceback" not in text
    password = urlsplit(url).password
    assert password
    assert password not in text + out.decode()


# --- isolation: one engine cannot touch another's presence -----------------------------

B_KEY = "local.engine-b.b-1"
_COUNT = re.compile(r"^consumers (\d+) -> (\d+)$")


def _count_changes(caplog: pytest.LogCaptureFixture) -> list[tuple[int, int]]:
    """Every consumer count change the streamer logged, in order."""
    found = (_COUNT.match(r.getMessage()) for r in caplog.records)
    return [(int(m.group(1)), int(m.group(2))) for m in found if m]


async def _attack(url: str, own_key: str | None) -> list[str]:
    """Put, delete, purge and roll up (all, sub) B's key, forge a key in B's name, and,
    for a per-engine user, write an old-form key and roll up its own key: every one
    refused (no acknowledgement; the server's violations, returned)."""
    errors = Violations()
    nc = await connect_as(url, errors)
    try:
        js = nc.jetstream(timeout=1)
        kv = await js.key_value(CONSUMERS_BUCKET)
        forged = b'{"consumer_id":"b-1","name":"forged"}'
        on_b = kv_subject(CONSUMERS_BUCKET, B_KEY)
        with pytest.raises(NatsTimeoutError):
            await kv.put(B_KEY, forged)
        with pytest.raises(NatsTimeoutError):
            await kv.delete(B_KEY)
        with pytest.raises(NatsTimeoutError):
            await kv.purge(B_KEY)
        for rollup in ("all", "sub"):
            with pytest.raises(NatsTimeoutError):
                await js.publish(on_b, forged, headers={ROLLUP: rollup})
        with pytest.raises(NatsTimeoutError):
            await kv.put("local.engine-b.forged-1", forged)
        if own_key is not None:
            with pytest.raises(NatsTimeoutError):
                await kv.put("local.b-1", forged)  # the old form: the generic user's only
            with pytest.raises(ServerError, match="rollup not permitted"):
                await js.publish(
                    kv_subject(CONSUMERS_BUCKET, own_key), b"{}", headers={ROLLUP: "all"}
                )
        await nc.flush()
        return [text.lower() for text in errors.seen]
    finally:
        await nc.close()


@pytest.mark.timeout(120)
async def test_an_engine_cannot_touch_another_engines_presence(
    secure_nats: SecureNats, localnet: LocalnetServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Engine A (its own user) and the generic `engine` user cannot put, delete, purge
    or roll up engine B's presence key, nor forge a key in B's name: the server refuses
    each (a permissions violation naming the key), B's key only ever holds B's
    heartbeats, and the streamer's count never leaves 2. A per-engine user may not write
    an old-form key either, and a rollup on its own key is refused by the bucket."""
    caplog.set_level(logging.INFO, logger="drift_stream.streamer")
    async with secure_streamer(secure_nats, localnet, presence_ttl=6) as streamer:
        operator = await connect_as(secure_nats.urls["operator"])
        try:
            b = _engine(secure_nats, "engine-b", "b-1")
            a = _engine(secure_nats, "engine-a", "a-1")
            async with b, a:
                await wait_until(lambda: streamer.consumers == 2, timeout=15)
                on_b = await operator.subscribe(kv_subject(CONSUMERS_BUCKET, B_KEY))
                await operator.flush()
                refused = {
                    "engine-a": await _attack(secure_nats.urls["engine-a"], "local.engine-a.a-1"),
                    "engine": await _attack(secure_nats.urls["engine"], None),
                }
                for user, seen in refused.items():
                    on_key = [t for t in seen if f'publish to "$kv.drift_consumers.{B_KEY}"' in t]
                    assert len(on_key) == 5, (user, seen)  # put, delete, purge, 2 rollups
                    assert any("local.engine-b.forged-1" in t for t in seen), seen
                assert any('"$kv.drift_consumers.local.b-1"' in t for t in refused["engine-a"])
                beats = await _drain(on_b)
                assert beats, "B heartbeats meanwhile: else this would prove nothing"
                for msg in beats:
                    assert not (msg.headers or {}).get("KV-Operation"), msg.headers
                    value = decode(ConsumerPresence, msg.data)
                    assert (value.consumer_id, value.name) == ("b-1", "b")
                assert streamer.consumers == 2
                assert _count_changes(caplog) == [(0, 1), (1, 2)]
        finally:
            await operator.close()


@pytest.mark.timeout(90)
async def test_an_engine_manages_its_own_presence(
    secure_nats: SecureNats, localnet: LocalnetServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Engine A, as its own user, puts a second key of its own (the streamer counts 3)
    and deletes it (2), and its clean close deletes its key (1): B is untouched."""
    caplog.set_level(logging.INFO, logger="drift_stream.streamer")
    async with (
        secure_streamer(secure_nats, localnet, presence_ttl=6) as streamer,
        _engine(secure_nats, "engine-b", "b-1"),
    ):
        async with _engine(secure_nats, "engine-a", "a-1"):
            await wait_until(lambda: streamer.consumers == 2, timeout=15)
            nc = await connect_as(secure_nats.urls["engine-a"])
            try:
                kv = await nc.jetstream(timeout=2).key_value(CONSUMERS_BUCKET)
                await kv.put("local.engine-a.a-2", b'{"consumer_id":"a-2","name":"a"}')
                await wait_until(lambda: streamer.consumers == 3, timeout=10)
                await kv.delete("local.engine-a.a-2")
                await wait_until(lambda: streamer.consumers == 2, timeout=10)
            finally:
                await nc.close()
        await wait_until(lambda: streamer.consumers == 1, timeout=10)
        assert _count_changes(caplog) == [(0, 1), (1, 2), (2, 3), (3, 2), (2, 1)]


def _engine(secure: SecureNats, user: str, consumer_id: str) -> DriftStreamClient:
    """A library client as `user`, named after its last letter (`engine-b`: `b`)."""
    return DriftStreamClient(
        NET, nats_url=secure.urls[user], name=user[-1], consumer_id=consumer_id
    )


async def _drain(sub: Subscription) -> list[Msg]:
    """Every message a subscription has received so far."""
    received = []
    while True:
        try:
            received.append(await sub.next_msg(timeout=0.05))
        except NatsTimeoutError:
            return received
