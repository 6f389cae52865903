"""The real nats CLI (natscli, built by `make` into .tools/bin) against `drift-stream up`,
run exactly as the README's "nats CLI" section shows it.

Every line of that section's command blocks has a check here and a line without one
fails, so the README cannot drift from what the CLI prints. As the engine user every
read works and every write is refused (exit code and message) with nothing changed;
`up` writes a context file per role; natscli writes nothing to the user's config.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import signal
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import SecretStr

from schemas import (
    API_ENDPOINTS,
    BUCKET_NAMES,
    SERVICE_NAME,
    ErrorReply,
    FundingRate,
    MarketList,
    Network,
    ReconnectResult,
    SchemaModel,
    SpotMarketSnapshot,
    StreamerState,
    StreamerStatus,
    api_subject,
    decode,
    fence_key,
    parse_consumer_key,
)
from schemas.buckets import FUNDING_BUCKET, HISTORY_STREAM, history_stream
from streamer.auth import ROLES
from streamer.commands.up import UP_ENGINES
from streamer.credentials import (
    Credentials,
    generate_credentials,
    read_credentials,
    url_with_credentials,
    write_nats_contexts,
)
from tests.natscli_run import Result, Sandbox, natscli, pinned_version, read_lines

ROOT = Path(__file__).resolve().parent.parent
NET: Network = "local"
STORE = ".drift-stream"
EXPORT = f"export NATS_CONTEXT=$PWD/{STORE}/auth/engine.context.json"
OPERATOR = f"{STORE}/auth/operator.context.json"
OPERATOR_RECONNECT = f"nats --context {OPERATOR} req drift.local.api.reconnect ''"
VIOLATION = 'Permissions Violation for Publish to "{}"'
M = TypeVar("M", bound=SchemaModel)


# --- the README's section, line by line ------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One line of a command block: the command and what its comment says it prints."""

    block: int
    command: str
    comment: str

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command)


def readme_lines() -> list[Line]:
    """The command lines of the README's "## nats CLI" fenced `sh` blocks."""
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## nats CLI\n")
    section = text[start : text.find("\n## ", start + 1)]
    lines = []
    for block, body in enumerate(re.findall(r"```sh\n(.*?)```", section, re.S)):
        for raw in body.splitlines():
            command, _, comment = raw.partition("  #")
            if command.strip():
                lines.append(Line(block, command.strip(), comment.strip()))
    return lines


READS = [line for line in readme_lines() if line.block == 0 and line.command != EXPORT]
WRITES = [line for line in readme_lines() if line.block == 1]


# --- one `drift-stream up` for the module ------------------------------------------------


@dataclass(frozen=True)
class Up:
    """A running `drift-stream up` (small preset), its output and the markets it serves."""

    sandbox: Sandbox
    printed: str
    nats_url: str
    symbols: tuple[str, ...]

    @property
    def auth(self) -> Path:
        return self.sandbox.cwd / STORE / "auth"

    def env(self) -> dict[str, str]:
        return _engine_env(self.sandbox)

    def run(self, line: Line, timeout: float = 20) -> Result:
        return self.sandbox.run(line.argv, self.env(), timeout)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """`drift-stream up` on free ports in a directory of its own, with data flowing (the
    dashboard is a consumer); stopped with Ctrl-C (SIGINT) after the module."""
    natscli()  # fails first, with "run make", when the CLI is missing
    root = tmp_path_factory.mktemp("nats-cli")
    sandbox = Sandbox(cwd=root / "project", home=root / "sandbox").make()
    sandbox.cwd.mkdir()
    args = ["up", "--nats-port", "0", "--nats-monitor-port", "0", "--dashboard-port", "0"]
    args += ["--port", "0", "--preset", "small", "--store-dir", STORE]
    with (root / "up.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamer.cli", *args],
            cwd=sandbox.cwd,
            env=sandbox.env(),
            stdout=subprocess.PIPE,
            stderr=log,
        )
    try:
        assert proc.stdout is not None
        try:
            printed = read_lines(
                proc.stdout, lambda seen: any("running; Ctrl-C" in s for s in seen), 60, "up"
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{(root / 'up.log').read_text()[-3000:]}") from exc
        text = "\n".join(printed)
        url = re.search(r"nats-server\s+(nats://\S+)", text)
        assert url is not None, text
        yield Up(sandbox, text, url.group(1), _wait_for_data(sandbox, _engine_env(sandbox)))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()  # (its nats-server gets SIGTERM when it dies)
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def _engine_env(sandbox: Sandbox) -> dict[str, str]:
    """The environment after the README's `export` line (its $PWD: up's directory)."""
    name, _, value = EXPORT.removeprefix("export ").partition("=")
    return sandbox.env(**{name: value.replace("$PWD", str(sandbox.cwd))})


def _wait_for_data(sandbox: Sandbox, env: dict[str, str]) -> tuple[str, ...]:
    """Block until the funding, spot and market list values exist (a KV watch prints a
    key's value as soon as there is one); the markets' symbols."""
    for bucket, key in (("drift_markets", NET), ("drift_spot", f"{NET}.USDC")):
        sandbox.stream(["nats", "kv", "watch", bucket, key], env, lambda seen: bool(seen), 60)
    markets = sandbox.run(["nats", "kv", "get", "drift_markets", NET, "--raw"], env)
    symbols = tuple(m.symbol for m in decode(MarketList, markets.stdout).markets)
    keys = {f"{NET}.{s}" for s in symbols}
    sandbox.stream(
        ["nats", "kv", "watch", FUNDING_BUCKET, f"{NET}.>"],
        env,
        lambda seen: keys <= {_watched(line)[0] for line in seen},
        60,
    )
    return symbols


# --- checks ---------------------------------------------------------------------------


def _strict(model: type[M], text: str) -> M:
    """`text` as `model`, validated, with no field the model does not have."""
    raw = json.loads(text)
    unknown = set(raw) - set(model.model_fields)
    assert not unknown, f"{model.__name__}: unknown fields {unknown}"
    return decode(model, text)


def _ok(result: Result) -> Result:
    assert result.code == 0, result
    return result


def _requested(result: Result, endpoint: str) -> None:
    assert f'Sending request on "drift.{NET}.api.{endpoint}"' in result.stderr, result


def check_funding(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    funding = _strict(FundingRate, result.stdout)
    assert (funding.network, funding.symbol) == (NET, "SOL-PERP")
    _requested(result, "funding")


def check_spot(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    spot = _strict(SpotMarketSnapshot, result.stdout)
    assert (spot.network, spot.symbol) == (NET, "USDC")


def check_status(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    status = _strict(StreamerStatus, result.stdout)
    assert status.state is StreamerState.RUNNING
    assert status.leader == status.instance_id
    assert "Reading payload from STDIN" not in result.stderr  # '' is the body


def check_markets(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    listed = _strict(MarketList, result.stdout)
    assert tuple(m.symbol for m in listed.markets) == up.symbols
    assert "SOL-PERP" in up.symbols


def check_unknown_market(up: Up, line: Line) -> None:
    result = _ok(up.run(line))  # an error reply is a reply: natscli exits 0
    reply = _strict(ErrorReply, result.stdout)
    assert (reply.code, reply.error) == (404, "unknown market NOPE")
    assert "Nats-Service-Error-Code: 404" in result.stderr, result
    assert "Nats-Service-Error: unknown market NOPE" in result.stderr, result


def check_micro_ls(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    row = re.search(
        rf"│ {SERVICE_NAME} +│ [\w.]+ +│ \w{{22}} +│ Drift market data for {NET}", result.stdout
    )
    assert row is not None, result


def check_micro_info(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    assert re.search(rf"Service: {SERVICE_NAME} \(\w{{22}}\)", result.stdout), result
    for endpoint in API_ENDPOINTS:
        assert re.search(
            rf"Name: {endpoint}\n +Subject: drift\.{NET}\.api\.{endpoint}\n +Queue Group: q\n",
            result.stdout,
        ), (endpoint, result)


def check_micro_stats(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    assert f"{SERVICE_NAME} Service Statistics" in result.stdout, result
    assert re.search(r"│ Endpoint +│ Requests +│ Queue Group +│ Errors +│", result.stdout)
    rows = re.findall(r"│ (?:\w{22})? +│ (\w+) +│ [\d,]+ +│ q +│ [\d,]+ +│", result.stdout)
    assert sorted(rows) == sorted(API_ENDPOINTS), result


def check_micro_ping(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    assert re.search(rf"^{SERVICE_NAME} \w{{22}} +rtt=\S+$", result.stdout, re.M), result


def check_kv_ls(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    assert "Key-Value Buckets" in result.stdout, result
    listed = set(re.findall(r"^│ (drift_\w+) +│", result.stdout, re.M))
    assert listed == set(BUCKET_NAMES), result


def check_kv_keys(up: Up, line: Line) -> None:
    """Every market's key, and the leader's write fence (`_fence.<net>.leader`)."""
    result = _ok(up.run(line))
    assert sorted(result.stdout.split()) == sorted(
        [f"{NET}.{s}" for s in up.symbols] + [fence_key(NET)]
    )


def check_kv_get(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    funding = _strict(FundingRate, result.stdout)
    assert (funding.network, funding.symbol) == (NET, "SOL-PERP")


def check_kv_consumers(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    keys = [parse_consumer_key(key) for key in result.stdout.split()]
    assert {(key.network, key.engine) for key in keys} == {(NET, "dashboard")}, result


def _watched(line: str) -> tuple[str, str]:
    """`[<time>] PUT drift_funding > <key>: <value>`: the key and the value."""
    found = re.fullmatch(r"\[[\d: -]+\] PUT drift_funding > (\S+): (\{.*\})", line)
    assert found is not None, line
    return found.group(1), found.group(2)


def check_kv_watch(up: Up, line: Line) -> None:
    keys = {f"{NET}.{s}" for s in up.symbols}
    lines = up.sandbox.stream(
        line.argv, up.env(), lambda seen: keys <= {_watched(s)[0] for s in seen}
    )
    for text in lines:
        key, value = _watched(text)
        funding = _strict(FundingRate, value)
        assert key == f"{funding.network}.{funding.symbol}"


def check_sub(up: Up, line: Line) -> None:
    result = _ok(up.run(line))  # --count 3: it stops by itself
    values = [_strict(FundingRate, text) for text in result.stdout.splitlines() if text]
    assert len(values) == 3, result
    assert {v.network for v in values} == {NET}
    assert {v.symbol for v in values} <= set(up.symbols)


def check_stream_ls(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    row = re.search(
        rf"│ {HISTORY_STREAM} +│ FundingRate history[^│]*│[^│]*│ ([\d,]+) +│", result.stdout
    )
    assert row is not None, result
    assert int(row.group(1).replace(",", "")) > 0


def check_stream_info(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    assert f"Information for Stream {HISTORY_STREAM} created" in result.stdout, result
    spec = history_stream()
    assert f"Sources: {spec.source_stream}\n" in result.stdout
    assert f"Subject Filter and Transform: {spec.source_subject} to {spec.subject}\n" in (
        result.stdout
    )
    assert "Maximum Age: 7d0h0m0s\n" in result.stdout
    messages = re.search(r"Messages: ([\d,]+)\n", result.stdout)
    assert messages is not None, result
    assert int(messages.group(1).replace(",", "")) > 0


def check_stream_get(up: Up, line: Line) -> None:
    result = _ok(up.run(line))
    head = re.match(
        rf"Item: {HISTORY_STREAM}#\d+ received .+ on Subject drift\.{NET}\.funding\.SOL-PERP\n",
        result.stdout,
    )
    assert head is not None, result
    # sourced from the bucket's stream: its origin (stream, sequence, subject) in a header
    assert re.search(r"^  Nats-Stream-Source: KV_drift_funding \d+ ", result.stdout, re.M)
    body = [text for text in result.stdout.splitlines() if text][-1]
    assert _strict(FundingRate, body).symbol == "SOL-PERP"


def check_stream_view(up: Up, line: Line) -> None:
    plain = up.run(line)  # not a terminal: refused (natscli pages only interactively)
    assert plain.code == 1, plain
    assert "interactive stream paging requires a valid terminal" in plain.stderr, plain
    result = up.sandbox.in_terminal(line.argv, up.env(), prompt=b"(Y/n)", answer=b"n\r")
    assert result.code == 0, result
    heads = re.findall(
        rf"\[\d+\] Subject: drift\.{NET}\.funding\.SOL-PERP Received: ", result.stdout
    )
    assert len(heads) == 2, result
    values = [_strict(FundingRate, s) for s in result.stdout.splitlines() if s.startswith("{")]
    assert [v.symbol for v in values] == ["SOL-PERP", "SOL-PERP"]
    assert "Next Page?" in result.stdout
    # answered "n", it deleted its pager consumer (a killed one stays an hour)
    operator = up.sandbox.env(NATS_CONTEXT=str(up.sandbox.cwd / OPERATOR))
    consumers = up.sandbox.run(["nats", "consumer", "ls", HISTORY_STREAM, "--names"], operator)
    assert "stream_pager" not in _ok(consumers).stdout


CHECKS: dict[str, Callable[[Up, Line], None]] = {
    "nats req drift.local.api.funding SOL-PERP": check_funding,
    "nats req drift.local.api.spot USDC": check_spot,
    "nats req drift.local.api.status ''": check_status,
    "nats req drift.local.api.markets ''": check_markets,
    "nats req drift.local.api.funding NOPE": check_unknown_market,
    "nats micro ls": check_micro_ls,
    "nats micro info drift-streamer": check_micro_info,
    "nats micro stats drift-streamer": check_micro_stats,
    "nats micro ping": check_micro_ping,
    "nats kv ls": check_kv_ls,
    "nats kv ls drift_funding": check_kv_keys,
    "nats kv get drift_funding local.SOL-PERP --raw": check_kv_get,
    "nats kv ls drift_consumers": check_kv_consumers,
    "nats kv watch drift_funding 'local.>'": check_kv_watch,
    "nats sub 'drift.local.funding.>' --count 3 --raw": check_sub,
    "nats stream ls": check_stream_ls,
    "nats stream info DRIFT_FUNDING_HISTORY": check_stream_info,
    "nats stream get DRIFT_FUNDING_HISTORY --last-for drift.local.funding.SOL-PERP": (
        check_stream_get
    ),
    "nats stream view DRIFT_FUNDING_HISTORY 2 --subject drift.local.funding.SOL-PERP": (
        check_stream_view
    ),
}

# Refused for the engine user: natscli's exit code and the subject the server names.
REFUSALS: dict[str, tuple[int, str]] = {
    "nats kv put drift_funding local.SOL-PERP '{}'": (1, "$KV.drift_funding.local.SOL-PERP"),
    "nats kv del drift_funding local.SOL-PERP -f": (1, "$KV.drift_funding.local.SOL-PERP"),
    "nats kv purge drift_funding local.SOL-PERP -f": (1, "$KV.drift_funding.local.SOL-PERP"),
    "nats stream purge DRIFT_FUNDING_HISTORY -f": (
        1,
        "$JS.API.STREAM.PURGE.DRIFT_FUNDING_HISTORY",
    ),
    "nats stream rm DRIFT_FUNDING_HISTORY -f": (1, "$JS.API.STREAM.DELETE.DRIFT_FUNDING_HISTORY"),
    "nats pub drift.local.funding.SOL-PERP '{}'": (1, "drift.local.funding.SOL-PERP"),
    # another engine's presence (the dashboard's own user writes local.dashboard.*)
    "nats kv put drift_consumers local.dashboard.x '{}'": (
        1,
        "$KV.drift_consumers.local.dashboard.x",
    ),
    # natscli 0.5.0 exits 0 when a request gets no reply before its timeout
    "nats req drift.local.api.reconnect ''": (0, "drift.local.api.reconnect"),
}


# --- tests ----------------------------------------------------------------------------


def test_natscli_is_the_version_make_installs(tmp_path: Path) -> None:
    """.tools/bin/nats is the natscli version the Makefile pins (a stale build after a
    version change fails here: rm -rf .tools && make)."""
    sandbox = Sandbox(cwd=tmp_path, home=tmp_path).make()
    result = sandbox.run(["nats", "--version"], sandbox.env())
    assert result.stdout.strip() == pinned_version(), "stale .tools: rm -rf .tools && make"


def test_readme_lines_are_exactly_the_checked_ones() -> None:
    """The section's first block sets the engine context, then only checked reads; the
    second only checked refusals and the operator's reconnect; nothing is unchecked and
    no check lacks its README line. Each refusal's comment states the exit code and the
    message the test checks."""
    lines = readme_lines()
    assert (lines[0].block, lines[0].command) == (0, EXPORT)
    assert sorted(line.command for line in READS) == sorted(CHECKS)  # (no line twice)
    assert {line.command for line in WRITES} == {*REFUSALS, OPERATOR_RECONNECT}
    assert {line.block for line in lines} == {0, 1}
    for line in WRITES:
        if line.command in REFUSALS:
            code, subject = REFUSALS[line.command]
            assert line.comment.startswith(f"exit {code}"), line
            assert line.comment.endswith(VIOLATION.format(subject)), line


@pytest.mark.parametrize("line", READS, ids=lambda line: line.command)
def test_readme_read_as_the_engine(up: Up, line: Line) -> None:
    """A README read, run as written with the engine context: the output has the shape
    its comment describes (the wire models parse strictly)."""
    check = CHECKS.get(line.command)
    assert check is not None, f"README command without a check: {line.command}"
    check(up, line)


async def test_readme_writes_are_refused_and_change_nothing(up: Up) -> None:
    """Every README write, run at once as the engine user: natscli shows the server's
    refusal (exit code, message), and nothing changed: the operator saw only the
    streamer's FundingRates on the bucket and on the plain subjects (no fake value, no
    delete or purge marker), the history stream kept every message, the streamer was not
    reconnected. Then the README's operator line does reconnect it."""
    refused = [line for line in WRITES if line.command in REFUSALS]
    assert refused
    nc = await nats.connect(read_credentials(up.auth / "operator.env"), allow_reconnect=False)
    try:
        js = nc.jetstream()
        bucket_writes = await nc.subscribe(f"$KV.{FUNDING_BUCKET}.>")
        published = await nc.subscribe(f"drift.{NET}.funding.>")
        history = await js.stream_info(HISTORY_STREAM)
        bucket = await js.stream_info(f"KV_{FUNDING_BUCKET}")
        status = await _status(nc)

        results = await asyncio.gather(
            *(up.sandbox.run_async(line.argv, up.env()) for line in refused)
        )
        for line, result in zip(refused, results, strict=True):
            code, subject = REFUSALS[line.command]
            assert result.code == code, result
            assert VIOLATION.format(subject) in result.stderr, result
            if line.argv[1] == "req":
                assert result.stdout == "", result  # no reply

        history_after = await js.stream_info(HISTORY_STREAM)
        assert history_after.created == history.created  # not deleted and remade
        assert history_after.state.first_seq == history.state.first_seq  # not purged
        assert history_after.state.last_seq > history.state.last_seq  # still recording
        assert (await js.stream_info(f"KV_{FUNDING_BUCKET}")).created == bucket.created
        assert (await _status(nc)).reconnects == status.reconnects

        writes = await _drain(bucket_writes)
        assert writes, "no streamer write seen meanwhile: the check would prove nothing"
        for msg in writes:
            assert not (msg.headers or {}).get("KV-Operation"), msg.headers  # no del/purge
            assert decode(FundingRate, msg.data).epoch == status.epoch
        plain = await _drain(published)
        assert plain
        for msg in plain:
            assert (msg.headers or {}).get("Nats-Stream") == f"KV_{FUNDING_BUCKET}"
            assert decode(FundingRate, msg.data).network == NET

        (line,) = [line for line in WRITES if line.command == OPERATOR_RECONNECT]
        result = await up.sandbox.run_async(line.argv, up.env(), timeout=60)
        assert result.code == 0, result
        assert _strict(ReconnectResult, result.stdout).ok
        assert (await _status(nc)).reconnects == status.reconnects + 1
    finally:
        await nc.close()


async def _status(nc: Client) -> StreamerStatus:
    reply = await nc.request(api_subject(NET, "status"), b"", timeout=5)
    return decode(StreamerStatus, reply.data)


async def _drain(sub: Subscription) -> list[Msg]:
    """Every message a subscription has received so far."""
    received = []
    while True:
        try:
            received.append(await sub.next_msg(timeout=0.05))
        except NatsTimeoutError:
            return received


def test_up_writes_a_context_per_role_and_says_how_to_use_it(up: Up) -> None:
    """`up` wrote `<user>.context.json` for every role and its own engine users (the
    dashboard's) in its 0700 auth folder, mode 0600: the server's URL without
    credentials, the user, the password of its `.env` file; it printed a
    `nats --context` command, which works as printed."""
    assert stat.S_IMODE(up.auth.stat().st_mode) == 0o700
    assert sorted(path.name for path in up.auth.glob("*.env")) == sorted(
        f"{user}.env" for user in (*ROLES, *UP_ENGINES)
    )
    for role in (*ROLES, *UP_ENGINES):
        path = up.auth / f"{role}.context.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        context = json.loads(path.read_text())
        assert {"description", "url", "user", "password"} <= set(context)
        assert context["url"] == up.nats_url  # no user info in it
        assert context["user"] == role
        same = url_with_credentials(
            context["url"], Credentials(role, SecretStr(context["password"]))
        ) == read_credentials(up.auth / f"{role}.env")
        assert same, f"{path} and {role}.env name different passwords"  # (neither shown)
    printed = re.search(r"^nats CLI +(nats --context (\S+) micro ls)  ", up.printed, re.M)
    assert printed is not None, up.printed
    assert printed.group(2) == str(up.auth / "engine.context.json")
    result = _ok(up.sandbox.run(shlex.split(printed.group(1)), up.sandbox.env()))
    assert SERVICE_NAME in result.stdout


def test_context_files_are_rewritten_private(tmp_path: Path) -> None:
    """Each start's new passwords replace the last ones; a file that existed with a wider
    mode is narrowed to 0600."""
    first = write_nats_contexts(tmp_path, "nats://127.0.0.1:4222", generate_credentials())
    first["engine"].chmod(0o644)
    before = first["engine"].read_text()
    second = write_nats_contexts(tmp_path, "nats://127.0.0.1:4223", generate_credentials())
    assert second == first
    after = json.loads(second["engine"].read_text())
    assert second["engine"].read_text() != before
    assert after["url"] == "nats://127.0.0.1:4223"
    for path in second.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_missing_context_file_is_not_found(up: Up, tmp_path: Path) -> None:
    """natscli 0.5.0 reads a context from a path only when the file exists and ends in
    `.json`; a missing one is taken for a context name: "context not found", exit 1, and
    it unselects the user's selected context (as the README warns)."""
    sandbox = Sandbox(cwd=up.sandbox.cwd, home=tmp_path).make()
    contexts = sandbox.config_home / "nats" / "context"
    contexts.mkdir(parents=True)
    (contexts / "mine.json").write_text(json.dumps({"url": "nats://127.0.0.1:1"}))
    (sandbox.config_home / "nats" / "context.txt").write_text("mine")
    missing = f"{STORE}/auth/nobody.context.json"
    result = sandbox.run(["nats", "--context", missing, "micro", "ping"], sandbox.env())
    assert result.code == 1, result
    assert "context not found" in result.stderr, result
    assert not (sandbox.config_home / "nats" / "context.txt").exists()  # unselected


def test_nats_url_overrides_the_context(up: Up) -> None:
    """NATS_URL, if set, is the server natscli dials, whatever the context says (as the
    README warns): here one where nothing listens."""
    env = {**up.env(), "NATS_URL": "nats://127.0.0.1:1"}
    result = up.sandbox.run(["nats", "micro", "ls"], env)
    assert result.code == 1, result
    assert "no servers available for connection" in result.stderr, result


def test_nats_cli_writes_nothing_to_the_users_config(up: Up) -> None:
    """After this module's nats commands (and one more here), the sandboxed home and
    XDG_CONFIG_HOME are empty; XDG_DATA_HOME holds only the empty plugin folder natscli
    makes on every start."""
    _ok(up.sandbox.run(["nats", "kv", "ls", "--names"], up.env()))
    assert up.sandbox.written() == [
        "home",
        "xdg-config",
        "xdg-data",
        "xdg-data/nats",
        "xdg-data/nats/cli",
        "xdg-data/nats/cli/plugins",
    ]
