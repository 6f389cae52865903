"""Entering a host's network namespace: sockets of the test process that live in it
(`socket_in`), and the step of a spawned child that moves it there (`enter`).

A socket belongs to the network namespace its creating thread was in when it was
made, and stays there whatever thread uses it later. `socket_in` starts a fresh thread,
moves that one thread into the namespace with setns(2) (allowed in a multi-threaded
process for CLONE_NEWNET), creates the socket and lets the thread end: no thread is
ever moved back, and no pooled thread (`asyncio.to_thread`) is left in a foreign
namespace. The test's event loop then uses the socket like any other: traffic from it
leaves through the host's `eth0` and meets the host's nft rules.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading

from tests.netns.errors import NetnsError

__all__ = ["enter", "socket_in"]

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def enter(netns_fd: int) -> None:
    """Move the calling thread into the namespace open as `netns_fd` (setns(2))."""
    if _libc.setns(netns_fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def socket_in(
    netns: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM
) -> socket.socket:
    """A new non-blocking socket in the named namespace (`/run/netns/<netns>`)."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def make() -> None:
        try:
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                enter(fd)
            finally:
                os.close(fd)
            sock = socket.socket(family, kind)
            sock.setblocking(False)
            made.append(sock)
        except OSError as exc:
            failed.append(exc)

    thread = threading.Thread(target=make, name=f"setns-{netns}")
    thread.start()
    thread.join()
    if failed or not made:
        raise NetnsError(f"cannot make a socket in namespace {netns}: {failed}") from (
            failed[0] if failed else None
        )
    return made[0]
