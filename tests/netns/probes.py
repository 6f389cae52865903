"""Probes for tests of a lab: a TCP echo server in a host, round trips to it from a
host (or from the root namespace, the control plane), UDP datagrams sent and counted.

Every probe uses sockets of the test process made in a host's namespace
(`Host.socket`), so a probe starts no process and its traffic still leaves through the
host's `eth0` and its nft rules. A probe that must show that something does *not*
arrive waits a bounded time: there is no event for "nothing came".
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

from tests.netns.host import Host

__all__ = [
    "EchoServer",
    "UdpCounter",
    "echo_server",
    "reachable",
    "round_trips",
    "send_udp",
    "wait_reachable",
]

Address = tuple[str, int]
_CHUNK = 65536
_SO_RCVBUFFORCE = 33  # <asm-generic/socket.h>; not in Python's socket module
_RCVBUF = 4 * 1024 * 1024
_BATCH = 5


def _socket(host: Host | None, kind: int) -> socket.socket:
    if host is not None:
        return host.socket(socket.AF_INET, kind)
    sock = socket.socket(socket.AF_INET, kind)
    sock.setblocking(False)
    return sock


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        with contextlib.suppress(ConnectionError):  # a client gone mid-echo ends it
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()
    finally:
        writer.close()


class EchoServer:
    """A TCP echo server of the test process; `close()` (or `async with`) stops it
    and ends its connections."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        ip, port = sock.getsockname()[:2]
        self.address: Address = (str(ip), int(port))

    async def start(self) -> EchoServer:
        self._server = await asyncio.start_server(self._accepted, sock=self._sock)
        return self

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Our own task per connection, kept to be cancelled on close (cancelling
        # asyncio's handler task instead logs an error on Python 3.11).
        task = asyncio.create_task(_echo(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        connections = list(self._connections)
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)

    async def __aenter__(self) -> EchoServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def echo_server(host: Host | None, *, ip: str | None = None, port: int = 0) -> EchoServer:
    """A TCP echo server in `host` on `host.ip:port` (None: in the root namespace, on
    `ip:port`)."""
    sock = _socket(host, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.ip if host is not None else ip or "127.0.0.1", port))
    sock.listen()
    return await EchoServer(sock).start()


async def round_trips(
    host: Host | None, address: Address, count: int = 1, *, timeout: float = 5.0
) -> list[float]:
    """Connect from `host` (None: the root namespace) to an echo server, then time
    `count` round trips of a small message on that connection (seconds each). The
    connect and each round trip must finish within `timeout`."""
    sock = _socket(host, socket.SOCK_STREAM)
    try:
        async with asyncio.timeout(timeout):
            await asyncio.get_running_loop().sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    reader, writer = await asyncio.open_connection(sock=sock)
    times: list[float] = []
    try:
        for i in range(count):
            message = f"ping {i}\n".encode()
            started = time.perf_counter()
            writer.write(message)
            async with asyncio.timeout(timeout):
                await writer.drain()
                await reader.readexactly(len(message))
            times.append(time.perf_counter() - started)
    finally:
        writer.close()
    return times


async def reachable(host: Host | None, address: Address, *, timeout: float = 0.5) -> bool:
    """Whether one round trip from `host` to an echo server works within `timeout`."""
    try:
        await round_trips(host, address, timeout=timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    return True


async def wait_reachable(host: Host | None, address: Address, *, within: float = 5.0) -> float:
    """Retry `reachable` until it is true; the seconds it took (TimeoutError after
    `within`)."""
    started = time.monotonic()
    async with asyncio.timeout(within):
        # no event says "the network works again": retry the probe
        while not await reachable(host, address):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return time.monotonic() - started


class _Counting(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.count = 0
        self.arrived = asyncio.Event()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.count += 1
        self.arrived.set()


class UdpCounter:
    """Counts the UDP datagrams arriving at `address` in a host."""

    def __init__(self, transport: asyncio.DatagramTransport, protocol: _Counting) -> None:
        self._transport = transport
        self._protocol = protocol
        self.address: Address = transport.get_extra_info("sockname")[:2]

    @classmethod
    async def open(cls, host: Host, port: int = 0) -> UdpCounter:
        """Bind `host.ip:port` in `host`, with a receive buffer for thousands of
        datagrams (forced past net.core.rmem_max: the lab runs as root)."""
        sock = _socket(host, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RCVBUF)
        sock.bind((host.ip, port))
        transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
            _Counting, sock=sock
        )
        return cls(transport, protocol)

    @property
    def count(self) -> int:
        return self._protocol.count

    async def settle(self, *, quiet: float = 0.2, timeout: float = 5.0) -> int:
        """The count once no datagram arrived for `quiet` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                self._protocol.arrived.clear()
                try:
                    await asyncio.wait_for(self._protocol.arrived.wait(), quiet)
                except TimeoutError:
                    return self.count

    def reset(self) -> None:
        self._protocol.count = 0

    def close(self) -> None:
        self._transport.close()


async def send_udp(host: Host | None, address: Address, count: int, *, size: int = 32) -> None:
    """Send `count` datagrams of `size` bytes from `host` to `address`, yielding to the
    event loop between batches so a counter in this process keeps reading."""
    sock = _socket(host, socket.SOCK_DGRAM)
    loop = asyncio.get_running_loop()
    try:
        for i in range(count):
            await loop.sock_sendto(sock, i.to_bytes(4, "big").ljust(size, b"."), address)
            if i % _BATCH == _BATCH - 1:
                await asyncio.sleep(0)
    finally:
        sock.close()
