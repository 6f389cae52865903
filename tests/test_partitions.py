"""Partitions across real network hosts: compose.yaml's deployment (3 NATS nodes with R3
buckets, a leading and a standby streamer, localnet, three engines, a raw reader on
every host), each process in a network namespace of its own, and one fault scenario a
test. The checker (tests/chaos/checker.py) then proves, from everything every process
recorded, that no engine saw a wrong value: epochs never go back, nothing stale is
served, no two epochs' writes interleave, no fresh reader takes a deposed leader's
value, every engine converges, one DriftClient except within the bound, and nothing
acknowledged is lost. The figures (takeover, overlap, convergence, values lost) are
printed (`pytest -s`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.deployment import Deployment
from tests.chaos.faults import Faults
from tests.chaos.history import DriftClient, Elected, load
from tests.chaos.run import Run, run_checked
from tests.netns import Lab

pytestmark = pytest.mark.timeout(300)


def _report(name: str, run: Run) -> None:
    figures: dict[str, Any] = dict(run.verdict.figures)
    takeovers = [f"{t['seconds']:.2f} s" for t in figures.get("takeovers", [])]
    print(
        f"\n{name}: takeover {', '.join(takeovers) or 'none'}; longest DriftClient overlap "
        f"{figures['longest_overlap']:.2f} s ({figures['overlaps']} overlaps); convergence "
        f"{figures['convergence']} s; acknowledged writes {figures['acked_writes_checked']}, "
        f"lost {figures['values_lost']}; {figures['takes']} values taken, "
        f"{figures['serves']} reads, {figures['fresh'] + figures['gets']} fresh reads "
        f"({figures['behind_reads']} from a node behind, the last "
        f"{figures['behind_reads_latest']:.1f} s after a heal) ({run.seconds:.0f} s)"
    )
    assert run.verdict.ok, run.report()


def _elections(run: Run) -> list[Elected]:
    return [r for r in load(sorted(run.root.glob("*.jsonl"))) if isinstance(r, Elected)]


async def test_the_leader_cut_from_nats_but_not_from_the_rpc(lab: Lab, tmp_path: Path) -> None:
    """streamer-a (leading) loses every NATS node for 40 s but still reaches localnet:
    streamer-b takes over, and a stops publishing and drops its DriftClient within the
    bound (2/3 of the 30 s lease, plus the stop), before the link heals."""

    async def body(d: Deployment, faults: Faults) -> None:
        cut = await faults.partition(["streamer-a"], ["nats1", "nats2", "nats3"])
        await asyncio.sleep(40)
        await cut.heal()

    run = await run_checked(lab, tmp_path, body)
    records = load(sorted(run.root.glob("*.jsonl")))
    _report("leader cut from NATS", run)
    assert {e.src for e in _elections(run)} == {"a", "b"}
    stops = [
        r.t for r in records if isinstance(r, DriftClient) and r.src == "a" and r.state == "stop"
    ]
    heal = next(r.t for r in records if getattr(r, "phase", None) == "heal")
    assert stops, "streamer-a never stopped its DriftClient"
    assert stops[0] < heal  # it dropped it while still cut off


async def test_the_node_leading_the_streams_isolated_then_healed(lab: Lab, tmp_path: Path) -> None:
    """The NATS node leading the lease's stream (and others) is cut from every host for
    30 s: the streams elect leaders on the majority, clients of that node move to the
    others, and after healing it rejoins."""

    async def body(d: Deployment, faults: Faults) -> None:
        node = await d.nodes.leader_of("KV_drift_leader")
        assert node is not None
        cut = await faults.isolate(node.name)
        await asyncio.sleep(30)
        await cut.heal()

    _report("stream leader node isolated", await run_checked(lab, tmp_path, body))


async def test_a_minority_majority_split_with_engines_on_both_sides(
    lab: Lab, tmp_path: Path
) -> None:
    """{nats1, streamer-a (leading), engine-1} against the rest for 30 s: the majority
    elects a new leader; engine-1's values expire (None, never stale) and come back."""

    async def body(d: Deployment, faults: Faults) -> None:
        minority = ["nats1", "streamer-a", "engine-1"]
        majority = [h.name for h in faults.others(*minority)]
        split = await faults.partition(minority, majority)
        await asyncio.sleep(30)
        await split.heal()

    _report("minority/majority split", await run_checked(lab, tmp_path, body))


async def test_an_asymmetric_partition(lab: Lab, tmp_path: Path) -> None:
    """nats1 cannot send to nats2, nats3 or streamer-a (the leader, which reaches NATS
    through it first), but hears them, for 30 s."""

    async def body(d: Deployment, faults: Faults) -> None:
        cut = await faults.one_way("nats1", ["nats2", "nats3", "streamer-a"])
        await asyncio.sleep(30)
        await cut.heal()

    _report("asymmetric partition", await run_checked(lab, tmp_path, body))


async def test_a_flapping_link_on_the_leader(lab: Lab, tmp_path: Path) -> None:
    """streamer-a's link goes down and up every 3 s for a minute."""

    async def body(d: Deployment, faults: Faults) -> None:
        await faults.flap("streamer-a", period_s=3, for_s=60)

    _report("flapping link", await run_checked(lab, tmp_path, body))


async def test_packet_loss_and_delay_on_the_leaders_link(lab: Lab, tmp_path: Path) -> None:
    """30 % packet loss on streamer-a's link and 500 ms more each way on its NATS
    connections, for 40 s."""

    async def body(d: Deployment, faults: Faults) -> None:
        loss = await faults.loss("streamer-a", 30)
        delay = await faults.delay("a", 500)
        await asyncio.sleep(40)
        await delay.heal()
        await loss.heal()

    _report("30 % loss and 500 ms delay", await run_checked(lab, tmp_path, body))
