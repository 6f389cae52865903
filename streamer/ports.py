"""Free TCP ports for servers started by tests and by `drift-stream up`.

A port found free can be taken by someone else before our server binds it; callers
that pick ports this way retry on "address in use" (as `NatsServer` does).
"""

from __future__ import annotations

import contextlib
import socket

__all__ = ["free_port", "free_port_pair", "free_ports"]

_PAIR_ATTEMPTS = 50
_MAX_PORT = 65_535


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Return `count` distinct TCP ports that were free on `host` a moment ago."""
    with contextlib.ExitStack() as stack:
        # All sockets stay bound until every port is chosen, so the OS cannot hand
        # the same port out twice.
        sockets = [
            stack.enter_context(socket.socket(_family(host), socket.SOCK_STREAM))
            for _ in range(count)
        ]
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on `host` a moment ago."""
    return free_ports(1, host)[0]


def free_port_pair(host: str = "127.0.0.1") -> int:
    """Return a port `p` such that `p` and `p + 1` were both free on `host`.

    A Solana-style RPC serves its websocket on the HTTP port + 1 (driftpy derives
    it that way), so both must be free.
    """
    for _ in range(_PAIR_ATTEMPTS):
        with (
            socket.socket(_family(host), socket.SOCK_STREAM) as first,
            socket.socket(_family(host), socket.SOCK_STREAM) as second,
        ):
            first.bind((host, 0))
            port = int(first.getsockname()[1])
            if port >= _MAX_PORT:
                continue
            try:
                second.bind((host, port + 1))
            except OSError:
                continue
            return port
    raise OSError(f"found no two consecutive free ports on {host} in {_PAIR_ATTEMPTS} tries")
