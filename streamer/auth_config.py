"""A deployment's NATS users file (`deploy/nats/auth.conf`, as `render_authorization`
writes it): read its users, add an engine, check the result with `nats-server -t`,
replace the file atomically. `drift-stream users add` (`streamer.commands.users`) runs it.

An added engine's password is stored as a bcrypt hash, which nats-server compares a
client's password with: the file holds no secret, the servers need no new environment
variable (a reload lets the engine in), and the password itself is shown once, to the
operator. The hash is pycryptodome's `bcrypt` (driftpy installs pycryptodome anyway).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from Crypto.Protocol.KDF import bcrypt
from pydantic import SecretStr

from schemas import SchemaError, validate_engine
from streamer.auth import ROLES, render_user
from streamer.credentials import Credentials, new_password
from streamer.nats_process import find_nats_server

__all__ = [
    "AuthConfigError",
    "add_engine",
    "add_engine_user",
    "bcrypt_hash",
    "check_config",
    "configured_users",
]

BCRYPT_COST = 11  # nats-server's and natscli's default (`nats server passwd`)
# a user entry as render_user writes it (earlier versions left the name unquoted)
_USER = re.compile(
    r"^    \{\n      user: (\"[^\"\n]*\"|[A-Za-z0-9_-]+)\n      password: ([^\n]+)\n", re.M
)
_CLOSING = "\n  ]\n}\n"
_REFERENCE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class AuthConfigError(Exception):
    """The users file cannot take the engine (missing, not ours, the name taken or not a
    token, refused by nats-server); said in one line, the file unchanged."""


def configured_users(text: str) -> dict[str, str]:
    """The users of a rendered authorization block, each with its password as written:
    a `$VARIABLE` reference, or the literal or bcrypt hash (unquoted)."""
    users = {}
    for name, password in _USER.findall(text):
        value = password.strip()
        user = json.loads(name) if name.startswith('"') else name
        users[user] = value if value.startswith("$") else json.loads(value)
    return users


def add_engine(text: str, engine: str, password_hash: str) -> str:
    """`text` with one more user, `engine`, last in its users list: the entry
    `render_authorization` writes for it. AuthConfigError if the name is not a token or
    is taken, or `text` is not one rendered authorization block."""
    try:
        validate_engine(engine)
    except SchemaError as exc:
        raise AuthConfigError(str(exc)) from exc
    users = configured_users(text)
    if text.count("authorization {") != 1 or not text.endswith(_CLOSING) or not users:
        raise AuthConfigError(
            "not a users file as drift-stream writes it (one `authorization { users = [...] }`"
            " block at its end, e.g. deploy/nats/auth.conf)"
        )
    if engine in users or engine in ROLES:
        raise AuthConfigError(f"user {engine!r} already exists")
    end = len(text) - len(_CLOSING)
    return text[:end] + "\n" + render_user(engine, password_hash) + text[end:]


def bcrypt_hash(password: SecretStr, cost: int = BCRYPT_COST) -> str:
    """The bcrypt hash (`$2a$11$...`) of a password, as nats-server reads it."""
    return bcrypt(password.get_secret_value().encode(), cost).decode()


def check_config(path: Path) -> None:
    """`nats-server -t` on the file, with a stand-in value for every `$VARIABLE` it
    references (the servers have the real ones). AuthConfigError with its complaint."""
    text = path.read_text()
    env = {name: "stand-in" for name in _REFERENCE.findall(text)}
    result = subprocess.run(
        [str(find_nats_server()), "-c", str(path), "-t"],
        capture_output=True,
        text=True,
        env={**env, "PATH": os.environ.get("PATH", "")},
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        complaint = " ".join((result.stderr + result.stdout).split())
        raise AuthConfigError(f"nats-server refuses the new users file: {complaint}")


def add_engine_user(path: Path, engine: str) -> Credentials:
    """Add an engine user with a fresh password to the users file at `path`, checked by
    nats-server, then swapped in atomically (same folder, same mode); the credentials.
    AuthConfigError, with the file unchanged, if it cannot be done."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise AuthConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    creds = Credentials(engine, new_password())
    try:
        updated = add_engine(text, engine, bcrypt_hash(creds.password))
    except AuthConfigError as exc:
        raise AuthConfigError(f"{path}: {exc}") from exc
    temporary: Path | None = None
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".conf")
        temporary = Path(name)
        with os.fdopen(fd, "w") as f:
            f.write(updated)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, path.stat().st_mode & 0o777)
        check_config(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise AuthConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    return creds
