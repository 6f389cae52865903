"""Seeded chaos (tests/chaos): the CI run, two minutes of random faults under a fixed
seed, passes the checker; and a deliberately broken build (the lease's step-down margin
past its TTL) makes the checker fail, so a passing verdict means something. Longer
runs: `python -m tests.chaos --minutes 10 --seed S`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.chaos.chaos_run import run_chaos
from tests.chaos.deployment import Deployment, DeploymentConfig
from tests.chaos.faults import Faults
from tests.chaos.run import run_checked
from tests.chaos.schedule import schedule
from tests.netns import Lab

CI_SEED = 7
CI_MINUTES = 2.0


@pytest.mark.timeout(420)
async def test_two_minutes_of_seeded_chaos_pass_the_checker(lab: Lab, tmp_path: Path) -> None:
    """The CI seed's schedule (printed), every check passed, figures printed."""
    steps = schedule(CI_SEED, CI_MINUTES)
    assert len({step.kind for step in steps}) >= 3  # a schedule worth the name
    run = await run_chaos(lab, tmp_path, seed=CI_SEED, minutes=CI_MINUTES)
    print(f"\nchaos seed {CI_SEED}, {CI_MINUTES:g} min:")
    for step in steps:
        print(f"  {step.describe()}")
    print(run.report())
    assert run.verdict.ok, run.report()


@pytest.mark.timeout(300)
async def test_a_broken_build_fails_the_checker(lab: Lab, tmp_path: Path) -> None:
    """Streamers built with a step-down margin of 1.5 TTL: the leader cut from NATS for
    35 s holds its DriftClient until the link heals (45 s would be its limit), past the
    bound (2/3 TTL + the stop): the checker fails on exactly that, with the excerpt."""
    broken = DeploymentConfig(streamer_argv=(sys.executable, "-m", "tests.chaos.broken_streamer"))

    async def body(d: Deployment, faults: Faults) -> None:
        cut = await faults.partition(["streamer-a"], ["nats1", "nats2", "nats3"])
        await asyncio.sleep(35)
        await cut.heal()

    run = await run_checked(lab, tmp_path, body, config=broken)
    print(run.report())
    assert run.verdict.failed() == {"one_drift_client"}
    (violation,) = [v for v in run.verdict.violations if v.check == "one_drift_client"]
    assert "the bound is 22 s" in violation.message
    assert any(r.src == "a" for r in violation.excerpt)
