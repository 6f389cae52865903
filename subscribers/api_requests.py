"""`DriftStreamClient`'s `request_*` methods: each asks the streamer's api
(`subscribers.api.request`) for an answer of its own, not the mirror's copy."""

from __future__ import annotations

from typing import TypeVar

from nats.aio.client import Client

from schemas import FundingRate, MarketList, ReconnectResult, SpotMarketSnapshot, StreamerStatus
from schemas.models.base import SchemaModel
from schemas.subjects import Endpoint, Network
from subscribers.api import request

__all__ = ["ApiRequests"]

M = TypeVar("M", bound=SchemaModel)


class ApiRequests:
    """The api's endpoints as methods, for a class with a connection (`_nc`), a
    `network` and a request timeout (`_timeout`); ApiError for an error reply."""

    network: Network
    _nc: Client | None
    _timeout: float

    async def _request(self, endpoint: Endpoint, model: type[M], payload: bytes = b"") -> M:
        assert self._nc is not None, "connect() first"
        return await request(
            self._nc, self.network, endpoint, model, payload, timeout_s=self._timeout
        )

    async def request_status(self) -> StreamerStatus:
        """The streamer's status (state, leader, epoch, consumers, feed age)."""
        return await self._request("status", StreamerStatus)

    async def request_markets(self) -> MarketList:
        """The market list; ApiError 503 before the streamer has one."""
        return await self._request("markets", MarketList)

    async def request_funding(self, market: str | int) -> FundingRate:
        """A market's funding by symbol or index; ApiError 404 if unknown."""
        return await self._request("funding", FundingRate, str(market).encode())

    async def request_spot(self, market: str | int) -> SpotMarketSnapshot:
        """A spot market by symbol in any case or index; ApiError 404 if unknown."""
        return await self._request("spot", SpotMarketSnapshot, str(market).encode())

    async def request_reconnect(self) -> ReconnectResult:
        """Have the streamer start its DriftClient anew; how long that took."""
        return await self._request("reconnect", ReconnectResult)
