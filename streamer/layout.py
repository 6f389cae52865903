"""Byte offsets of Drift's PerpMarket and SpotMarket fields, computed from the IDL.

Both are zero-copy accounts (`#[account(zero_copy)]`, `repr(C)`) whose IDL spells out
every padding field, so the borsh layout anchorpy decodes (the 8-byte discriminator,
then each field's size in IDL order) is the on-chain layout. Sizes come from the IDL
types alone: u8..u128, i8..i128, bool, f32/f64, publicKey, fixed arrays, defined structs
and unit-variant enums (a 1-byte tag). `LAYOUTS` is computed once at import, and its
sizes are checked there against the accounts' sizes (`streamer.idl.SIZES`).

Fields are named by dotted paths in anchorpy's spelling (the IDL's names in snake case
by the same `pyheck.snake`): `amm.historical_oracle_data.last_oracle_price_twap`.
`Reader` reads a chosen set of them with one precompiled `struct.Struct`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import add, itemgetter, lshift
from typing import Any

from pyheck import snake
from solders.pubkey import Pubkey

from streamer.idl import IDL, SIZES

__all__ = ["LAYOUTS", "Field", "Layout", "Reader", "size_of"]

# struct codes of the IDL's primitives; a 128-bit integer is read as two 64-bit halves
# (little-endian: the low half first, unsigned; the high half carries the sign)
_CODES = {
    "u8": "B",
    "i8": "b",
    "bool": "?",
    "u16": "H",
    "i16": "h",
    "u32": "I",
    "i32": "i",
    "f32": "f",
    "u64": "Q",
    "i64": "q",
    "f64": "d",
    "u128": "QQ",
    "i128": "Qq",
    "publicKey": "32s",
    "pubkey": "32s",
}
_DEFINED = {d["name"]: d["type"] for d in IDL["types"]}
_ACCOUNTS = {d["name"]: d["type"] for d in IDL["accounts"]}


def _definition(idl_type: Any) -> dict[str, Any] | None:
    """The type definition a `{"defined": ...}` type names; None for any other type."""
    if not isinstance(idl_type, dict) or "defined" not in idl_type:
        return None
    name = idl_type["defined"]
    definition: dict[str, Any] = _DEFINED[name if isinstance(name, str) else name["name"]]
    return definition


def _variants(definition: Mapping[str, Any]) -> tuple[str, ...]:
    """An enum's variant names by tag; TypeError if a variant carries data (not fixed-size)."""
    if any(v.get("fields") for v in definition["variants"]):
        raise TypeError(f"enum with data has no fixed size: {definition}")
    return tuple(v["name"] for v in definition["variants"])


def size_of(idl_type: Any) -> int:
    """The byte size of a fixed-size IDL type; TypeError for vec, option, string, bytes."""
    if isinstance(idl_type, str) and idl_type in _CODES:
        return struct.calcsize("<" + _CODES[idl_type])
    if isinstance(idl_type, dict) and "array" in idl_type:
        element, count = idl_type["array"]
        return size_of(element) * int(count)
    definition = _definition(idl_type)
    if definition is not None and definition["kind"] == "struct":
        return sum(size_of(f["type"]) for f in definition["fields"])
    if definition is not None and definition["kind"] == "enum":
        _variants(definition)
        return 1
    raise TypeError(f"not a fixed-size IDL type: {idl_type!r}")


@dataclass(frozen=True, slots=True)
class Field:
    """One field: its offset from the account's first byte, its size and IDL type, and
    an enum's variant names by tag (empty for anything else)."""

    offset: int
    size: int
    type: Any
    variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Layout:
    """An account's fields by path, structs and their members alike."""

    kind: str
    size: int
    fields: Mapping[str, Field]


def _walk(
    fields: Sequence[Mapping[str, Any]], offset: int, prefix: str, out: dict[str, Field]
) -> int:
    """Add the fields (and their members, recursively) at `offset`; where they end."""
    for f in fields:
        path, idl_type = prefix + snake(f["name"]), f["type"]
        definition = _definition(idl_type) or {"kind": None}
        variants = _variants(definition) if definition["kind"] == "enum" else ()
        out[path] = Field(offset, size_of(idl_type), idl_type, variants)
        if definition["kind"] == "struct":
            _walk(definition["fields"], offset, path + ".", out)
        offset += out[path].size
    return offset


def _layout(kind: str) -> Layout:
    fields: dict[str, Field] = {}
    size = _walk(_ACCOUNTS[kind]["fields"], 8, "", fields)
    if size != SIZES[kind]:
        raise RuntimeError(f"the IDL lays out {kind} in {size} bytes; accounts have {SIZES[kind]}")
    return Layout(kind, size, fields)


LAYOUTS: dict[str, Layout] = {kind: _layout(kind) for kind in ("PerpMarket", "SpotMarket")}


def _code(path: str, field: Field) -> str:
    if field.variants:
        return "B"
    if isinstance(field.type, str) and field.type in _CODES:
        return _CODES[field.type]
    if isinstance(field.type, dict) and field.type.get("array", [None])[0] == "u8":
        return f"{field.size}s"
    raise TypeError(f"{path}: read its members, not the {field.type!r} as a whole")


def _take(indexes: Sequence[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """`itemgetter(*indexes)` that gives a tuple for any number of indexes."""
    if len(indexes) == 1:
        only = indexes[0]
        return lambda values: (values[only],)
    return itemgetter(*indexes) if indexes else lambda values: ()


class Reader:
    """Chosen fields of one account kind, read with one `struct.Struct.unpack_from` of
    the buffer in place (bytes or memoryview).

    `read` gives them in the order of `paths`: integers as ints (a 128-bit one joined
    from its halves), bools, enums as their variant names, public keys as base58
    strings, u8 arrays as bytes. Every enum field of the account is checked, read or
    not, so `read` refuses (ValueError) exactly the tags anchorpy refuses. The caller
    checks the buffer's size and discriminator first."""

    __slots__ = ("_enums", "_hi", "_keys", "_lo", "_pick", "_start", "_struct")

    def __init__(self, layout: Layout, paths: Sequence[str]) -> None:
        if len(set(paths)) != len(paths):
            raise ValueError(f"a path is named twice: {paths}")
        chosen = {p: layout.fields[p] for p in paths}
        enums = {p: f for p, f in layout.fields.items() if f.variants}
        leaves = sorted({**chosen, **enums}.items(), key=lambda item: item[1].offset)
        self._start = at = leaves[0][1].offset
        codes: list[str] = []
        place: dict[str, int] = {}  # where each field's value (or low half) is unpacked
        count = 0  # values unpacked
        for path, field in leaves:
            if field.offset < at:
                raise ValueError(f"{path} overlaps the field before it")
            code = _code(path, field)
            codes.append(f"{field.offset - at}x{code}" if field.offset > at else code)
            place[path], count = count, count + (2 if code in ("QQ", "Qq") else 1)
            at = field.offset + field.size
        self._struct = struct.Struct("<" + "".join(codes))
        # `read` appends the joined 128-bit values, the enums' names and the keys' base58
        # to the unpacked values, in that order; `_pick` takes the chosen ones from there.
        wide = [p for p, f in leaves if _code(p, f) in ("QQ", "Qq")]
        keys = [p for p, f in chosen.items() if f.type in ("publicKey", "pubkey")]
        self._lo, self._hi = _take([place[p] for p in wide]), _take([place[p] + 1 for p in wide])
        self._enums = tuple((place[p], f.variants, p) for p, f in enums.items())
        self._keys = _take([place[p] for p in keys])
        after = [*wide, *enums, *keys]
        where = {p: count + k for k, p in enumerate(after)}
        self._pick = _take([where.get(p, place[p]) for p in paths])

    def read(self, data: bytes | memoryview) -> tuple[Any, ...]:
        raw = self._struct.unpack_from(data, self._start)
        extra = [*map(add, self._lo(raw), map(lshift, self._hi(raw), repeat(64)))]
        for k, names, path in self._enums:
            if raw[k] >= len(names):
                raise ValueError(f"{path}: no variant has tag {raw[k]}")
            extra.append(names[raw[k]])
        extra += [str(Pubkey.from_bytes(key)) for key in self._keys(raw)]
        return self._pick((*raw, *extra))
