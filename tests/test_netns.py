"""The network-namespace harness (tests/netns), on real namespaces, veths, nft rules and
processes: each fault does what it says, measured with TCP and UDP between hosts, and
every lab leaves nothing behind, however it ends (even when its owner is SIGKILLed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pytest

import tests.netns
from tests.netns import (
    Host,
    Lab,
    NetnsError,
    UdpCounter,
    echo_server,
    kill,
    pause,
    reachable,
    resume,
    round_trips,
    send_udp,
    sweep,
    wait_reachable,
)
from tests.netns.runs import STATE_DIR, locked

ROOT = Path(__file__).resolve().parents[1]
Address = tuple[str, int]
DATAGRAMS = 400


def names_left(run_id: str) -> list[str]:
    """Lines of `ip netns list` and `ip -o link` that name something of run `run_id`."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    return [line for line in (out.stdout + links.stdout).splitlines() if f"dsn{run_id}" in line]


def alive(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Poll `predicate()` until true (process states and exits have no event here)."""
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, f"not true within {within} s"
        await asyncio.sleep(0.01)


async def echoes(stack: contextlib.AsyncExitStack, hosts: Iterable[Host]) -> dict[str, Address]:
    """An echo server in each host (closed with `stack`): name -> address."""
    addresses = {}
    for host in hosts:
        server = await stack.enter_async_context(await echo_server(host))
        addresses[host.name] = server.address
    return addresses


async def reach(pairs: Sequence[tuple[Host | None, Address]]) -> list[bool]:
    """`reachable` for every (from, to) pair at once."""
    return list(await asyncio.gather(*(reachable(src, dst) for src, dst in pairs)))


async def udp_both_ways(a: Host, b: Host, counters: dict[str, UdpCounter]) -> tuple[int, int]:
    """Send 50 datagrams a -> b and 50 b -> a at once: (arrived at b, arrived at a)."""
    for counter in counters.values():
        counter.reset()
    await asyncio.gather(
        send_udp(a, counters[b.name].address, 50), send_udp(b, counters[a.name].address, 50)
    )
    return await counters[b.name].settle(), await counters[a.name].settle()


async def udp_count(src: Host, counter: UdpCounter) -> int:
    counter.reset()
    await send_udp(src, counter.address, DATAGRAMS)
    return await counter.settle()


def test_public_api() -> None:
    """`tests.netns.__all__` is the harness's public API, and every name exists."""
    assert tests.netns.__all__ == [
        "DelayProxy",
        "Direction",
        "EchoServer",
        "Fault",
        "Host",
        "Lab",
        "NetnsError",
        "UdpCounter",
        "check_machine",
        "echo_server",
        "kill",
        "pause",
        "reachable",
        "resume",
        "round_trips",
        "send_signal",
        "send_udp",
        "sweep",
        "wait_reachable",
    ]
    for name in tests.netns.__all__:
        assert hasattr(tests.netns, name)


async def test_hosts_reach_each_other_and_the_control_plane(lab: Lab) -> None:
    """Hosts get .2, .3, ... of the lab's /24 (the bridge holds .1); every host reaches
    every other, and the root namespace reaches each; names fit IFNAMSIZ."""
    hosts = await asyncio.gather(*(lab.add_host(n) for n in ("nats1", "streamer-a", "engine-2")))
    assert sorted(h.ip for h in hosts) == [str(lab.subnet[i]) for i in (2, 3, 4)]
    assert lab.gateway == str(lab.subnet[1])
    assert all(len(name) <= 15 for name in [lab.bridge, *(h.veth for h in hosts)])
    async with contextlib.AsyncExitStack() as stack:
        addresses = await echoes(stack, hosts)
        pairs: list[tuple[Host | None, Address]] = [
            (src, addresses[dst.name]) for src in hosts for dst in hosts if src is not dst
        ]
        pairs += [(None, address) for address in addresses.values()]
        assert await reach(pairs) == [True] * len(pairs)
        root = await stack.enter_async_context(await echo_server(None, ip=lab.gateway))
        assert await reachable(hosts[0], root.address)


async def test_spawn_runs_in_the_host_and_takes_signals(lab: Lab) -> None:
    """A spawned process runs in its host's namespace, in a process group of its own;
    pause (SIGSTOP), resume (SIGCONT) and kill (SIGKILL) reach it."""
    host = await lab.add_host("streamer-a")
    process = await host.spawn(["sleep", "60"])
    in_host = os.stat(f"/run/netns/{host.netns}").st_ino
    assert os.stat(f"/proc/{process.pid}/ns/net").st_ino == in_host
    assert os.getpgid(process.pid) == process.pid
    pause(process)
    await until(lambda: process_state(process.pid) == "T")
    resume(process)
    await until(lambda: process_state(process.pid) == "S")
    kill(process)
    assert await process.wait() == -signal.SIGKILL


async def test_link_down(lab: Lab) -> None:
    """With a host's link down nothing reaches it, from hosts or the root namespace,
    while other hosts still talk; an open connection stalls and carries on after
    `link_up`, like a pulled cable put back."""
    a, b, c = await asyncio.gather(*(lab.add_host(n) for n in ("nats1", "nats2", "nats3")))
    async with contextlib.AsyncExitStack() as stack:
        addresses = await echoes(stack, [a, c])
        reader, writer = await asyncio.open_connection(sock=await connected(b, addresses["nats1"]))
        assert await reach([(b, addresses["nats1"])]) == [True]

        await lab.link_down(a)
        assert await reach([(b, addresses["nats1"]), (None, addresses["nats1"])]) == [False] * 2
        assert await reachable(b, addresses["nats3"])
        writer.write(b"during\n")
        answer = asyncio.ensure_future(reader.readline())
        done, _ = await asyncio.wait({answer}, timeout=0.3)
        assert not done

        await lab.link_up(a)
        assert await asyncio.wait_for(answer, 5) == b"during\n"
        await wait_reachable(b, addresses["nats1"])
        writer.close()


async def connected(host: Host, address: Address) -> socket.socket:
    """A TCP socket from `host`, connected to `address`."""
    sock = host.socket()
    await asyncio.get_running_loop().sock_connect(sock, address)
    return sock


async def test_two_way_blackhole(lab: Lab) -> None:
    """A two-way blackhole between a and b stops TCP both ways and nothing else."""
    a, b, c = await asyncio.gather(*(lab.add_host(n) for n in ("nats1", "nats2", "nats3")))
    async with contextlib.AsyncExitStack() as stack:
        addresses = await echoes(stack, [a, b])
        across = [(b, addresses["nats1"]), (a, addresses["nats2"])]
        others = [(c, addresses["nats1"]), (c, addresses["nats2"]), (None, addresses["nats1"])]
        assert await reach(across + others) == [True] * 5

        fault = await lab.blackhole(a, b)
        assert await reach(across + others) == [False, False, True, True, True]

        await fault.heal()
        assert await reach(across) == [True, True]


async def test_one_way_blackhole(lab: Lab) -> None:
    """A one-way blackhole a -> b drops a's datagrams to b and delivers b's to a; TCP,
    needing both directions, stalls either way; healed, both directions work."""
    a, b = await asyncio.gather(lab.add_host("nats1"), lab.add_host("streamer-a"))
    counters = {host.name: await UdpCounter.open(host) for host in (a, b)}
    async with contextlib.AsyncExitStack() as stack:
        addresses = await echoes(stack, [a, b])
        assert await udp_both_ways(a, b, counters) == (50, 50)

        fault = await lab.blackhole(a, b, one_way=True)
        assert await udp_both_ways(a, b, counters) == (0, 50)
        tcp = [(a, addresses["streamer-a"]), (b, addresses["nats1"])]
        assert await reach(tcp) == [False, False]

        await fault.heal()
        assert await udp_both_ways(a, b, counters) == (50, 50)
        assert await reach(tcp) == [True, True]
    for counter in counters.values():
        counter.close()


async def test_partition(lab: Lab) -> None:
    """A partition cuts every pair across its two sides, both ways, keeps each side
    whole and the control plane up; healed, every pair talks again."""
    side_a, side_b = ["nats1", "streamer-a"], ["nats2", "nats3", "streamer-b"]
    hosts = await asyncio.gather(*(lab.add_host(n) for n in side_a + side_b))
    async with contextlib.AsyncExitStack() as stack:
        addresses = await echoes(stack, hosts)
        pairs = [(s, d) for s in hosts for d in hosts if s is not d]
        across = [(s, d) for s, d in pairs if (s.name in side_a) != (d.name in side_a)]
        within = [(s, d) for s, d in pairs if (s.name in side_a) == (d.name in side_a)]
        assert len(across) == 12
        assert len(within) == 8

        fault = await lab.partition(set(side_a), set(side_b))
        results = await reach([(s, addresses[d.name]) for s, d in across + within])
        assert results == [False] * len(across) + [True] * len(within)
        assert await reach([(None, address) for address in addresses.values()]) == [True] * 5

        await fault.heal()
        assert await reach([(s, addresses[d.name]) for s, d in pairs]) == [True] * len(pairs)


async def test_packet_loss(lab: Lab) -> None:
    """30 % loss drops about 30 % of 400 datagrams (280 +- 50 arrive: 5 standard
    deviations) in the direction asked for, and none in the other."""
    a, b = await asyncio.gather(lab.add_host("nats1"), lab.add_host("engine-2"))
    at_a, at_b = await UdpCounter.open(a), await UdpCounter.open(b)
    expected = range(230, 331)
    assert await udp_count(a, at_b) == DATAGRAMS

    incoming = await lab.loss(b, 30, direction="in")
    assert await udp_count(a, at_b) in expected
    assert await udp_count(b, at_a) == DATAGRAMS
    await incoming.heal()

    outgoing = await lab.loss(a, 30, direction="out")
    assert await udp_count(a, at_b) in expected
    assert await udp_count(b, at_a) == DATAGRAMS
    await outgoing.heal()

    await lab.loss(b, 30)
    assert await udp_count(a, at_b) in expected
    assert await udp_count(b, at_a) in expected
    await lab.heal_all()
    assert await udp_count(a, at_b) == DATAGRAMS
    at_a.close()
    at_b.close()


async def timed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> list[float]:
    """`n` round trips of a line on an open connection, in seconds each."""
    times = []
    for i in range(n):
        started = time.perf_counter()
        writer.write(f"{i}\n".encode())
        assert await asyncio.wait_for(reader.readline(), 5) == f"{i}\n".encode()
        times.append(time.perf_counter() - started)
    return times


async def test_delay_proxy(lab: Lab) -> None:
    """Through the proxy a round trip takes at least 2 x the delay and not much more;
    a new delay set at run time applies on the open connection; data arrives whole and
    in order; SIGTERM stops the proxy cleanly."""
    client, middle, server = await asyncio.gather(
        *(lab.add_host(n) for n in ("engine-1", "proxy", "nats1"))
    )
    async with await echo_server(server) as echo_at:
        proxy = await lab.delay_proxy(middle, echo_at.address, 100)
        assert proxy.address[0] == middle.ip
        reader, writer = await asyncio.open_connection(sock=await connected(client, proxy.address))
        slow = await timed(reader, writer, 3)
        assert min(slow) >= 0.2
        assert statistics.median(slow) < 0.2 + 0.1

        await proxy.set_delay(20)
        fast = await timed(reader, writer, 3)
        assert min(fast) >= 0.04
        assert statistics.median(fast) < 0.04 + 0.1

        payload = os.urandom(256 * 1024)
        writer.write(payload)
        assert await asyncio.wait_for(reader.readexactly(len(payload)), 5) == payload
        writer.close()
        assert await proxy.stop() == 0


async def test_heal_all(lab: Lab) -> None:
    """`heal_all` undoes every fault at once and sets proxies' delay to 0."""
    a, b, c = await asyncio.gather(*(lab.add_host(n) for n in ("nats1", "nats2", "nats3")))
    async with contextlib.AsyncExitStack() as stack:
        addresses = await echoes(stack, [a, b, c])
        proxy = await lab.delay_proxy(c, addresses["nats1"], 300)
        await lab.link_down(a)
        await lab.blackhole(b, c, one_way=True)
        await lab.partition({"nats2"}, {"nats3"})
        await lab.loss(c, 100)
        assert await reach([(c, addresses["nats2"]), (b, addresses["nats3"])]) == [False] * 2

        await lab.heal_all()
        await wait_reachable(b, addresses["nats1"])
        pairs = [(b, addresses["nats3"]), (c, addresses["nats2"]), (c, addresses["nats1"])]
        assert await reach(pairs) == [True] * 3
        assert proxy.delay_ms == 0
        assert max(await round_trips(b, proxy.address, 2)) < 0.1


async def populate(lab: Lab) -> list[int]:
    """Two hosts and processes that are hard to stop: one sleeping, one paused, one
    ignoring SIGTERM, one escaped from its process group (setsid); their pids."""
    a, b = await asyncio.gather(lab.add_host("nats1"), lab.add_host("streamer-a"))
    sleeping = await a.spawn(["sleep", "600"])
    paused = await a.spawn(["sleep", "600"])
    pause(paused)
    stubborn = await b.spawn(
        [sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, env={"PYTHONUNBUFFERED": "1"}
    )
    # the escaped sleep must not hold sh's stdout: asyncio's wait() waits for the pipe's
    # end too, so it would hang whenever sh's exit is noticed after wait() is called
    escaper = await b.spawn(
        ["sh", "-c", "setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $!"],
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout is not None
    assert escaper.stdout is not None
    assert await stubborn.stdout.readline() == b"ready\n"
    escaped = int(await escaper.stdout.readline())
    await escaper.wait()
    pids = [sleeping.pid, paused.pid, stubborn.pid, escaped]
    assert all(map(alive, pids))
    return pids


STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready'); time.sleep(600)"
)


def assert_gone(run_id: str, pids: list[int]) -> None:
    assert names_left(run_id) == []
    assert not (STATE_DIR / f"{run_id}.json").exists()
    assert [pid for pid in pids if alive(pid)] == []


async def test_normal_exit_removes_everything() -> None:
    """After a lab exits normally no name of it is left and no process it spawned runs
    (the stubborn one is SIGKILLed after the grace, the escaped one found in its
    namespace)."""
    async with Lab(stop_grace=0.3) as lab:
        pids = await populate(lab)
        assert names_left(lab.run_id) != []
    await until(lambda: not any(map(alive, pids)))
    assert_gone(lab.run_id, pids)


async def test_exception_inside_removes_everything() -> None:
    """An exception raised inside the lab propagates, and the lab is still removed."""
    lab = Lab(stop_grace=0.3)
    pids: list[int] = []

    async def body() -> None:
        async with lab:
            pids.extend(await populate(lab))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await body()
    await until(lambda: not any(map(alive, pids)))
    assert_gone(lab.run_id, pids)


async def test_cancellation_removes_everything() -> None:
    """A task cancelled inside its lab still removes the lab before it ends."""
    ready = asyncio.Event()
    lab = Lab(stop_grace=0.3)
    pids: list[int] = []

    async def body() -> None:
        async with lab:
            pids.extend(await populate(lab))
            ready.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(body())
    await ready.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(lambda: not any(map(alive, pids)))
    assert_gone(lab.run_id, pids)


OPEN_AND_LEAVE = """
import asyncio, sys
from tests.netns import Lab

async def main():
    lab = Lab()
    await lab.__aenter__()
    host = await lab.add_host("nats1")
    stubborn = await host.spawn([sys.executable, "-c", sys.argv[1]], stdout=-1, stderr=-3)
    assert await stubborn.stdout.readline() == b"ready\\n"
    print(lab.run_id, stubborn.pid, flush=True)
    if sys.argv[2] == "wait":
        await asyncio.Event().wait()

asyncio.run(main())
"""


async def owner(mode: str) -> tuple[asyncio.subprocess.Process, str, int]:
    """A child process that opens a lab, spawns a SIGTERM-ignoring process in it and
    then returns without exiting the lab ("leave") or waits ("wait"): the child, the
    run id and the stubborn process's pid."""
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", OPEN_AND_LEAVE, STUBBORN, mode),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,  # asyncio's complaints about the loop it leaves open
        # (the stubborn process gets /dev/null, or it would hold this pipe open)
    )
    assert child.stdout is not None
    assert child.stderr is not None
    line = await asyncio.wait_for(child.stdout.readline(), 20)
    if not line:
        pytest.fail(f"the owner failed: {(await child.stderr.read()).decode()}")
    run_id, pid = line.decode().split()
    return child, run_id, int(pid)


async def test_atexit_removes_a_lab_left_open() -> None:
    """An interpreter that exits with a lab still open removes it (the atexit hook)."""
    child, run_id, pid = await owner("leave")
    await child.communicate()
    assert child.returncode == 0
    await until(lambda: not alive(pid))
    assert_gone(run_id, [pid])


async def test_sweep_removes_the_lab_of_a_killed_owner() -> None:
    """A live owner's lab survives `sweep()`; once the owner is SIGKILLed its
    namespaces, links and state file stay behind (with a process that ignored the
    kernel's SIGTERM still in them) until `sweep()` removes them all."""
    child, run_id, pid = await owner("wait")
    assert run_id not in sweep()
    assert names_left(run_id) != []
    with locked():  # a parallel session's sweep must not remove them before we look
        child.kill()
        await child.wait()
        assert alive(pid)
        assert names_left(run_id) != []
        assert (STATE_DIR / f"{run_id}.json").exists()

    sweep()  # (a parallel session may have swept them first: what counts is they go)
    await until(lambda: not alive(pid))
    assert_gone(run_id, [pid])


async def test_two_labs_at_once_do_not_collide() -> None:
    """Two labs open at once (as two parallel runs would be) get different run ids,
    subnets and names, even for hosts of the same name; each works on its own, cannot
    reach the other, and survives the other's exit."""
    async with Lab() as one:
        async with Lab() as two:
            assert one.run_id != two.run_id
            assert not one.subnet.overlaps(two.subnet)
            x, y = await asyncio.gather(one.add_host("nats1"), two.add_host("nats1"))
            assert x.netns != y.netns
            assert x.veth != y.veth
            async with await echo_server(x) as at_x, await echo_server(y) as at_y:
                assert await reach([(None, at_x.address), (None, at_y.address)])
                assert not await reachable(x, at_y.address)
            two_run = two.run_id
        assert names_left(two_run) == []
        assert names_left(one.run_id) != []
        async with await echo_server(x) as at_x:
            assert await reachable(None, at_x.address)


async def test_misuse_is_a_netns_error(lab: Lab) -> None:
    """Bad or duplicate host names, unknown hosts, overlapping sides, a second
    `async with`: NetnsError, saying what is wrong."""
    await lab.add_host("nats1")
    with pytest.raises(NetnsError, match="exists"):
        await lab.add_host("nats1")
    with pytest.raises(NetnsError, match="host name"):
        await lab.add_host("Bad_Name")
    with pytest.raises(NetnsError, match="no host"):
        await lab.blackhole("nats1", "nats9")
    with pytest.raises(NetnsError, match="disjoint"):
        await lab.partition({"nats1"}, {"nats1"})
    with pytest.raises(NetnsError, match="reopened"):
        async with lab:
            pass
