"""`python -m tests.chaos --minutes N --seed S`: seeded chaos against the deployment.

Builds compose.yaml's deployment on network hosts (root and `ip netns` needed; see
tests/chaos/deployment.py), runs the seed's random fault schedule (tests/chaos/
schedule.py) while localnet moves prices and funding, then checks everything every
process recorded (tests/chaos/checker.py). Prints the schedule, the verdict with any
violation's history excerpt, and the figures; exits 0 if every check passed, 1 if not,
2 on bad arguments. `--keep DIR` keeps the histories there (else a temporary folder,
removed after a clean verdict). Ctrl-C stops it and removes every host.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from tests.chaos.chaos_run import run_chaos
from tests.chaos.schedule import schedule
from tests.netns import Lab


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.chaos", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=2.0, help="how long the faults go on")
    parser.add_argument("--seed", type=int, default=1, help="the schedule's seed")
    parser.add_argument("--keep", type=Path, default=None, help="keep the histories here")
    args = parser.parse_args()
    if not 0 < args.minutes <= 24 * 60:
        parser.error("--minutes must be above 0 and at most a day")
    root = args.keep or Path(tempfile.mkdtemp(prefix="drift-chaos-"))
    print(f"chaos: seed {args.seed}, {args.minutes:g} minutes, histories in {root}")
    for step in schedule(args.seed, args.minutes):
        print(f"  {step.describe()}")

    async def go() -> bool:
        async with Lab() as lab:
            run = await run_chaos(lab, root, seed=args.seed, minutes=args.minutes)
        print(run.report())
        print(f"chaos: {'PASS' if run.verdict.ok else 'FAIL'} in {run.seconds:.0f} s")
        return run.verdict.ok

    try:
        ok = asyncio.run(go())
    except KeyboardInterrupt:
        print("chaos: interrupted", file=sys.stderr)
        sys.exit(130)
    if ok and args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
