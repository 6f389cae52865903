"""NATS users and permissions: who may publish data, read it, and call `reconnect`.

Three roles and any number of engines, each a NATS user (anonymous connections are
refused once users exist):

- `streamer`: manages the buckets, writes the data buckets, the lease and health,
  publishes status, serves the api (subscribes to `drift.*.api.>` and `$SRV.>`), and
  publishes and hears the leader's heartbeat (`drift.*.leader`, for standby streamers).
- an engine: every other user (`engine` for the `nats` CLI and one-off scripts,
  `dashboard`, `funding-engine`, ...), its name its presence token
  (`schemas.keys.consumer_key`). Reads the KV (watch, get, history), lists the
  streams and buckets, reads the plain subjects and hears the leader's heartbeat (its
  sequences tell a client it missed a value), calls status, markets, funding and spot,
  and puts and deletes only its own presence keys `<net>.<engine>.<id>`; `engine` also
  the old `<net>.<consumer_id>` ones for one more release (`LEGACY_CONSUMER_KEYS`:
  engines of the previous release keep registering). It cannot write another engine's
  presence or a data bucket, publish on a data subject, create, purge or delete
  streams, answer api requests, or call `reconnect`.
- `operator`: everything (reconnect, administration).

`render_authorization` is the one source of these rules: `drift-stream up` writes it
with random passwords (`streamer.credentials`) for the roles and its own engines
(`dashboard`), the compose deployment's config is the same text with `$ENV` references
for the passwords (a test keeps them equal), and `drift-stream users add` adds an engine
to such a config.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Literal

from schemas.buckets import (
    BUCKET_NAMES,
    CONSUMERS_BUCKET,
    FUNDING_BUCKET,
    HEALTH_BUCKET,
    HISTORY_STREAM,
    LEADER_BUCKET,
    MARKETS_BUCKET,
    PRICES_BUCKET,
    SPOT_BUCKET,
)
from schemas.keys import engine_consumer_wildcard
from schemas.subjects import (
    API_TOKEN,
    FUNDING_TOKEN,
    KV_SUBJECT_PREFIX,
    LEADER_TOKEN,
    LEGACY_CONSUMER_KEYS,
    MARKET_TOKEN,
    MARKETS_TOKEN,
    SERVICE_NAME,
    SPOT_TOKEN,
    STATUS_TOKEN,
    SUBJECT_ROOT,
    kv_subject,
    validate_engine,
)

__all__ = [
    "GENERIC_ENGINE",
    "ROLES",
    "Role",
    "password_variable",
    "permissions",
    "render_authorization",
    "render_user",
]

Role = Literal["streamer", "engine", "operator"]
ROLES: tuple[Role, ...] = ("streamer", "engine", "operator")
GENERIC_ENGINE: Role = "engine"
"""The engine user of the `nats` CLI and one-off scripts (presence token `engine`)."""
_JS = "$JS.API"
_WRITTEN_BY_STREAMER = (
    FUNDING_BUCKET,
    PRICES_BUCKET,
    MARKETS_BUCKET,
    SPOT_BUCKET,
    LEADER_BUCKET,
    HEALTH_BUCKET,
)
_READ_ENDPOINTS = ("status", "markets", "funding", "spot")


def _kv(bucket: str) -> str:
    return f"KV_{bucket}"


def _engine_publish(engine: str) -> list[str]:
    streams = [_kv(b) for b in BUCKET_NAMES] + [HISTORY_STREAM]  # (health is in BUCKET_NAMES)
    allow = [f"{_JS}.INFO", "$JS.FC.>", f"$JS.ACK.{HISTORY_STREAM}.>"]
    # Listing is reading: the names, configs and sizes of the account's streams (`nats kv
    # ls`, `nats stream ls`), never a message; docs/OPERATIONS.md says why it is allowed.
    allow += [f"{_JS}.STREAM.LIST", f"{_JS}.STREAM.NAMES"]
    for stream in streams:
        allow += [
            f"{_JS}.STREAM.INFO.{stream}",
            f"{_JS}.STREAM.MSG.GET.{stream}",
            f"{_JS}.DIRECT.GET.{stream}",
            f"{_JS}.DIRECT.GET.{stream}.>",
            f"{_JS}.CONSUMER.CREATE.{stream}",
            f"{_JS}.CONSUMER.CREATE.{stream}.>",
            f"{_JS}.CONSUMER.INFO.{stream}.*",
            f"{_JS}.CONSUMER.DELETE.{stream}.*",
            f"{_JS}.CONSUMER.MSG.NEXT.{stream}.*",
        ]
    # its own presence keys only: the engine is a whole token of the key, so `*` cannot
    # reach another engine's (`drift_consumers` also refuses rollup headers)
    allow.append(kv_subject(CONSUMERS_BUCKET, engine_consumer_wildcard(engine)))
    if engine == GENERIC_ENGINE:  # the previous release's `<net>.<consumer_id>`, for now
        allow.append(kv_subject(CONSUMERS_BUCKET, LEGACY_CONSUMER_KEYS))
    allow += [f"{SUBJECT_ROOT}.*.{API_TOKEN}.{endpoint}" for endpoint in _READ_ENDPOINTS]
    allow += ["$SRV.PING", "$SRV.INFO", "$SRV.STATS"]
    allow += [f"$SRV.{verb}.{SERVICE_NAME}" for verb in ("PING", "INFO", "STATS")]
    allow += [f"$SRV.{verb}.{SERVICE_NAME}.*" for verb in ("PING", "INFO", "STATS")]
    return allow


def permissions(user: str) -> dict[str, object]:
    """The nats-server `permissions` block (publish/subscribe allow lists) of a user: the
    `streamer` or `operator` role's, else an engine's (the user's name is its presence
    token; SchemaError if it cannot be one)."""
    if user == "operator":
        return {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
    if user == "streamer":
        return {
            "publish": {
                "allow": [
                    f"{_JS}.>",
                    "$JS.FC.>",
                    "$JS.ACK.>",
                    *(f"{KV_SUBJECT_PREFIX}.{b}.>" for b in _WRITTEN_BY_STREAMER),
                    f"{SUBJECT_ROOT}.*.{STATUS_TOKEN}",
                    f"{SUBJECT_ROOT}.*.{LEADER_TOKEN}",  # the leader's beats
                ]
            },
            "subscribe": {
                "allow": [
                    "_INBOX.>",
                    f"{SUBJECT_ROOT}.*.{API_TOKEN}.>",
                    "$SRV.>",
                    f"{SUBJECT_ROOT}.*.{LEADER_TOKEN}",  # standbys hear the leader's beats
                ]
            },
            # api and $SRV replies go to the requester's inbox
            "allow_responses": True,
        }
    return {
        "publish": {"allow": _engine_publish(validate_engine(user))},
        # `>` rather than `*` after the per-market kinds: `nats sub 'drift.local.funding.>'`
        # is the natural command, and only the KV republish (one token) publishes there.
        "subscribe": {
            "allow": [
                "_INBOX.>",
                f"{SUBJECT_ROOT}.*.{FUNDING_TOKEN}.>",
                f"{SUBJECT_ROOT}.*.{MARKET_TOKEN}.>",
                f"{SUBJECT_ROOT}.*.{MARKETS_TOKEN}",
                f"{SUBJECT_ROOT}.*.{SPOT_TOKEN}.>",
                f"{SUBJECT_ROOT}.*.{STATUS_TOKEN}",
                # the leader's beats: their sequences tell a mirror it missed a value
                f"{SUBJECT_ROOT}.*.{LEADER_TOKEN}",
            ]
        },
    }


_ENV_REFERENCE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")


def password_variable(user: str) -> str:
    """The environment variable of a user's password in the compose deployment:
    `funding-engine` -> `FUNDING_ENGINE_PASSWORD`."""
    return f"{user.upper().replace('-', '_')}_PASSWORD"


def render_user(user: str, password: str) -> str:
    """One user's entry of the `users` list, with `permissions(user)`.

    The password is written as given: a reference to an environment variable of the
    server if it is one (`$ENGINE_PASSWORD`), else quoted: a literal, or a bcrypt hash
    (`$2a$11$...`), which nats-server compares a password with.
    """
    value = password if _ENV_REFERENCE.fullmatch(password) else json.dumps(password)
    perms = json.dumps(permissions(user), indent=2).replace("\n", "\n      ")
    name = json.dumps(user)  # quoted: unquoted, `on` or `123` would not be a string
    return (
        f"    {{\n      user: {name}\n      password: {value}\n      permissions: {perms}\n    }}"
    )


def render_authorization(passwords: Mapping[str, str]) -> str:
    """The `authorization { users = [...] }` block of a nats-server config: every role
    (each one's password is required), then the engines of `passwords`, in its order."""
    users = [render_user(role, passwords[role]) for role in ROLES]
    users += [render_user(u, p) for u, p in passwords.items() if u not in ROLES]
    return "authorization {\n  users = [\n" + "\n".join(users) + "\n  ]\n}\n"
