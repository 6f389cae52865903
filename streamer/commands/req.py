"""`drift-stream req ENDPOINT [PAYLOAD]`: call the streamer's api and print the answer.

As the operator role where `drift-stream up` runs (every endpoint, reconnect included);
e.g. `drift-stream req funding SOL-PERP`, `drift-stream req spot USDC`. Exit 1 on an
error reply (its JSON body is printed too).
"""

from __future__ import annotations

import argparse
import json

from schemas import API_ENDPOINTS, ERROR_CODE_HEADER, NETWORKS
from streamer.commands.common import ONE_SHOT, settings_for
from subscribers.connection import connect

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `req` subcommand, on the parser's subcommands."""
    req = sub.add_parser("req", help="call the streamer's api and print the answer")
    req.add_argument("endpoint", choices=API_ENDPOINTS)
    req.add_argument(
        "payload", nargs="?", default="", help="e.g. SOL-PERP or 0 for funding, USDC for spot"
    )
    req.add_argument("--nats-url", default=None, help="NATS (default: $NATS_URL)")
    req.add_argument("--network", choices=NETWORKS, default=None)
    req.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    req.set_defaults(run=run)


async def run(args: argparse.Namespace) -> None:
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout

    from schemas import api_subject

    settings = settings_for(args, "operator", network=args.network, nats_url=args.nats_url)
    nc = await connect(
        settings.nats_url.get_secret_value(), **ONE_SHOT, connect_timeout=args.timeout
    )
    try:
        subject = api_subject(settings.network, args.endpoint)
        try:
            msg = await nc.request(subject, args.payload.encode(), timeout=args.timeout)
        except NoRespondersError:
            raise SystemExit(
                f"no streamer answers {subject} (is one running for "
                f"{settings.network}, and does it have the lease?)"
            ) from None
        except NatsTimeout:
            raise SystemExit(f"no answer on {subject} within {args.timeout} s") from None
        print(json.dumps(json.loads(msg.data or b"null"), indent=2))
        if msg.headers and msg.headers.get(ERROR_CODE_HEADER):
            raise SystemExit(1)
    finally:
        await nc.close()
