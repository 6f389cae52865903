"""The `drift-streamer` NATS micro service: status, markets, funding, spot, reconnect.

Endpoints live under `drift.<net>.api.` so `nats req drift.local.api.funding SOL-PERP`
works, and `$SRV.PING/INFO/STATS` and `nats micro ls` find the service. Errors follow
the micro convention (headers `Nats-Service-Error`, `Nats-Service-Error-Code`) with a
JSON `ErrorReply` body: 400 bad request, 404 unknown market, 503 not ready.
Only the leader registers the service; what it answers comes from a `Controller`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Protocol

from nats.aio.client import Client
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import Service

from schemas import (
    SERVICE_NAME,
    ErrorCode,
    ErrorReply,
    FundingRate,
    MarketList,
    ReconnectResult,
    SpotMarketSnapshot,
    StreamerStatus,
    api_prefix,
    encode,
    validate_symbol,
)
from schemas.errors import SchemaError
from schemas.models.base import SchemaModel
from schemas.subjects import Network
from streamer.errors import NotReadyError

__all__ = [
    "MAX_PAYLOAD",
    "BadRequest",
    "Controller",
    "ServiceHandle",
    "parse_market",
    "start_service",
]

log = logging.getLogger("drift_stream.service")
MAX_PAYLOAD = 256  # bytes: a market name or index, with room for a JSON wrapper
_INTEGER = re.compile(r"[+-]?[0-9]{1,12}")


class BadRequest(ValueError):
    """A request payload the service cannot understand (400)."""


class Controller(Protocol):
    """What the service asks of the streamer."""

    def status(self) -> StreamerStatus: ...

    def markets(self) -> MarketList:
        """The market list; NotReadyError before the first one."""
        ...

    def funding(self, market: str | int) -> FundingRate | None:
        """The last funding of a market (None: unknown); NotReadyError before data."""
        ...

    def spot(self, market: str | int) -> SpotMarketSnapshot | None:
        """The last snapshot of a spot market, by symbol in any case or index (None:
        unknown); NotReadyError before data."""
        ...

    async def reconnect(self) -> ReconnectResult: ...


def parse_market(payload: bytes) -> str | int:
    """`SOL-PERP`, `sol-perp`, `0`, `"SOL-PERP"`, `{"market": "SOL-PERP"}` or `{"market": 0}`.

    Returns an upper-case symbol or a non-negative index; BadRequest for anything else.
    Spot requests (`USDC`, `wbtc`) parse the same way and are matched case-insensitively.
    """
    if len(payload) > MAX_PAYLOAD:
        raise BadRequest(f"payload of {len(payload)} bytes: send a market name or index")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise BadRequest("payload is not UTF-8 text") from exc
    if not text:
        raise BadRequest("empty payload: send a market, e.g. SOL-PERP or 0")
    value: object = text
    if text[0] in '{["' or text in ("null", "true", "false"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise BadRequest("payload is neither a market name nor valid JSON") from exc
        if isinstance(value, dict):
            if set(value) != {"market"}:
                raise BadRequest('JSON payload must be {"market": <name or index>}')
            value = value["market"]
    if isinstance(value, bool):
        raise BadRequest("a market is a name or an index, not a boolean")
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        value = int(value.strip())  # the match was of the stripped text
    if isinstance(value, int):
        if not 0 <= value <= 65_535:
            raise BadRequest(f"market index {value} out of range")
        return value
    if not isinstance(value, str):
        raise BadRequest("a market is a name or an index")
    try:
        return validate_symbol(value.strip())
    except SchemaError as exc:
        raise BadRequest(f"not a market name: {value[:40]!r}") from exc


async def _error(req: Request, code: ErrorCode, message: str) -> None:
    body = encode(ErrorReply(code=int(code), error=message))
    await req.respond_error(str(int(code)), message, data=body)


def _handler(
    name: str, answer: Callable[[Request], Awaitable[SchemaModel]]
) -> Callable[[Request], Awaitable[None]]:
    """Wrap an endpoint: bad input → 400, no data → 503, anything else → logged 500."""

    async def handle(req: Request) -> None:
        try:
            reply = await answer(req)
        except BadRequest as exc:
            await _error(req, ErrorCode.BAD_REQUEST, str(exc))
        except LookupError as exc:
            await _error(req, ErrorCode.NOT_FOUND, str(exc.args[0]) if exc.args else "not found")
        except NotReadyError as exc:
            await _error(req, ErrorCode.NOT_READY, str(exc) or "not ready")
        except Exception:  # a bug must answer, and not kill the subscription
            log.exception("api %s failed", name, extra={"endpoint": name})
            await req.respond_error(
                "500", "internal error", data=b'{"code":500,"error":"internal error"}'
            )
        else:
            await req.respond(encode(reply))

    return handle


def _lookup(
    kind: str, find: Callable[[str | int], SchemaModel | None]
) -> Callable[[Request], Awaitable[SchemaModel]]:
    """An endpoint that parses a market from the payload and answers its value (404: unknown)."""

    async def answer(req: Request) -> SchemaModel:
        market = parse_market(req.data)
        value = find(market)
        if value is None:
            raise LookupError(f"unknown {kind} {market}")
        return value

    return answer


class ServiceHandle:
    """A running service; `stop()` unregisters it (when leadership is lost)."""

    def __init__(self, service: Service) -> None:
        self._service = service

    async def stop(self) -> None:
        await self._service.stop()


async def start_service(
    nc: Client, network: Network, controller: Controller, *, version: str, instance_id: str
) -> ServiceHandle:
    """Register `drift-streamer` with its endpoints (API_ENDPOINTS) for one network."""

    async def status(req: Request) -> SchemaModel:
        return controller.status()

    async def markets(req: Request) -> SchemaModel:
        return controller.markets()

    async def reconnect(req: Request) -> SchemaModel:
        return await controller.reconnect()

    service = await add_service(
        nc,
        name=SERVICE_NAME,
        version=version,
        description=f"Drift market data for {network}",
        metadata={"network": network, "instance_id": instance_id},
    )
    group = service.add_group(name=api_prefix(network))
    for name, answer in (
        ("status", status),
        ("markets", markets),
        ("funding", _lookup("market", controller.funding)),
        ("reconnect", reconnect),
        ("spot", _lookup("spot market", controller.spot)),
    ):
        await group.add_endpoint(name=name, handler=_handler(name, answer))
    log.info("api serving on %s.*", api_prefix(network), extra={"network": network})
    return ServiceHandle(service)
