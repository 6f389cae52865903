"""Holding a dict to one of CCXT's unified structures (the TypedDicts of `ccxt.base.types`):
the same keys, and each value an instance of its annotated type (Optional, Union, Dict,
List resolved)."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin, get_type_hints

__all__ = ["assert_structure", "conforms"]


def conforms(value: object, hint: object) -> bool:
    """Whether `value` is an instance of the type hint `hint` (a bool is no int here)."""
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return any(conforms(value, arg) for arg in get_args(hint))
    if origin is dict:
        key, item = get_args(hint) or (Any, Any)
        return isinstance(value, dict) and all(
            conforms(k, key) and conforms(v, item) for k, v in value.items()
        )
    if origin is list:
        (item,) = get_args(hint) or (Any,)
        return isinstance(value, list) and all(conforms(v, item) for v in value)
    if origin is not None or not isinstance(hint, type):
        raise TypeError(f"no check for the type hint {hint!r}")
    if isinstance(value, bool) and hint is not bool:
        return False
    return isinstance(value, hint)


def assert_structure(value: Mapping[str, Any], structure: type) -> None:
    """Fail unless `value` has exactly the keys of the TypedDict `structure`, each value
    of its annotated type."""
    hints = get_type_hints(structure)
    assert set(value) == set(hints), (
        f"extra {set(value) - set(hints)}, missing {set(hints) - set(value)}"
    )
    for key, hint in hints.items():
        assert conforms(value[key], hint), f"{key}={value[key]!r} is not a {hint}"
