"""nats-py without aiohttp until a websocket is used: a leaner engine process.

nats-py imports aiohttp and multidict when it is imported, for its websocket transport
(`ws://`, `wss://` URLs), and aiohttp brings yarl, attrs, aiohappyeyeballs, pycares and
the email package: about 9 MB of an engine's RSS that a `nats://` engine never uses;
and it reads its own version with `importlib.metadata` (zipfile, csv and more: 1.5 MB).
`install()`, run before nats-py is first imported, lets it import with stand-ins that
import the real module on their first use (the version is read from nats-py's
`.dist-info` folder name, as importlib.metadata would find it), and takes them out of
`sys.modules` again: an `import aiohttp` of user code (the dashboard's web server) gets
the real aiohttp as before, and a websocket URL still works.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["LazyModule", "install"]

_DEFERRED = ("aiohttp", "multidict")
_TRANSPORT = "nats.aio.transport"
_METADATA = "importlib.metadata"


class LazyModule(ModuleType):
    """Stands in for module `name` in nats-py's transport until an attribute is read:
    then the real module is imported, put in the transport's place, and answers."""

    def __getattr__(self, attribute: str) -> Any:
        real = importlib.import_module(self.__name__)
        transport = sys.modules.get(_TRANSPORT)
        if transport is not None and transport.__dict__.get(self.__name__) is self:
            setattr(transport, self.__name__, real)
        return getattr(real, attribute)


class _Metadata(ModuleType):
    """Stands in for importlib.metadata while nats-py imports: `version(name)` from the
    distribution's `.dist-info` folder next to its package, else from the real module
    (which then takes its place for good)."""

    def version(self, distribution: str) -> str:
        spec = importlib.util.find_spec("nats")
        if spec is not None and spec.origin is not None:
            prefix = f"{distribution.replace('-', '_')}-"
            for info in Path(spec.origin).parent.parent.glob(f"{prefix}*.dist-info"):
                return info.name[len(prefix) : -len(".dist-info")]
        del sys.modules[_METADATA]
        return str(importlib.import_module(_METADATA).version(distribution))


def install() -> None:
    """Import nats-py with the stand-ins (nothing to do when it or aiohttp was imported
    already)."""
    if _TRANSPORT in sys.modules or any(name in sys.modules for name in _DEFERRED):
        return
    stand_ins: dict[str, ModuleType] = {name: LazyModule(name) for name in _DEFERRED}
    if _METADATA not in sys.modules:
        stand_ins[_METADATA] = _Metadata(_METADATA)
    sys.modules.update(stand_ins)
    try:
        importlib.import_module(_TRANSPORT)
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]


install()
