"""NATS users and permissions (streamer.auth) on a real nats-server with auth on.

The streamer may publish data (spot markets too) and answer requests; an engine (the
generic `engine` user, or one with a user of its own) may only read and register its
presence; `reconnect` needs the operator; anonymous connections fail. That engines
cannot touch each other's presence: tests/test_identity.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError

from localnet.faults import FaultRequest
from localnet.server import LocalnetServer
from schemas import (
    FundingRate,
    StreamerState,
    StreamerStatus,
    api_subject,
    bucket_specs,
    decode,
    encode,
    funding_subject,
)
from schemas.buckets import FUNDING_BUCKET, HEALTH_BUCKET, SPOT_BUCKET
from schemas.subjects import Network
from streamer.app import Streamer
from streamer.auth import ROLES, password_variable, render_authorization
from streamer.auth_config import bcrypt_hash
from streamer.buckets import ensure_buckets
from streamer.credentials import (
    generate_credentials,
    new_password,
    read_credentials,
    url_with_credentials,
    write_credentials,
    write_server_config,
)
from streamer.nats_server import NatsServer, find_nats_server
from streamer.settings import Settings
from streamer.source import DriftSource
from subscribers.buckets import BucketUnavailableError
from subscribers.client import ApiError, DriftStreamClient
from subscribers.dashboard.server import read_history
from tests.drift_clients import wait_until
from tests.factories import spot_market

NET: Network = "local"
ENGINES = ("engine-a", "engine-b")  # engines with users of their own
READERS = ("engine", "engine-a")  # the generic engine user and a per-engine one


@dataclass
class SecureNats:
    server: NatsServer
    urls: dict[str, str]  # by user: the roles and ENGINES


@pytest_asyncio.fixture
async def secure_nats(tmp_path: Path) -> AsyncIterator[SecureNats]:
    """A nats-server with the three roles of streamer.auth and two engine users
    (ENGINES), as `drift-stream up` runs it."""
    creds = generate_credentials(ENGINES)
    write_server_config(tmp_path / "nats.conf", creds)
    async with NatsServer(
        store_dir=tmp_path / "js",
        config_file=tmp_path / "nats.conf",
        log_file=tmp_path / "nats.log",
    ) as server:
        urls = {user: url_with_credentials(server.url, c) for user, c in creds.items()}
        yield SecureNats(server, urls)


@contextlib.asynccontextmanager
async def secure_streamer(
    secure: SecureNats, localnet: LocalnetServer, *, presence_ttl: float = 2
) -> AsyncIterator[Streamer]:
    """A streamer connected as the `streamer` user (it creates the buckets), idle."""
    settings = Settings(
        network=NET,
        rpc_url=localnet.url,
        nats_url=secure.urls["streamer"],
        presence_ttl=presence_ttl,
        lease_ttl=2,
    )
    app = Streamer(
        settings, lambda: DriftSource(localnet.url), publish_interval_s=0.05, grace_s=0.3
    )
    task = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app.ready.wait(), 10)
        await wait_until(lambda: app.state is StreamerState.IDLE, timeout=10)
        yield app
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest_asyncio.fixture
async def secured_streamer(
    secure_nats: SecureNats, localnet: LocalnetServer
) -> AsyncIterator[Streamer]:
    """A streamer connected as the `streamer` user (it creates the buckets)."""
    async with secure_streamer(secure_nats, localnet) as app:
        yield app


class Violations:
    """Collects the server's async `Permissions Violation` errors of one connection."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.changed = asyncio.Event()

    async def on_error(self, exc: Exception) -> None:
        if "permissions violation" in str(exc).lower():
            self.seen.append(str(exc))
            self.changed.set()

    async def wait_for(self, fragment: str) -> str:
        while True:
            for text in self.seen:
                if fragment.lower() in text.lower():  # nats-py lowercases the message
                    return text
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 5)


async def connect_as(url: str, errors: Violations | None = None) -> Client:
    return await nats.connect(
        url, allow_reconnect=False, error_cb=(errors or Violations()).on_error, connect_timeout=2
    )


async def test_anonymous_and_wrong_password_are_refused(secure_nats: SecureNats) -> None:
    """No user, or a wrong password: the connection fails (it is never half-open)."""
    with pytest.raises((NatsError, OSError)):
        await connect_as(secure_nats.server.url)
    wrong = secure_nats.urls["engine"].replace("engine:", "engine:x", 1)
    with pytest.raises((NatsError, OSError)):
        await connect_as(wrong)


@pytest.mark.parametrize("user", READERS)
async def test_engine_reads_everything_it_needs(
    secure_nats: SecureNats, secured_streamer: Streamer, user: str
) -> None:
    """As the generic engine user or an engine's own, the library works end to end:
    presence (the DriftClient starts), KV watches, api status/markets/funding, and the
    dashboard's history read."""
    async with DriftStreamClient(
        NET, nats_url=secure_nats.urls[user], name="engine", presence_ttl_s=2
    ) as client:
        assert client.engine == user
        await wait_until(lambda: secured_streamer.state is StreamerState.RUNNING, timeout=15)
        updates = client.watch_funding(["SOL-PERP"])
        sol = await asyncio.wait_for(anext(updates), 15)
        await updates.aclose()
        assert sol.symbol == "SOL-PERP"
        assert (await client.request_status()).consumers == 1
        assert len((await client.request_markets()).markets) == 3
        assert (await client.request_funding("SOL-PERP")).symbol == "SOL-PERP"
        await wait_until(lambda: client._nc is not None and client._nc.is_connected)
        history = await read_history(client, "SOL-PERP", hours=1)
        assert history, "the engine user can read the funding history stream"


@pytest.mark.parametrize("user", READERS)
async def test_engine_cannot_publish_write_or_reconnect(
    secure_nats: SecureNats, secured_streamer: Streamer, user: str
) -> None:
    """An engine's (generic or its own user) fake funding rate, KV write, stream
    deletion, api impersonation and reconnect call are all refused by the server, and
    nothing changes."""
    operator = await connect_as(secure_nats.urls["operator"])
    async with DriftStreamClient(
        NET, nats_url=secure_nats.urls["operator"], name="watcher", presence_ttl_s=2
    ):
        await wait_until(lambda: secured_streamer.state is StreamerState.RUNNING, timeout=15)
        kv = await operator.jetstream().key_value(FUNDING_BUCKET)
        await wait_until(lambda: secured_streamer._publisher is not None)
        before = await _wait_entry(kv, f"{NET}.SOL-PERP")

        errors = Violations()
        engine = await connect_as(secure_nats.urls[user], errors)
        try:
            fake = before.model_copy(update={"last_funding_rate": 999_999_999}).model_dump_json()
            await engine.publish(funding_subject(NET, "SOL-PERP"), fake.encode())
            await errors.wait_for("drift.local.funding.SOL-PERP")

            engine_js = engine.jetstream(timeout=1)
            engine_kv = await engine_js.key_value(FUNDING_BUCKET)  # binding is reading: allowed
            with pytest.raises(NatsError):
                await engine_kv.put(f"{NET}.SOL-PERP", fake.encode())
            await errors.wait_for("$KV.drift_funding")
            with pytest.raises(NatsError):
                await engine_js.delete_stream(f"KV_{FUNDING_BUCKET}")
            await errors.wait_for("STREAM.DELETE")

            with pytest.raises(NatsError):
                await engine.request(api_subject(NET, "reconnect"), b"", timeout=1)
            await errors.wait_for("drift.local.api.reconnect")
            await engine.subscribe(api_subject(NET, "status"))  # impersonating the api
            await errors.wait_for('Subscription to "drift.local.api.status"')
        finally:
            await engine.close()

        assert secured_streamer.reconnects == 0
        after = decode(FundingRate, (await kv.get(f"{NET}.SOL-PERP")).value or b"")
        assert after.last_funding_rate == before.last_funding_rate
        assert await operator.jetstream().stream_info(f"KV_{FUNDING_BUCKET}")
        # the operator may: reconnect is an operator's call
        reply = await operator.request(api_subject(NET, "reconnect"), b"", timeout=15)
        assert b'"ok":true' in reply.data.replace(b" ", b"")
    await operator.close()


async def test_engine_reads_spot_markets_but_cannot_write_them(
    secure_nats: SecureNats, secured_streamer: Streamer
) -> None:
    """As the streamer user a spot market is written to drift_spot; as the engine user the
    library mirrors it (live), calls the spot endpoint (an answer, not a refusal), and
    cannot write drift_spot or publish on a spot subject."""
    writer = await connect_as(secure_nats.urls["streamer"])
    errors = Violations()
    engine = await connect_as(secure_nats.urls["engine"], errors)
    try:
        spot_kv = await writer.jetstream().key_value(SPOT_BUCKET)
        wbtc = spot_market("wBTC", 3, decimals=8, oracle_price=97_000_000_000, epoch=10**6)
        async with DriftStreamClient(
            NET, nats_url=secure_nats.urls["engine"], name="engine", presence_ttl_s=2
        ) as client:
            updates = client.watch_spot(["wbtc"])
            await spot_kv.put(f"{NET}.wBTC", encode(wbtc))  # the streamer user may
            live = await asyncio.wait_for(anext(updates), 10)
            await updates.aclose()
            assert (live.symbol, live.oracle_price) == ("wBTC", 97_000.0)
            assert await client.spot("WBTC") == live
            assert "wBTC" in await client.spots()

            await wait_until(lambda: secured_streamer.state is StreamerState.RUNNING, timeout=15)
            await wait_until(
                lambda: (
                    secured_streamer._publisher is not None
                    and secured_streamer._publisher.market_list is not None
                )
            )
            with pytest.raises(ApiError) as info:  # an answer (a refusal would time out):
                await client.request_spot("wBTC")  # localnet has no wBTC
            assert info.value.code == 404

        fake = live.model_copy(update={"oracle_price": 1.0}).model_dump_json().encode()
        engine_kv = await engine.jetstream(timeout=1).key_value(SPOT_BUCKET)
        with pytest.raises(NatsError):
            await engine_kv.put(f"{NET}.wBTC", fake)
        await errors.wait_for("$KV.drift_spot")
        await engine.publish(f"drift.{NET}.spot.wBTC", fake)
        await errors.wait_for("drift.local.spot.wBTC")
        after = await spot_kv.get(f"{NET}.wBTC")
        assert b'"oracle_price":97000.0' in (after.value or b"")
    finally:
        await engine.close()
        await writer.close()


async def _wait_entry(kv: object, key: str) -> FundingRate:
    from nats.js.errors import KeyNotFoundError

    async def get() -> FundingRate | None:
        try:
            entry = await kv.get(key)  # type: ignore[attr-defined]
        except KeyNotFoundError:
            return None
        return decode(FundingRate, entry.value or b"")

    for _ in range(300):
        value = await get()
        if value is not None:
            return value
        await asyncio.sleep(0.05)  # polling a KV key: there is no event for "first put"
    raise AssertionError(f"no value at {key}")


async def test_only_streamers_speak_on_the_leader_subject(secure_nats: SecureNats) -> None:
    """`drift.<net>.leader` (the leader's heartbeat, heard by standby streamers and by
    clients): the streamer user may publish and subscribe to it (a message goes round);
    an engine may only listen (the server refuses its publish, which nobody hears)."""
    subject = f"drift.{NET}.leader"
    standby = await connect_as(secure_nats.urls["streamer"])
    leader = await connect_as(secure_nats.urls["streamer"])
    errors = Violations()
    engine = await connect_as(secure_nats.urls["engine"], errors)
    try:
        heard = await standby.subscribe(subject)
        listening = await engine.subscribe(subject)
        await standby.flush()
        await engine.flush()
        await engine.publish(subject, b"fake leader")
        await errors.wait_for(f'Publish to "{subject}"')
        await leader.publish(subject, b"beat")
        assert (await heard.next_msg(timeout=5)).data == b"beat"  # not the engine's
        assert (await listening.next_msg(timeout=5)).data == b"beat"
    finally:
        await engine.close()
        await leader.close()
        await standby.close()


async def test_engine_cannot_create_buckets(secure_nats: SecureNats) -> None:
    """Before any streamer ran, an engine cannot create the buckets: a clear error."""
    client = DriftStreamClient(NET, nats_url=secure_nats.urls["engine"], name="early")
    with pytest.raises(BucketUnavailableError, match="start the streamer first"):
        await client.connect()
    await client.close()


async def test_an_engine_connects_where_no_streamer_made_the_spot_bucket(
    secure_nats: SecureNats,
) -> None:
    """Buckets made by a streamer that predates spot markets (all but drift_spot), and an
    engine that may not create one: it connects and reads funding; spot reads are empty
    and watch_spot says why."""
    operator = await connect_as(secure_nats.urls["operator"])
    try:
        specs = {name: spec for name, spec in bucket_specs().items() if name != SPOT_BUCKET}
        await ensure_buckets(operator.jetstream(), specs)
    finally:
        await operator.close()
    async with DriftStreamClient(
        NET, nats_url=secure_nats.urls["engine"], name="old-streamer", presence_ttl_s=2
    ) as client:
        assert await client.funding("SOL-PERP") is None
        assert await client.spot("USDC") is None
        assert await client.spots() == {}
        with pytest.raises(BucketUnavailableError, match="drift_spot"):
            await anext(client.watch_spot())
        assert "drift_spot" not in client.stats.cache


def test_credential_files_are_private(tmp_path: Path) -> None:
    """`up` writes the server config and each role's NATS_URL with mode 0600; a file
    that existed with a wider mode is narrowed."""
    creds = generate_credentials()
    (tmp_path / "auth").mkdir()
    (tmp_path / "auth" / "engine.env").write_text("old")
    (tmp_path / "auth" / "engine.env").chmod(0o644)
    paths = write_credentials(tmp_path / "auth", "nats://127.0.0.1:4222", creds)
    write_server_config(tmp_path / "auth" / "nats.conf", creds)
    for path in [*paths.values(), tmp_path / "auth" / "nats.conf"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    engine = read_credentials(paths["engine"])
    assert engine == url_with_credentials("nats://127.0.0.1:4222", creds["engine"])
    assert creds["engine"].password.get_secret_value() in engine
    assert creds["engine"].password.get_secret_value() not in repr(creds["engine"])
    assert len({c.password.get_secret_value() for c in creds.values()}) == 3


def test_rendered_config_is_valid_for_nats_server(tmp_path: Path) -> None:
    """nats-server's own config check (`-t`) accepts the rendered users, roles and
    engines (names that unquoted would not be strings too), with literal passwords,
    with $ENV references (the compose deployment's form) and with bcrypt hashes
    (`drift-stream users add`)."""
    users = [*ROLES, "dashboard", "funding-engine"]
    env_form = render_authorization({u: f"${password_variable(u)}" for u in users})
    hashed = render_authorization(
        {**{r: f"${password_variable(r)}" for r in ROLES}, "risk": bcrypt_hash(new_password())}
    )
    for name, text in (("literal.conf", None), ("env.conf", env_form), ("hash.conf", hashed)):
        path = tmp_path / name
        if text is None:
            write_server_config(path, generate_credentials(["dashboard", "on", "123"]))
        else:
            path.write_text(text)
        result = subprocess.run(
            [str(find_nats_server()), "-c", str(path), "-t"],
            capture_output=True,
            text=True,
            env={password_variable(u): "p" for u in users},
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr + result.stdout


RPC_KEY = "rpcKEY0123456789abcdefSECRET"


@pytest.mark.timeout(120)
async def test_secrets_never_appear_in_logs_status_or_errors(
    secure_nats: SecureNats, localnet: LocalnetServer
) -> None:
    """A streamer process at DEBUG with an RPC API key and a NATS password, through a
    consumer, a refused-connection outage, a reconnect and a clean stop: neither secret
    is in its output (both log formats), its status, health, or error replies."""
    from urllib.parse import urlsplit

    password = urlsplit(secure_nats.urls["streamer"]).password
    assert password
    secrets_ = (RPC_KEY, password)
    env = {
        **os.environ,
        "NATS_URL": secure_nats.urls["streamer"],
        "DRIFT_RPC_URL": f"{localnet.url}/?api-key={RPC_KEY}",
        "DRIFT_NETWORK": NET,
        "DRIFT_LEASE_TTL": "2",
        "DRIFT_PRESENCE_TTL": "2",
    }
    texts: list[str] = []
    for log_format in ((), ("--log-json",)):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streamer.cli",
            "--log-level",
            "DEBUG",
            *log_format,
            "streamer",
            "--instance-id",
            "secret-test",
            "--grace",
            "0.5",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            texts += await _exercise(secure_nats, localnet)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
        output = out.decode(errors="replace")
        assert "Drift source failed" in output, output[-3000:]  # the outage was logged
        assert "***" in output  # URLs were shown, redacted
        texts.append(output)
    for text in texts:
        for secret in secrets_:
            assert secret not in text, text[max(0, text.find(secret) - 300) :][:600]


async def _exercise(secure: SecureNats, localnet: LocalnetServer) -> list[str]:
    """Drive a streamer through its states; everything it said over NATS, as text."""
    seen: list[str] = []
    operator = await connect_as(secure.urls["operator"])
    try:
        sub = await operator.subscribe("drift.local.status")
        async with asyncio.timeout(30):  # the streamer made the buckets: it heartbeats
            while True:
                with contextlib.suppress(Exception):
                    kv = await operator.jetstream().key_value(HEALTH_BUCKET)
                    if await kv.get("local.secret-test"):
                        break
                await asyncio.sleep(0.05)
        async with DriftStreamClient(
            NET, nats_url=secure.urls["engine"], name="engine", presence_ttl_s=2
        ) as engine:
            status = await _status_when(engine, lambda s: s.state is StreamerState.RUNNING)
            seen.append(status.model_dump_json())
            await localnet.set_faults(FaultRequest(refuse_connections=True, drop_websockets=True))
            status = await _status_when(engine, lambda s: s.last_error is not None)
            seen.append(status.model_dump_json())
            reply = await operator.request(api_subject(NET, "reconnect"), b"", timeout=30)
            seen.append(reply.data.decode())
            assert b'"ok":false' in reply.data.replace(b" ", b"")
            await localnet.set_faults(FaultRequest(clear=True))
            status = await _status_when(engine, lambda s: s.state is StreamerState.RUNNING)
            seen.append(status.model_dump_json())
            seen.append(((await kv.get("local.secret-test")).value or b"").decode())
        while True:
            try:
                seen.append((await sub.next_msg(timeout=0.01)).data.decode())
            except NatsTimeoutError:
                break
    finally:
        await operator.close()
    return seen


async def _status_when(
    engine: DriftStreamClient, wanted: Callable[[StreamerStatus], bool], within: float = 60
) -> StreamerStatus:
    """The streamer's status once `wanted` holds (asked every 100 ms: it has no event)."""
    async with asyncio.timeout(within):
        while True:
            with contextlib.suppress(Exception):  # 503 / no responders while it starts
                status = await engine.request_status()
                if wanted(status):
                    return status
            await asyncio.sleep(0.1)
