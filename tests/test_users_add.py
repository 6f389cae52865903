"""`drift-stream users add NAME`: an engine user of its own in a deployment's users file.

End to end: the command run on a copy of deploy/nats/auth.conf writes a file that
nats-server accepts and that is `render_authorization` of its users; a server started
on it (and one that reloads it) lets the new engine read and heartbeat, and refuses it
everything else. A bad name or file: one line, exit 2, the file unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.kv import KeyValue

from schemas import CONSUMERS_BUCKET, FUNDING_BUCKET, bucket_specs, encode, funding_subject
from streamer.auth import ROLES, password_variable, render_authorization
from streamer.auth_config import check_config, configured_users
from streamer.buckets import ensure_buckets
from streamer.cli import main
from streamer.nats_process import http_get
from streamer.nats_server import NatsServer
from subscribers import DriftStreamClient
from subscribers.buckets import last_entries
from tests.drift_clients import wait_until_async
from tests.factories import funding_rate
from tests.test_auth import Violations, connect_as

ROOT = Path(__file__).resolve().parent.parent
DEPLOYED = ROOT / "deploy" / "nats" / "auth.conf"
ENGINE = "risk-engine"


@dataclass(frozen=True)
class Added:
    """What `users add` printed: the user, its password and the engine's NATS_URL."""

    user: str
    password: str
    nats_url: str
    stdout: str
    stderr: str


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of deploy/nats/auth.conf (mode 0640) and its users' password variables in
    the environment (the servers started here read them)."""
    config = tmp_path / "nats" / "auth.conf"
    config.parent.mkdir()
    shutil.copy(DEPLOYED, config)
    config.chmod(0o640)
    for user, password in configured_users(config.read_text()).items():
        if password.startswith("$"):
            monkeypatch.setenv(password[1:], f"pw-of-{user}")
    return config


async def _users_add(config: Path, name: str, url: str) -> Added:
    """`drift-stream users add NAME --config FILE --url URL`, as a process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streamer.cli",
        "users",
        "add",
        name,
        "--config",
        str(config),
        "--url",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    stdout, stderr = out.decode(), err.decode()
    assert proc.returncode == 0, stdout + stderr
    fields = dict(re.findall(r"^  (user|password) +(\S+)$", stdout, re.M))
    found = re.search(r"^  NATS_URL=(\S+)$", stdout, re.M)
    assert found is not None, stdout
    return Added(fields["user"], fields["password"], found.group(1), stdout, stderr)


async def _config_load_time(server: NatsServer) -> str:
    status, body = await http_get("127.0.0.1", server.http_port, "/varz", "127.0.0.1")
    assert status == 200
    return str(json.loads(body)["config_load_time"])


@pytest.mark.timeout(90)
async def test_an_added_engine_reads_heartbeats_and_may_do_nothing_else(
    deployment: Path, tmp_path: Path
) -> None:
    """The command adds the engine to the file (mode kept, nothing else changed: the
    file is render_authorization of the old users and the new one, its password a
    bcrypt hash, `nats-server -t` accepts it) and prints its credentials once, on
    stdout only. A server started on the file lets it read a bucket and the plain
    subjects and heartbeat its presence, and refuses it every write but its own."""
    before = configured_users(await asyncio.to_thread(deployment.read_text))
    added = await _users_add(deployment, ENGINE, "nats://node-1:4222,nats://node-2:4222")
    assert added.user == ENGINE
    assert len(added.password) >= 32
    assert added.nats_url == (
        f"nats://{ENGINE}:{added.password}@node-1:4222,nats://{ENGINE}:{added.password}@node-2:4222"
    )
    assert added.password not in added.stderr
    await asyncio.to_thread(_check_file, deployment, before, added.password)

    async with NatsServer(store_dir=tmp_path / "js", config_file=deployment) as server:
        operator = await connect_as(_url(server, "operator", before))
        try:
            kvs = await ensure_buckets(operator.jetstream(), bucket_specs(presence_ttl=3))
            sol = funding_rate("SOL-PERP", 0, last_funding_rate=123)
            await kvs[FUNDING_BUCKET].put("local.SOL-PERP", encode(sol))
            url = f"nats://{ENGINE}:{added.password}@127.0.0.1:{server.port}"
            await _reads_and_heartbeats(url, kvs[FUNDING_BUCKET])
            await _everything_else_is_refused(url)
            assert b'"last_funding_rate":456' in (
                (await kvs[FUNDING_BUCKET].get("local.SOL-PERP")).value or b""
            )  # the operator's last write, not the engine's
        finally:
            await operator.close()


def _check_file(config: Path, before: dict[str, str], password: str) -> None:
    """The users file after `users add`: the old users and the engine, rendered; its
    mode kept, no temporary file left, no password in it; `nats-server -t` accepts it."""
    assert password not in config.read_text()
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert sorted(p.name for p in config.parent.iterdir()) == ["auth.conf"]
    after = configured_users(config.read_text())
    assert list(after) == [*before, ENGINE]
    assert after[ENGINE].startswith("$2a$11$")
    assert config.read_text().endswith(render_authorization(after))
    check_config(config)  # nats-server -t (raises if it refuses)


def _url(server: NatsServer, user: str, users: dict[str, str]) -> str:
    """A role's URL on a server started on the deployment's file (its $ENV password)."""
    password = os.environ[users[user][1:]]
    return server.url.replace("nats://", f"nats://{user}:{password}@")


async def _reads_and_heartbeats(url: str, funding: KeyValue) -> None:
    """As the engine: a bucket read and a republished value arrive; the library's
    presence key is `local.<engine>.<id>` and is renewed (a second revision)."""
    violations = Violations()
    engine = await connect_as(url, violations)
    try:
        kv = await engine.jetstream().key_value(FUNDING_BUCKET)
        assert (await kv.get("local.SOL-PERP")).value
        live = await engine.subscribe(funding_subject("local", "SOL-PERP"))
        await engine.flush()
        sol = funding_rate("SOL-PERP", 0, last_funding_rate=456)
        await funding.put("local.SOL-PERP", encode(sol))
        try:  # a busy CI machine once took more than 5 s here
            republished = await live.next_msg(timeout=20)
        except NatsTimeoutError:
            raise AssertionError(f"no republished value; refused: {violations.seen}") from None
        assert b'"last_funding_rate":456' in republished.data
        async with DriftStreamClient("local", nats_url=url, name="risk", consumer_id="r-1"):
            presence = await engine.jetstream().key_value(CONSUMERS_BUCKET)
            key = f"local.{ENGINE}.r-1"
            beats = await presence.watch(key)
            revisions: set[int | None] = set()
            while len(revisions) < 2:  # heartbeats every TTL/3 (1 s): a second revision
                entry = await beats.updates(timeout=5)
                if entry is not None:
                    revisions.add(entry.revision)
            await beats.stop()
            keys = [e.key for e in await last_entries(presence, ">")]
            assert keys == [key]
    finally:
        await engine.close()


async def _everything_else_is_refused(url: str) -> None:
    """A data bucket write, a data subject, another engine's and an old-form presence
    key, api impersonation, `reconnect` and a stream deletion: all refused."""
    errors = Violations()
    engine = await connect_as(url, errors)
    try:
        js = engine.jetstream(timeout=1)
        funding = await js.key_value(FUNDING_BUCKET)
        presence = await js.key_value(CONSUMERS_BUCKET)
        for write in (
            funding.put("local.SOL-PERP", b"{}"),
            presence.put("local.dashboard.d-1", b"{}"),
            presence.put("local.old-1", b"{}"),
            js.delete_stream(f"KV_{FUNDING_BUCKET}"),
            engine.request("drift.local.api.reconnect", b"", timeout=1),
        ):
            with pytest.raises(NatsError):
                await write
        await engine.publish(funding_subject("local", "SOL-PERP"), b"{}")
        await engine.subscribe("drift.local.api.status")
        for refused in (
            "$KV.drift_funding.local.SOL-PERP",
            "$KV.drift_consumers.local.dashboard.d-1",
            "$KV.drift_consumers.local.old-1",
            "$JS.API.STREAM.DELETE.KV_drift_funding",
            "drift.local.api.reconnect",
            'Publish to "drift.local.funding.SOL-PERP"',
            'Subscription to "drift.local.api.status"',
        ):
            await errors.wait_for(refused)
    finally:
        await engine.close()


@pytest.mark.timeout(60)
async def test_a_running_server_lets_the_engine_in_after_a_reload(
    deployment: Path, tmp_path: Path
) -> None:
    """The operator's flow: the servers run, `users add`, then SIGHUP (compose's
    `kill -s HUP`): before the reload the engine is refused, after it connects. The
    node's config names the server and includes the users file, as compose's does
    (nats-server cannot reload a server named on its command line only)."""
    node = deployment.parent / "node.conf"
    await asyncio.to_thread(node.write_text, 'server_name: "node-1"\ninclude ./auth.conf\n')
    async with NatsServer(store_dir=tmp_path / "js", config_file=node, name="node-1") as server:
        added = await _users_add(deployment, ENGINE, server.url)
        url = f"nats://{ENGINE}:{added.password}@127.0.0.1:{server.port}"
        with pytest.raises((NatsError, OSError)):
            await connect_as(url)
        loaded = await _config_load_time(server)
        os.kill(server.pid, signal.SIGHUP)

        async def reloaded() -> bool | None:  # /varz says when the reload is done
            return True if await _config_load_time(server) != loaded else None

        await wait_until_async(reloaded, within=10)
        engine = await connect_as(url)
        assert engine.is_connected
        await engine.close()


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a.b", "invalid engine 'a.b': use 1-64 ASCII letters, digits, '-' or '_'"),
        ("x y", "invalid engine 'x y'"),
        ("", "invalid engine ''"),
        ("x" * 65, "invalid engine 'xxxxxxxxx"),
        ("dashboard", "user 'dashboard' already exists"),
        ("streamer", "user 'streamer' already exists"),
        ("engine", "user 'engine' already exists"),
    ],
)
def test_a_bad_or_taken_name_is_refused_in_one_line(
    deployment: Path, capsys: pytest.CaptureFixture[str], name: str, problem: str
) -> None:
    """A name that is not a token, or a user the file has (a role, an engine): exit 2,
    one line naming the file and why, the file byte for byte as it was."""
    text = deployment.read_bytes()
    assert main(["users", "add", name, "--config", str(deployment)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"drift-stream: users add {name}: {deployment}: {problem}"), err
    assert err.count("\n") == 1
    assert deployment.read_bytes() == text
    assert sorted(p.name for p in deployment.parent.iterdir()) == ["auth.conf"]


def test_a_file_that_cannot_take_users_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file, and one that is not a users file (compose's node config, which
    includes auth.conf): exit 2 and one line each, nothing written."""
    missing = tmp_path / "nope.conf"
    assert main(["users", "add", ENGINE, "--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"drift-stream: users add {ENGINE}: cannot read {missing}: No such file or directory\n"
    )
    node = tmp_path / "nats.conf"
    shutil.copy(ROOT / "deploy" / "nats" / "nats.conf", node)
    assert main(["users", "add", ENGINE, "--config", str(node)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"drift-stream: users add {ENGINE}: {node}: not a users file"), err
    assert node.read_bytes() == (ROOT / "deploy" / "nats" / "nats.conf").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nats.conf"]


def test_roles_come_first_and_variables_are_named_after_users() -> None:
    """The deployed file's roles, then its engines; `funding-engine`'s password is
    `$FUNDING_ENGINE_PASSWORD` (compose's .env names)."""
    users = configured_users(DEPLOYED.read_text())
    assert list(users)[:3] == list(ROLES)
    assert users["funding-engine"] == "$FUNDING_ENGINE_PASSWORD"
    assert password_variable("funding-engine") == "FUNDING_ENGINE_PASSWORD"
