"""localnet's /admin/ endpoints: observe and control a running server.

Bad input (not JSON, unknown fields, values out of range, bad query parameters) is a
400 with `{"error": ...}`; an unknown market or an account version not kept is a 404.
Nothing an admin request sends can stop the server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import ValidationError

from localnet.errors import AdminError, LocalnetError, RpcError
from localnet.faults import FaultRequest
from localnet.history import NotKept
from localnet.patches import MarketPatch, SpotPatch
from localnet.rpc import address
from localnet.simulation import MarketSimulator, SimulationConfig

if TYPE_CHECKING:
    from localnet.server import LocalnetServer

__all__ = ["admin_routes"]

_MAX_SLOT = 2**64 - 1


def admin_routes(server: LocalnetServer) -> list[web.RouteDef]:
    """The /admin/ routes of `server`."""

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(server.stats_json())

    async def reset(request: web.Request) -> web.Response:
        server.stats.reset()
        return web.json_response(server.stats_json())

    async def markets(request: web.Request) -> web.Response:
        m = server.markets
        return web.json_response(
            {
                "preset": m.preset.name,
                "slot": server.ledger.slot,
                "perps": [v.to_json() for v in m.perps],
                "spots": [v.to_json() for v in m.spots],
            }
        )

    async def patched(
        request: web.Request, apply: Callable[[Any], Any], model: Any
    ) -> web.Response:
        """A validated patch applied (its market's JSON); 404 unknown market, 400 bad patch."""
        try:
            patch = model.model_validate(await _json_body(request))
            return web.json_response(apply(patch).to_json())
        except AdminError as exc:
            return _error(404, str(exc))
        except (ValidationError, ValueError, LocalnetError) as exc:
            return _error(400, str(exc))

    async def market(request: web.Request) -> web.Response:
        return await patched(request, server.markets.apply, MarketPatch)

    async def spot(request: web.Request) -> web.Response:
        return await patched(request, server.markets.apply_spot, SpotPatch)

    async def account(request: web.Request) -> web.Response:
        try:
            key, slot = _account_query(request, server.ledger.slot)
            found = server.ledger.account_at(key, slot)
        except (RpcError, ValueError) as exc:
            return _error(400, str(exc))
        except NotKept as exc:
            return _error(404, str(exc))
        if found is None:
            return _error(404, f"account {key} did not exist at slot {slot}")
        body = {"pubkey": key, "slot": found.slot, "account": found.to_json()}
        return web.json_response(body)

    async def faults(request: web.Request) -> web.Response:
        return web.json_response(server.faults.model_dump())

    async def set_faults(request: web.Request) -> web.Response:
        try:
            fault_request = FaultRequest.model_validate(await _json_body(request))
        except (ValidationError, ValueError) as exc:
            return _error(400, str(exc))
        return web.json_response((await server.set_faults(fault_request)).model_dump())

    async def funding_update(request: web.Request) -> web.Response:
        simulator = server.simulator or MarketSimulator(server.markets, SimulationConfig())
        simulator.update_funding()
        return web.json_response({"updated": len(server.markets.perps), "ts": int(time.time())})

    return [
        web.get("/admin/stats", stats),
        web.post("/admin/stats/reset", reset),
        web.get("/admin/markets", markets),
        web.post("/admin/market", market),
        web.post("/admin/spot", spot),
        web.get("/admin/account", account),
        web.get("/admin/faults", faults),
        web.post("/admin/faults", set_faults),
        web.post("/admin/funding-update", funding_update),
    ]


def _account_query(request: web.Request, current_slot: int) -> tuple[str, int]:
    """(pubkey, slot) from `?pubkey=...&slot=...`; slot defaults to the current one."""
    unknown = set(request.query) - {"pubkey", "slot"}
    if unknown:
        raise ValueError(f"unknown query parameters {sorted(unknown)}: use pubkey and slot")
    if "pubkey" not in request.query:
        raise ValueError("give the account as ?pubkey=<base58 address>")
    key = address(request.query["pubkey"])
    raw = request.query.get("slot")
    if raw is None:
        return key, current_slot
    if len(raw) > 20 or not raw.isascii() or not raw.isdigit() or int(raw) > _MAX_SLOT:
        raise ValueError(f"slot must be a non-negative integer, got {raw[:32]!r}")
    slot = int(raw)
    if slot > current_slot:
        raise ValueError(f"slot {slot} is ahead of the current slot {current_slot}")
    return key, slot


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except ValueError as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message[:2000]}, status=status)
