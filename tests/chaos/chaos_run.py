"""A seeded chaos run: the schedule's faults applied one after another to the running
deployment, then the checked verdict (`tests.chaos.run`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.chaos.deployment import Deployment, DeploymentConfig
from tests.chaos.faults import Faults
from tests.chaos.run import Run, run_checked
from tests.chaos.schedule import apply, schedule
from tests.netns import Lab

__all__ = ["run_chaos"]


async def run_chaos(
    lab: Lab,
    root: Path,
    *,
    seed: int,
    minutes: float,
    config: DeploymentConfig | None = None,
) -> Run:
    """Run `minutes` of the `seed` schedule in `lab` and check it."""
    steps = schedule(seed, minutes)

    async def body(deployment: Deployment, faults: Faults) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for step in steps:
            await asyncio.sleep(max(0.0, start + step.at - loop.time()))
            deployment.event("chaos_step", what=step.describe())
            applied = await apply(step, faults)
            if applied is not None:
                await asyncio.sleep(step.hold)
                await applied.heal()

    return await run_checked(lab, root, body, config=config)
