"""Requests to the streamer's api (`drift.<net>.api.<endpoint>`), errors as `ApiError`."""

from __future__ import annotations

from typing import TypeVar

from nats.aio.client import Client

from schemas import ERROR_CODE_HEADER, ERROR_HEADER, ErrorReply, api_subject, decode
from schemas.errors import SchemaError
from schemas.models.base import SchemaModel
from schemas.subjects import Endpoint, Network
from subscribers.errors import ApiError

__all__ = ["ApiError", "request"]

M = TypeVar("M", bound=SchemaModel)


async def request(
    nc: Client,
    network: Network,
    endpoint: Endpoint,
    model: type[M],
    payload: bytes = b"",
    *,
    timeout_s: float,
) -> M:
    """Ask one endpoint; its reply as `model`, or ApiError for an error reply (SchemaError
    if a reply does not decode; nats' errors when nobody answers)."""
    msg = await nc.request(api_subject(network, endpoint), payload, timeout=timeout_s)
    if msg.headers and msg.headers.get(ERROR_CODE_HEADER):
        try:
            reply = decode(ErrorReply, msg.data)
        except SchemaError:
            raise ApiError(
                int(msg.headers[ERROR_CODE_HEADER]), msg.headers.get(ERROR_HEADER, "")
            ) from None
        raise ApiError(reply.code, reply.error)
    return decode(model, msg.data)
