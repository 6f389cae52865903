"""`drift-stream users add NAME [--config FILE] [--url URLS]`: give an engine a NATS user
of its own in a deployment's users file (`deploy/nats/auth.conf`, which compose.yaml
mounts), then print its credentials once, for the operator to hand over.

The user may read what every engine reads and write only its own presence keys
(`streamer.auth`); its password is stored as a bcrypt hash (`streamer.auth_config`), so
the servers only need to reload the file. Nothing is logged; the password is printed
to stdout, once, and never again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from streamer.credentials import url_with_credentials
from streamer.logs import hide_secrets

__all__ = ["COMPOSE_SERVERS", "add_parser", "run"]

# compose.yaml's nodes, as engines inside its network reach them
COMPOSE_SERVERS = "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`users add` on the `drift-stream` parser."""
    users = sub.add_parser("users", help="NATS users of a deployment (compose.yaml's)")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", help="give an engine a NATS user of its own; prints its credentials once"
    )
    add.add_argument("name", help="the engine: its NATS user and presence token (a-z, 0-9, -, _)")
    add.add_argument(
        "--config",
        type=Path,
        default=Path("deploy/nats/auth.conf"),
        help="the users file to add it to (default: deploy/nats/auth.conf)",
    )
    add.add_argument(
        "--url",
        default=COMPOSE_SERVERS,
        help="the servers the engine connects to, for its NATS_URL (default: compose's nodes)",
    )
    add.set_defaults(run=run)


async def run(args: argparse.Namespace) -> None:
    """Add the user, then tell the operator what to do and what to give the engine."""
    from streamer.auth_config import add_engine_user

    creds = add_engine_user(args.config, args.name)
    hide_secrets(url_with_credentials("nats://host", creds))  # no log line can carry it
    seeds = ",".join(url_with_credentials(u.strip(), creds) for u in args.url.split(","))
    print(
        f"added NATS user {creds.user} to {args.config} (its password stored as a bcrypt "
        "hash; nats-server -t accepts the file)\n"
        "let the servers reload it: docker compose kill -s HUP nats-1 nats-2 nats-3 "
        "(or nats-server --signal reload)\n"
        "give the engine these credentials; they are shown only now:\n"
        f"  user      {creds.user}\n"
        f"  password  {creds.password.get_secret_value()}\n"
        f"  NATS_URL={seeds}",
        flush=True,
    )
