"""Pydantic v2 wire models: frozen, versioned (`v`), tolerant of unknown fields."""

from __future__ import annotations

from schemas.models.base import SCHEMA_VERSION, Envelope, MarketModel, SchemaModel, WireModel
from schemas.models.funding import FundingRate
from schemas.models.lease import LeaderBeat, WriteFence
from schemas.models.market import MarketList, MarketSnapshot, PerpMarketInfo
from schemas.models.service import (
    ConsumerPresence,
    ErrorCode,
    ErrorReply,
    ReconnectResult,
    StreamerState,
    StreamerStatus,
)
from schemas.models.spot import SpotMarketSnapshot

__all__ = [
    "SCHEMA_VERSION",
    "ConsumerPresence",
    "Envelope",
    "ErrorCode",
    "ErrorReply",
    "FundingRate",
    "LeaderBeat",
    "MarketList",
    "MarketModel",
    "MarketSnapshot",
    "PerpMarketInfo",
    "ReconnectResult",
    "SchemaModel",
    "SpotMarketSnapshot",
    "StreamerState",
    "StreamerStatus",
    "WireModel",
    "WriteFence",
]
