"""A test-host harness on network namespaces, for partition and chaos tests.

`Lab` (an async context manager) builds hosts on this machine: each a network
namespace with one address on a bridge of its own, reachable from the test process.
Processes run in hosts (`Host.spawn`), and reversible faults act between them: link
down, one- and two-way blackholes, partitions, packet loss (`faults`), and a delaying
TCP proxy (`delay_proxy`). Everything a lab makes is removed when it exits, and
`sweep()` removes what labs of killed processes left (`runs`). The `lab` fixture
(`fixtures`) gives each test a started Lab; `probes` measure what the faults do.
"""

from tests.netns.errors import NetnsError
from tests.netns.faults import Direction, Fault
from tests.netns.host import Host
from tests.netns.lab import Lab, check_machine
from tests.netns.probes import (
    EchoServer,
    UdpCounter,
    echo_server,
    reachable,
    round_trips,
    send_udp,
    wait_reachable,
)
from tests.netns.processes import kill, pause, resume, send_signal
from tests.netns.proxy import DelayProxy
from tests.netns.runs import sweep

__all__ = [
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
