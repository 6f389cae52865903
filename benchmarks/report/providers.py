"""The report's RPC-providers section: driftpy's DriftClient against the streamer's feed
on each localnet provider profile (`benchmarks.providers`)."""

from __future__ import annotations

from typing import Any

from benchmarks.providers import ProviderResult, table

__all__ = ["providers_section"]


def providers_section(results: dict[str, Any]) -> list[str]:
    runs = [ProviderResult(**r) for r in results["providers"]]
    feed = [r for r in runs if r.source.startswith("feed")]
    driftpy = [r for r in runs if not r.source.startswith("feed")]
    feed_all = sum(1 for r in feed if r.priced == 85 and r.followed == r.moved)
    driftpy_all = sum(1 for r in driftpy if r.priced == 85 and r.followed == r.moved)
    slowest = max((r for r in feed if r.to_priced_s is not None), key=_took, default=None)
    return [
        "## RPC providers: driftpy's DriftClient against the streamer's feed",
        "",
        "`.venv/bin/python -m benchmarks.providers`: for each localnet provider profile "
        '(docs/LOCALNET.md "Provider profiles"; mainnet preset, prices moving every 0.5 s), '
        "the pre-streamer way (driftpy's `DriftClient`, websocket find-all mode) and the "
        'streamer\'s feed (docs/STREAMER.md "The feed") start side by side, each against a '
        "localnet of its own and in a process of its own, with 60 s to price all 85 perp "
        'markets. "Moves followed": of the markets whose price moved at localnet in the '
        "next 6 s, how many the source saw move. Requests and refusals are counted at "
        "localnet over the whole run.",
        "",
        table(runs),
        "",
        f"- Profiles on which every market was priced and every move followed: the feed "
        f"{feed_all} of {len(feed)}, driftpy's DriftClient {driftpy_all} of {len(driftpy)}.",
        "- driftpy needs `getProgramAccounts` (refused by no-gpa), asks "
        "`getMultipleAccounts` for 75 oracles at once (413 on capped), stops at its first "
        "429 (strict-429), and under ws-churn (sockets recycled every 5 s, 100 subscriptions "
        "a socket: its one oracle socket carries 120) it can hang for good (killed) or lose "
        "oracle subscriptions. The feed paces its requests (1.5 a second per method)"
        + (
            f"; its slowest start was {slowest.provider} ({_took(slowest):.1f} s)."
            if slowest is not None
            else "."
        ),
        "",
    ]


def _took(r: ProviderResult) -> float:
    return r.to_priced_s or 0.0
