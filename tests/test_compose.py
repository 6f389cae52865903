"""compose.yaml cannot run here (no Docker engine): these tests keep it in step with
the code instead. Every command parses with the real parsers, every environment
variable is a setting that validates, the NATS users are streamer.auth's, and
nats-server accepts the cluster config."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamer.auth import ROLES, password_variable, permissions, render_authorization
from streamer.auth_config import configured_users
from streamer.cli import _parser
from streamer.commands.up import NATS_SERVER_SETTINGS
from streamer.nats_server import find_nats_server
from streamer.settings import Settings
from subscribers.examples import funding_engine
from tests.test_cluster import LEASE_TTL

ROOT = Path(__file__).resolve().parent.parent
NATS_DIR = ROOT / "deploy" / "nats"
_VAR = re.compile(r"\$\{(\w+)(?::[-?]([^}]*))?\}")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _services(prefix: str) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return {name: s for name, s in services.items() if name.startswith(prefix)}


def _substitute(value: str) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}: defaults, else a stand-in."""
    return _VAR.sub(lambda m: m.group(2) if m.group(2) and "://" in m.group(2) else "pw", value)


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_three_nats_nodes_form_one_cluster() -> None:
    """Three nodes with their own name and volume; the config routes to all three."""
    nodes = _services("nats-")
    assert sorted(nodes) == ["nats-1", "nats-2", "nats-3"]
    assert {n["environment"]["NODE_NAME"] for n in nodes.values()} == set(nodes)
    volumes = {v for n in nodes.values() for v in n["volumes"] if v.endswith(":/data")}
    assert len(volumes) == 3
    config = (NATS_DIR / "nats.conf").read_text()
    for name in nodes:
        assert f"nats://{name}:6222" in config
    assert all(n["healthcheck"]["test"] for n in nodes.values())
    tested = subprocess.run(
        [str(find_nats_server()), "--version"], capture_output=True, text=True, check=True
    ).stdout  # "nats-server: v2.15.1"
    minor = re.search(r"v(\d+\.\d+)", tested)
    assert minor is not None
    assert {n["image"] for n in nodes.values()} == {f"nats:{minor.group(1)}-alpine"}


# The engines of compose.yaml: service -> its NATS user (each its own, docs/OPERATIONS.md).
ENGINE_SERVICES = {"dashboard": "dashboard", "funding-engine": "funding-engine"}


def _configured() -> tuple[str, dict[str, str]]:
    """deploy/nats/auth.conf without its comment lines, and its users' passwords."""
    text = (NATS_DIR / "auth.conf").read_text()
    body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
    return body, configured_users(body)


def test_nats_users_are_streamer_auth_and_the_config_is_valid() -> None:
    """deploy/nats/auth.conf is render_authorization of its users: the roles and
    compose's engines with $ENV passwords (and any engine `users add` added, with a
    bcrypt hash); every node gets every variable it references, the durability setting
    is the code's, and `nats-server -t` accepts the config."""
    body, users = _configured()
    expected = [*ROLES, *ENGINE_SERVICES.values()]
    assert list(users)[: len(expected)] == expected
    for user in expected:
        assert users[user] == f"${password_variable(user)}"
    for user in list(users)[len(expected) :]:  # added by `drift-stream users add`
        assert users[user].startswith("$2a$"), user
    assert body == render_authorization(users)
    variables = {users[user][1:] for user in expected}
    for node in _services("nats-").values():
        assert variables <= set(node["environment"])
    sync = re.search(r"sync_interval: \"(\w+)\"", NATS_SERVER_SETTINGS)
    assert sync is not None
    assert f'sync_interval: "{sync.group(1)}"' in (NATS_DIR / "nats.conf").read_text()
    env = {"NODE_NAME": "nats-1", **dict.fromkeys(variables, "pw")}
    result = subprocess.run(
        [str(find_nats_server()), "-c", str(NATS_DIR / "nats.conf"), "-t"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("network", ["mainnet", "devnet"])
def test_a_leader_and_a_standby_per_network(network: str) -> None:
    """Two streamers per network with distinct instance ids; each command parses with
    drift-stream's parser; each healthcheck is `streamer --check` of that instance;
    the environment is settings that validate: R3 buckets, the cluster lease TTL, all
    three nodes as the `streamer` user."""
    streamers = _services(f"streamer-{network}-")
    assert len(streamers) == 2
    ids = set()
    for service in streamers.values():
        args = _parser().parse_args(service["command"])
        assert args.command == "streamer"
        assert args.network == network
        ids.add(args.instance_id)
        check = service["healthcheck"]["test"]
        assert check[:2] == ["CMD", "drift-stream"]
        check_args = _parser().parse_args(check[2:])
        assert check_args.check
        assert check_args.instance_id == args.instance_id
        assert check_args.network == network
        env = {k: _substitute(str(v)) for k, v in service["environment"].items()}
        settings = Settings(**env)  # type: ignore[arg-type]  # the env names are aliases
        assert set(env) <= _setting_names()
        assert settings.network == network
        assert settings.kv_replicas == 3
        assert settings.lease_ttl == LEASE_TTL
        urls = settings.nats_url.get_secret_value().split(",")
        assert [u.split("@")[1] for u in urls] == [f"nats-{i}:4222" for i in (1, 2, 3)]
        assert all(u.startswith("nats://streamer:") for u in urls)
    assert len(ids) == 2


def test_dashboard_and_engine_each_run_as_their_own_engine_user() -> None:
    """The dashboard and the example engine parse with their real parsers, each runs as
    an engine user of its own (its password variable; the user in auth.conf may write
    only its own presence keys), and the dashboard is published on loopback only."""
    services = _compose()["services"]
    dashboard = services["dashboard"]
    assert _parser().parse_args(dashboard["command"]).command == "dashboard"
    assert all(port.startswith("127.0.0.1:") for port in dashboard["ports"])
    engine = services["funding-engine"]
    assert engine["entrypoint"][-1] == "subscribers.examples.funding_engine"
    assert funding_engine.parser().parse_args(engine["command"]).every == 60
    _, users = _configured()
    for name, user in ENGINE_SERVICES.items():
        raw = services[name]["environment"]["NATS_URL"]
        assert raw.count(f"${{{password_variable(user)}}}") == 3, raw
        urls = _substitute(raw).split(",")
        assert [u.split("@")[1] for u in urls] == [f"nats-{i}:4222" for i in (1, 2, 3)]
        assert all(u.startswith(f"nats://{user}:") for u in urls)
        assert user in users
        publish = permissions(user)["publish"]
        assert isinstance(publish, dict)
        assert f"$KV.drift_consumers.*.{user}.*" in publish["allow"]
        assert "$KV.drift_consumers.>" not in publish["allow"]


def test_dockerfile_installs_every_package() -> None:
    """The image copies every package pyproject installs, on a supported Python."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile
    version = re.search(r"FROM python:(3\.\d+)", dockerfile)
    assert version is not None
    assert version.group(1) in ("3.11", "3.12")


def _setting_names() -> set[str]:
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", [])
        names.update(str(c) for c in choices if str(c).isupper())
    return names
