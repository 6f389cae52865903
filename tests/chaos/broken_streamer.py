"""A deliberately broken build of the streamer, for the test that the checker catches
one: `python -m tests.chaos.broken_streamer <streamer.cli arguments>` runs the real
streamer with the lease's step-down margin past its TTL (a leader that cannot renew
believes it leads for 1.5 TTL instead of 2/3), so a deposed leader keeps its
DriftClient far longer than the bound the checker holds the deployment to."""

from __future__ import annotations

import streamer.lease_machine
from streamer.cli import main

streamer.lease_machine.GIVE_UP_FRACTION = 1.5

if __name__ == "__main__":
    main()
