"""`drift-stream` under cProfile, switched on by SIGUSR1 and off (and written) by SIGUSR2,
so a profile covers a measured window only, not the start-up. It prints a line on
stdout once the profile is written.

    python -m benchmarks.profiled OUT.prof --log-level WARNING streamer

It counts CPU time (`time.process_time`), so time spent waiting in epoll is not in it.
"""

from __future__ import annotations

import cProfile
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from streamer import cli

__all__ = ["main"]


def main() -> None:
    out = Path(sys.argv[1])
    profiler = cProfile.Profile(time.process_time)

    def start(signum: int, frame: FrameType | None) -> None:
        profiler.enable()

    def stop(signum: int, frame: FrameType | None) -> None:
        profiler.disable()
        profiler.dump_stats(out)
        print(f"profile written to {out}", flush=True)  # what the benchmark waits for

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    sys.exit(cli.main(sys.argv[2:]))


if __name__ == "__main__":
    main()
