"""Errors raised by schemas.

SchemaError (ValueError)   a payload, name or config that breaks the wire contract:
                           undecodable or invalid JSON for a model, a market symbol,
                           consumer id, network or endpoint that cannot appear in a
                           subject or KV key, an inconsistent bucket spec.

Foreign errors (pydantic's ValidationError, JSON errors) are converted where they enter,
in `schemas.codec.decode`, with `raise SchemaError(...) from exc`.
"""

from __future__ import annotations

__all__ = ["SchemaError"]


class SchemaError(ValueError):
    """A value that does not fit the wire contract; the message names what and why."""
