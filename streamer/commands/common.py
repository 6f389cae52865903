"""What the `drift-stream` commands share: settings from environment and flags, the NATS
options of a one-shot command, where `drift-stream up` keeps its credentials."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from streamer.logs import hide_secrets
from streamer.settings import Settings

__all__ = ["LOCAL_AUTH_DIR", "ONE_SHOT", "settings_for"]

# Where `drift-stream up` writes the NATS credentials of each user (see streamer.auth).
LOCAL_AUTH_DIR = Path(".drift-stream") / "auth"


async def _quiet(exc: Exception) -> None:
    """A one-shot command reports a failed connection itself, in one line."""


# NATS options of a one-shot command: fail at once instead of retrying for minutes.
ONE_SHOT: dict[str, Any] = {
    "allow_reconnect": False,
    "max_reconnect_attempts": 1,
    "reconnect_time_wait": 0.1,
    "error_cb": _quiet,
}


def settings_for(
    args: argparse.Namespace, user: str | None = None, **overrides: object
) -> Settings:
    """Environment first, then the flags that were given.

    With no NATS URL given at all, a command run where `drift-stream up` runs uses the
    credentials `up` wrote for its user (./.drift-stream/auth/<user>.env). Where the
    NATS URL came from is kept in `args.nats_url_source`, for error messages.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    source = "--nats-url" if "nats_url" in given else "the default URL"
    if "nats_url" not in given and "NATS_URL" in os.environ:
        source = "$NATS_URL"
    elif user is not None and "nats_url" not in given:
        local = LOCAL_AUTH_DIR / f"{user}.env"
        if local.is_file():
            from streamer.credentials import read_credentials

            given["nats_url"] = read_credentials(local)
            source = str(local)
    args.nats_url_source = source
    settings = Settings(**given)  # type: ignore[arg-type]
    hide_secrets(
        settings.nats_url.get_secret_value(),
        settings.rpc_url.get_secret_value() if settings.rpc_url else None,
    )
    return settings
