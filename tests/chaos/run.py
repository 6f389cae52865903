"""One checked run: the deployment up, a body of faults, healing, the final snapshot, and
the checker's verdict on everything every process recorded.

The bounds the checker holds the run to come from the deployment's settings:
- TTLs: the buckets' (the streamer's defaults; presence 15 s, the lease's, health 6 s);
- the DriftClient overlap: a deposed leader's DriftClient lives at most
  `give_up_after` (2/3 of the lease TTL: it stops when it could not renew for that
  long) plus `STOP_MARGIN_S` to stop it, past the new leader's start;
- convergence: an engine holds every value the snapshot holds within
  `CONVERGENCE_BOUND_S` (a reconnect, a reload, a TTL/2 re-send).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from schemas.buckets import (
    CONSUMERS_BUCKET,
    FUNDING_BUCKET,
    HEALTH_BUCKET,
    LEADER_BUCKET,
    MARKETS_BUCKET,
    PRICES_BUCKET,
    SPOT_BUCKET,
)
from streamer.health import health_ttl
from streamer.lease import GIVE_UP_FRACTION
from tests.chaos.checker import CheckConfig, Verdict, check, format
from tests.chaos.deployment import Deployment, DeploymentConfig
from tests.chaos.faults import Faults
from tests.chaos.history import load
from tests.netns import Lab

__all__ = ["CONVERGENCE_BOUND_S", "STOP_MARGIN_S", "Run", "check_config", "run_checked"]

STOP_MARGIN_S = 2.0
CONVERGENCE_BOUND_S = 20.0
_RECOVER_S = 12.0  # after healing, before the snapshot: leadership settles
_CONVERGE_S = 8.0  # after the snapshot, engines catch up (the bound is checked)


def check_config(deployment: DeploymentConfig) -> CheckConfig:
    """The checker's bounds for a deployment (see the module docstring)."""
    ttl = {
        FUNDING_BUCKET: 30.0,
        PRICES_BUCKET: 10.0,
        MARKETS_BUCKET: 60.0,
        SPOT_BUCKET: 30.0,
        CONSUMERS_BUCKET: 15.0,
        LEADER_BUCKET: deployment.lease_ttl,
        HEALTH_BUCKET: health_ttl(2.0),
    }
    overlap = deployment.lease_ttl * GIVE_UP_FRACTION + STOP_MARGIN_S
    return CheckConfig(ttl=ttl, overlap_bound=overlap, convergence_bound=CONVERGENCE_BOUND_S)


@dataclass
class Run:
    """A finished run: its verdict, its files, and how long it took."""

    verdict: Verdict
    root: Path
    seconds: float

    def report(self) -> str:
        return format(self.verdict)


async def run_checked(
    lab: Lab,
    root: Path,
    body: Callable[[Deployment, Faults], Awaitable[None]],
    *,
    config: DeploymentConfig | None = None,
    baseline_s: float = 5.0,
) -> Run:
    """Start the deployment, run `body` (it applies and heals its faults), let it
    recover, snapshot, let engines converge, and check the whole history."""
    started = time.monotonic()
    deployment_config = config or DeploymentConfig()
    async with Deployment(lab, root, deployment_config) as deployment:
        await asyncio.sleep(baseline_s)  # a stretch without faults first
        deployment.mark("faults")
        await body(deployment, Faults(deployment))
        await lab.heal_all()  # whatever the body left applied
        deployment.mark("healed")
        await asyncio.sleep(_RECOVER_S)
        await deployment.kv_snapshot()
        await asyncio.sleep(_CONVERGE_S)
        files = deployment.records_files()
    verdict = check(load(files), check_config(deployment_config))
    return Run(verdict, root, time.monotonic() - started)
