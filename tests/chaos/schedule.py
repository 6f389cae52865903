"""Seeded random fault schedules: what `python -m tests.chaos` runs against the
deployment, one fault at a time (applied, held, healed, a quiet gap), drawn from every
kind the partition tests use plus process faults and node restarts.

A schedule is a pure function of (seed, minutes): the same seed gives the same faults
at the same offsets, so a failure can be run again. Faults are bounded so that the
checker's bounds stay meaningful: a streamer is paused for at most 10 s (a paused
process holds its DriftClient, and cannot step down while paused).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tests.chaos.faults import Applied, Faults

__all__ = ["KINDS", "Step", "apply", "schedule"]

NODES = ("nats1", "nats2", "nats3")
STREAMERS = ("a", "b")
ENGINES = ("engine-1", "engine-2", "engine-3")
KINDS = (
    "cut_streamer",  # a streamer cut from every NATS node (not from the RPC)
    "isolate_node",  # a NATS node cut from every host
    "split",  # a node with some clients against the rest
    "one_way",  # a node's packets to the others dropped, theirs to it delivered
    "link_down",  # a host's link down
    "flap",  # a streamer's link down and up every few seconds
    "loss",  # 30 % packet loss on a streamer's link
    "delay",  # 500 ms more each way on a streamer's NATS connections
    "loss_delay",  # both
    "kill_streamer",  # SIGKILL (started again at heal)
    "pause_streamer",  # SIGSTOP, at most 10 s, then SIGCONT
    "restart_node",  # a NATS node SIGKILLed or SIGTERMed and started on its store
)


@dataclass(frozen=True)
class Step:
    """One fault: `kind` with its `target`(s), applied `at` seconds into the schedule
    and held `hold` seconds (a node restart is instant: `hold` is the quiet after)."""

    at: float
    kind: str
    target: tuple[str, ...]
    hold: float

    def describe(self) -> str:
        return f"{self.at:6.1f} s  {self.kind:<14} {' '.join(self.target):<28} {self.hold:4.1f} s"


def schedule(seed: int, minutes: float) -> list[Step]:
    """The faults of `minutes` of chaos under `seed`."""
    rng = random.Random(seed)
    steps: list[Step] = []
    at = 0.0
    end = minutes * 60
    while True:
        kind = rng.choice(KINDS)
        hold = round(rng.uniform(5, 10) if kind == "pause_streamer" else rng.uniform(6, 30), 1)
        if at + hold > end:
            break
        steps.append(Step(round(at, 1), kind, _target(rng, kind), hold))
        at += hold + rng.uniform(4, 12)  # a quiet gap: the system recovers between faults
    return steps


def _target(rng: random.Random, kind: str) -> tuple[str, ...]:
    if kind in ("cut_streamer", "flap", "loss", "delay", "loss_delay", "kill_streamer"):
        return (rng.choice(STREAMERS),)
    if kind == "pause_streamer":
        return (rng.choice(STREAMERS),)
    if kind in ("isolate_node", "one_way", "restart_node"):
        return (rng.choice(NODES),)
    if kind == "split":
        node = rng.choice(NODES)
        clients = rng.sample([f"streamer-{s}" for s in STREAMERS] + list(ENGINES), 2)
        return (node, *clients)
    return (rng.choice([*NODES, *(f"streamer-{s}" for s in STREAMERS), *ENGINES, "rpc"]),)


async def apply(step: Step, faults: Faults) -> Applied | None:
    """Apply `step` now; what heals it (None: done already, a node restart)."""
    kind, target = step.kind, step.target
    streamer = f"streamer-{target[0]}"
    if kind == "cut_streamer":
        return await faults.partition([streamer], NODES)
    if kind == "isolate_node":
        return await faults.isolate(target[0])
    if kind == "split":
        side = list(target)
        return await faults.partition(side, [h.name for h in faults.others(*side)])
    if kind == "one_way":
        return await faults.one_way(target[0], [h.name for h in faults.others(target[0])])
    if kind == "link_down":
        return await faults.link_down(target[0])
    if kind == "flap":
        await faults.flap(streamer, period_s=2.5, for_s=step.hold)
        return None
    if kind == "loss":
        return await faults.loss(streamer, 30)
    if kind == "delay":
        return await faults.delay(target[0], 500)
    if kind == "loss_delay":
        loss = await faults.loss(streamer, 30)
        return loss.also(await faults.delay(target[0], 500))
    if kind == "kill_streamer":
        return await faults.kill_streamer(target[0])
    if kind == "pause_streamer":
        return await faults.pause(target[0])
    if kind == "restart_node":
        await faults.restart_node(target[0], hard=step.hold > 18)
        return None
    raise ValueError(f"unknown fault kind {kind!r}")
