"""`drift-stream localnet` options reach the server they build."""

from __future__ import annotations

import argparse

import pytest

from localnet.cli import add_arguments, server_options
from localnet.server import LocalnetServer


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_options_build_the_server_they_name() -> None:
    """MM oracle share and history bounds apply with and without the simulation."""
    for still in ((), ("--no-simulation",)):
        args = _parse(
            "--preset",
            "mainnet",
            "--mm-oracle-share",
            "0.2",
            "--history-slots",
            "50",
            "--history-versions",
            "5",
            *still,
        )
        server = LocalnetServer(**server_options(args))  # not started: no sockets
        active = sum(v.account.amm.mm_oracle_slot != 0 for v in server.markets.perps)
        assert 5 <= active <= 30
        assert server.ledger.history.config.window_slots == 50
        assert server.ledger.history.config.max_versions == 5
        assert (server.simulator is None) == bool(still)
        if server.simulator is not None:
            assert server.simulator.config.mm_oracle_share == 0.2


@pytest.mark.parametrize(
    "argv",
    [("--mm-oracle-share", "1.5"), ("--mm-oracle-share", "x"), ("--history-slots", "0")],
)
def test_bad_options_are_usage_errors(argv: tuple[str, ...]) -> None:
    """Out-of-range options exit with the parser's usage error (code 2)."""
    with pytest.raises(SystemExit) as exc:
        _parse(*argv)
    assert exc.value.code == 2
