"""Per-engine identity: the `<engine>` token of a presence key, `<net>.<engine>.<id>`.

An engine's token is its connection's NATS user (else the client's name); a user that
may not write that engine's presence key fails at `connect()` with one clear error,
from the library and from a command, at once rather than after a put timeout.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from schemas import CONSUMERS_BUCKET, Network, parse_consumer_key
from streamer.nats_server import NatsServer
from subscribers import AuthenticationError, DriftStreamClient, EngineIdentityError
from subscribers.buckets import last_entries
from tests.test_auth import SecureNats, secure_nats

__all__ = ["secure_nats"]  # a fixture shared with test_auth

NET: Network = "local"


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
