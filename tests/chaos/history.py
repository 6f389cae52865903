"""A chaos test's history: typed records read from JSON lines files.

Every line is one object with `ev` (its kind), `t` (unix seconds, one clock for all) and
`src` (the process that recorded it). `parse` turns one object into its record class;
`load` reads files into one list sorted by `t` (ties keep file order). Records remember
the file and line they came from, for the checker's excerpts.

Readers are tolerant where the format allows it (unknown kinds and extra fields are
ignored, nullable fields may be left out) and strict where a wrong type would mislead a
check (`seq` is an integer, never `"7"` or `true`; times are finite). A line that breaks
the format becomes a `Malformed` record, never an exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, model_validator

__all__ = [
    "Ack",
    "Deposed",
    "DriftClient",
    "Elected",
    "Fault",
    "Fresh",
    "Get",
    "Killed",
    "Kv",
    "Malformed",
    "Mark",
    "Paused",
    "Record",
    "Resumed",
    "Serve",
    "Take",
    "load",
    "parse",
]

Seq = Annotated[int, Field(ge=0)]  # a stream sequence
# Fields every record has that are not the record's content (left out of `text()`).
_FRAME = ("ev", "t", "src", "file", "line")


class _Record(BaseModel):
    """What every record has: when, which process, and where it was read from."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    t: FiniteFloat
    src: str
    file: str = "<memory>"
    line: int = 0

    def text(self) -> str:
        """One line for a report: time, process, kind, content fields, origin. Null
        fields are left out, but for `seq` (a read that found nothing)."""
        fields = self.model_dump(exclude=set(_FRAME))
        bucket, key = fields.pop("bucket", None), fields.pop("key", None)
        parts = [f"{self.t:.3f}", self.src or "-", str(getattr(self, "ev", "?"))]
        parts += [str(v) for v in (bucket, key) if v is not None]
        parts += [f"{k}={v}" for k, v in fields.items() if v is not None]
        parts += ["seq=null"] if "seq" in fields and fields["seq"] is None else []
        return f"{' '.join(parts)}  ({self.file}:{self.line})"


class _Accepted(_Record):
    """A value a client accepted: the KV entry's sequence, epoch, slot and write time."""

    bucket: str
    key: str
    seq: Seq
    epoch: int | None = None
    slot: int | None = None
    written: FiniteFloat | None = None


class _Read(_Record):
    """A read that may have found nothing: `seq` null means no live value."""

    bucket: str
    key: str
    seq: Seq | None = None
    epoch: int | None = None
    written: FiniteFloat | None = None

    @model_validator(mode="after")
    def _nothing_has_no_epoch(self) -> _Read:
        if self.seq is None and (self.epoch is not None or self.written is not None):
            raise ValueError("seq is null (no value) but epoch or written is not")
        return self


class Take(_Accepted):
    """An engine accepted a value (from its mirror's updates)."""

    ev: Literal["take"] = "take"


class Fresh(_Accepted):
    """A newly started client accepted a value in its first load."""

    ev: Literal["fresh"] = "fresh"


class Serve(_Read):
    """A probe read from an engine's mirror; `seq` null: the engine returned None."""

    ev: Literal["serve"] = "serve"


class Get(_Read):
    """A raw KV get on some host; `seq` null: the key was absent or expired."""

    ev: Literal["get"] = "get"


class Ack(_Record):
    """The server acknowledged a write to its writer."""

    ev: Literal["ack"] = "ack"
    bucket: str
    key: str
    seq: Seq
    epoch: int | None = None


class Kv(_Record):
    """One key of the harness's snapshot after healing; `seq` null: the key is absent."""

    ev: Literal["kv"] = "kv"
    bucket: str
    key: str
    seq: Seq | None = None
    epoch: int | None = None


class DriftClient(_Record):
    """A streamer instance (`src`) started or stopped its DriftClient."""

    ev: Literal["drift_client"] = "drift_client"
    state: Literal["start", "stop"]


class Killed(_Record):
    """The process `src` was SIGKILLed (a streamer's DriftClient ends with it)."""

    ev: Literal["killed"] = "killed"


class Paused(_Record):
    """The process `src` was SIGSTOPped (a paused streamer still holds its DriftClient)."""

    ev: Literal["paused"] = "paused"


class Resumed(_Record):
    """The process `src` was SIGCONTed."""

    ev: Literal["resumed"] = "resumed"


class Elected(_Record):
    """The streamer `src` became leader with this epoch (its lease revision)."""

    ev: Literal["elected"] = "elected"
    epoch: int


class Deposed(_Record):
    """The streamer `src` stopped being leader."""

    ev: Literal["deposed"] = "deposed"


class Fault(_Record):
    """The harness applied or healed a fault."""

    ev: Literal["fault"] = "fault"
    what: str
    phase: Literal["apply", "heal"]


class Mark(_Record):
    """The harness marks a moment by name ("healed", "end", ...)."""

    ev: Literal["mark"] = "mark"
    name: str


class Malformed(_Record):
    """A line that is not a valid record; `t` is the last good record's before it."""

    ev: Literal["malformed"] = "malformed"
    error: str

    def text(self) -> str:
        """The origin first: a malformed line is a harness bug to fix at that line."""
        return f"{self.file}:{self.line}: {self.error}"


Record = (
    Take
    | Fresh
    | Serve
    | Get
    | Ack
    | Kv
    | DriftClient
    | Killed
    | Paused
    | Resumed
    | Elected
    | Deposed
    | Fault
    | Mark
    | Malformed
)

_KINDS: dict[str, type[Record]] = {
    "take": Take,
    "fresh": Fresh,
    "serve": Serve,
    "get": Get,
    "ack": Ack,
    "kv": Kv,
    "drift_client": DriftClient,
    "killed": Killed,
    "paused": Paused,
    "resumed": Resumed,
    "elected": Elected,
    "deposed": Deposed,
    "fault": Fault,
    "mark": Mark,
}


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where + ': ' if where else ''}{error['msg']}{more}"


def parse(obj: object, file: str = "<memory>", line: int = 0, t: float = 0.0) -> Record | None:
    """The record of one decoded JSON object, None for an unknown kind, or `Malformed`
    (at time `t`) naming what is wrong."""
    if not isinstance(obj, dict):
        return Malformed(t=t, src="", file=file, line=line, error="not a JSON object")
    kind = obj.get("ev")
    if not isinstance(kind, str):
        return Malformed(t=t, src="", file=file, line=line, error="no string `ev`")
    model = _KINDS.get(kind)
    if model is None:
        return None
    try:
        return model.model_validate({**obj, "file": file, "line": line})
    except ValidationError as exc:
        error = f"{kind}: {_first_error(exc)}"
        return Malformed(t=t, src="", file=file, line=line, error=error)


def _read(path: Path) -> list[Record]:
    name, t = str(path), 0.0
    records: list[Record] = []
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        return [Malformed(t=t, src="", file=name, line=0, error=f"cannot read: {exc}")]
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError both
            records.append(Malformed(t=t, src="", file=name, line=number, error=f"{exc}"))
            continue
        record = parse(obj, name, number, t)
        if record is not None:
            records.append(record)
            t = record.t
    return records


def load(paths: Iterable[str | Path]) -> list[Record]:
    """Every record of these files, sorted by `t` (stable: ties keep file order)."""
    records = [record for path in paths for record in _read(Path(path))]
    return sorted(records, key=lambda record: record.t)
