"""Golden-vector comparison: our math's outcome against the official SDK's, exactly.

`check(sdk, cases)` sends every case's SDK call in one batch, runs our function, and
asserts the two outcomes are the same: equal integers (and floats bit for bit, as the
SDK computes them), or both failing with the SDK's message (`MathError.sdk_message`).
A mismatch fails with a reproducer: our inputs as Python, and the harness line that
gives the SDK's side (`node tests/sdk/harness.js`, one JSON line on stdin).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streamer.math.safe_math import MathError
from streamer.oracles import OracleDecodeError
from tests.sdk_reference import Call, SdkError, SdkReference

__all__ = ["Case", "check", "fields_of", "norm"]


@dataclass(frozen=True)
class Case:
    """One comparison: the SDK call, our side as a thunk, and how to read the SDK's value
    as ours (`read`, default: as it comes back)."""

    name: str
    call: Call
    ours: Callable[[], Any]
    read: Callable[[Any], Any] | None = None
    inputs: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class _Failed:
    message: str


def norm(name: str) -> str:
    """A field name as both spellings agree on: `last24h_avg_funding_rate` and
    `last24HAvgFundingRate` are both `last24havgfundingrate`."""
    return name.replace("_", "").lower()


def fields_of(sdk_object: dict[str, Any], ours: Any) -> dict[str, Any]:
    """The SDK object's values of the fields of our dataclass `ours`, by our names
    (nested dataclasses too), so a whole SDK object compares with one of ours."""
    by_norm = {norm(k): v for k, v in sdk_object.items()}
    out: dict[str, Any] = {}
    for field in dataclasses.fields(ours):
        value = getattr(ours, field.name)
        theirs = by_norm.get(norm(field.name), KeyError(field.name))
        if dataclasses.is_dataclass(value) and isinstance(theirs, dict):
            out[field.name] = value.__class__(**fields_of(theirs, value))
        elif isinstance(value, str) and isinstance(theirs, str):
            out[field.name] = theirs[0].upper() + theirs[1:]
        else:
            out[field.name] = theirs
    return out


def _ours(case: Case) -> Any:
    try:
        return case.ours()
    except MathError as exc:
        return _Failed(exc.sdk_message)
    except OracleDecodeError as exc:
        return _Failed(f"decode: {exc}")


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, float) and isinstance(theirs, float):
        return ours == theirs or (math.isnan(ours) and math.isnan(theirs))
    if isinstance(ours, list | tuple) and isinstance(theirs, list | tuple):
        return len(ours) == len(theirs) and all(map(_same, ours, theirs))
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return ours is theirs
    return bool(ours == theirs)


def _reproducer(case: Case, ours: Any, theirs: Any) -> str:
    line = json.dumps({"id": 1, "calls": [case.call.wire()]})
    return (
        f"{case.name}: ours {ours!r} != SDK {theirs!r}\n"
        f"  inputs: {case.inputs!r}\n"
        f"  SDK side: echo '{line}' | node tests/sdk/harness.js"
    )


def check(sdk: SdkReference, cases: Sequence[Case]) -> None:
    """Every case's outcome equals the SDK's (values or failures); AssertionError with
    the reproducers of all mismatches otherwise."""
    results = sdk.batch(case.call for case in cases)
    problems = []
    for case, result in zip(cases, results, strict=True):
        ours = _ours(case)
        if isinstance(result, SdkError):
            theirs: Any = _Failed(result.message)
            same = isinstance(ours, _Failed) and (
                ours.message == result.message or ours.message.startswith("decode: ")
            )
        else:
            theirs = case.read(result) if case.read is not None else result
            same = not isinstance(ours, _Failed) and _same(ours, theirs)
        if not same:
            problems.append(_reproducer(case, ours, theirs))
    assert not problems, "\n".join(problems)
