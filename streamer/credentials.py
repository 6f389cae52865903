"""Credentials of the NATS users `drift-stream up` runs with: random passwords, and the
files that carry them (mode 0600): `<user>.env` URLs, `nats` CLI contexts, the server's
users config (`streamer.auth.render_authorization`). A password never prints.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import SecretStr

from schemas.subjects import validate_engine
from streamer.auth import ROLES, render_authorization

__all__ = [
    "Credentials",
    "generate_credentials",
    "new_password",
    "read_credentials",
    "url_with_credentials",
    "write_credentials",
    "write_nats_contexts",
    "write_server_config",
]


@dataclass(frozen=True)
class Credentials:
    """One user's name and password; the password never prints."""

    user: str
    password: SecretStr


def new_password() -> SecretStr:
    """A fresh random password: 192 bits, URL-safe base64 (never starts with `$`)."""
    return SecretStr(secrets.token_urlsafe(24))


def generate_credentials(engines: Iterable[str] = ()) -> dict[str, Credentials]:
    """Fresh random passwords for every role and each of `engines`, by user."""
    users = [*ROLES, *(validate_engine(e) for e in engines if e not in ROLES)]
    return {user: Credentials(user, new_password()) for user in users}


def _server_url(url: str, userinfo: str = "") -> str:
    """`url` as `scheme://[userinfo@]host:port[/path]`: any credentials it had replaced."""
    parts = urlsplit(url)
    netloc = parts.hostname or "127.0.0.1"
    if parts.port is not None:
        netloc += f":{parts.port}"
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def url_with_credentials(url: str, creds: Credentials) -> str:
    """`nats://host:port` with the user and password in it."""
    userinfo = f"{quote(creds.user, safe='')}:{quote(creds.password.get_secret_value(), safe='')}"
    return _server_url(url, userinfo)


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: created 0600, never world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


def write_credentials(
    directory: Path, nats_url: str, creds: Mapping[str, Credentials]
) -> dict[str, Path]:
    """`<user>.env` files (`NATS_URL=nats://user:password@host:port`), mode 0600."""
    paths: dict[str, Path] = {}
    for user, cred in creds.items():
        path = directory / f"{user}.env"
        _write_private(path, f"NATS_URL={url_with_credentials(nats_url, cred)}\n")
        paths[user] = path
    return paths


def _nats_context(nats_url: str, creds: Credentials) -> dict[str, str]:
    """A `nats` CLI context (jsm.go natscontext's JSON fields) for the user.

    The server URL carries no credentials: `user` and `password` do. natscli reads a
    password literally unless it starts with a scheme it resolves (`env://`, `file://`,
    `op://`, `nsc://`, `data:`): generated ones (URL-safe base64, no `:`) never do.
    """
    return {
        "description": f"drift-stream up: the {creds.user} user (new password every start)",
        "url": _server_url(nats_url),
        "user": creds.user,
        "password": creds.password.get_secret_value(),
    }


def write_nats_contexts(
    directory: Path, nats_url: str, creds: Mapping[str, Credentials]
) -> dict[str, Path]:
    """`<user>.context.json` files, mode 0600: `nats --context <file>` (or
    `NATS_CONTEXT=<file>`) connects as that user. natscli v0.5.0 reads a context from a
    path that exists and ends in `.json`; anything else is a name it looks up under
    ~/.config/nats."""
    paths: dict[str, Path] = {}
    for user, cred in creds.items():
        path = directory / f"{user}.context.json"
        _write_private(path, json.dumps(_nats_context(nats_url, cred), indent=2) + "\n")
        paths[user] = path
    return paths


def write_server_config(path: Path, creds: Mapping[str, Credentials], *, extra: str = "") -> None:
    """A nats-server config with the users of `creds` (mode 0600: it holds passwords)."""
    passwords = {user: cred.password.get_secret_value() for user, cred in creds.items()}
    _write_private(path, extra + render_authorization(passwords))


def read_credentials(path: Path) -> str:
    """The NATS URL of a `<user>.env` file written by `write_credentials`."""
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "NATS_URL":
            return value.strip()
    raise ValueError(f"{path}: no NATS_URL line")
