"""Bytes on the wire <-> models: compact JSON out, SchemaError for anything that won't decode."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError

from schemas.errors import SchemaError
from schemas.models.base import SchemaModel

__all__ = ["decode", "encode"]

M = TypeVar("M", bound=SchemaModel)

_PREVIEW_CHARS = 200
_MAX_ERRORS = 3


def encode(model: SchemaModel) -> bytes:
    """Compact JSON of `model`, every field present (None as null)."""
    return model.model_dump_json().encode()


def decode(model_type: type[M], data: bytes | bytearray | memoryview | str) -> M:
    """Parse and validate JSON `data` as `model_type`; unknown fields are ignored.

    Raises SchemaError (and nothing else) when the payload is not valid JSON for the model;
    the pydantic error is chained as `__cause__`.
    """
    if isinstance(data, memoryview):
        data = data.tobytes()
    if not isinstance(data, bytes | bytearray | str):
        raise SchemaError(f"cannot decode {model_type.__name__} from {type(data).__name__}")
    try:
        return model_type.model_validate_json(data)
    except ValidationError as exc:
        raise SchemaError(
            f"invalid {model_type.__name__}: {_summary(exc)}; payload {_preview(data)}"
        ) from exc
    except ValueError as exc:  # defensive: any other parse failure is still a SchemaError
        raise SchemaError(f"invalid {model_type.__name__}: {exc}") from exc


def _summary(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
        for err in errors[:_MAX_ERRORS]
    ]
    if len(errors) > _MAX_ERRORS:
        parts.append(f"(+{len(errors) - _MAX_ERRORS} more)")
    return "; ".join(parts)


def _preview(data: bytes | bytearray | str) -> str:
    text = data if isinstance(data, str) else bytes(data).decode("utf-8", errors="replace")
    if len(text) > _PREVIEW_CHARS:
        return repr(text[:_PREVIEW_CHARS]) + f"... ({len(text)} chars)"
    return repr(text)
