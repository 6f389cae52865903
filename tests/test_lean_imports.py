"""An engine imports only what it uses (`subscribers.lean_imports`): no aiohttp and its
dependencies until a websocket URL is used, and user code's aiohttp is untouched.

Each check runs in a fresh interpreter: what a process imported is the point."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from streamer.nats_server import NatsServer
from streamer.ports import free_port

# What nats-py's websocket transport (aiohttp) would bring; none of it is used by
# a nats:// engine.
_HEAVY = ("aiohttp", "multidict", "yarl", "aiohappyeyeballs", "aiosignal", "frozenlist", "attr")
_HEAVY_STDLIB = ("importlib.metadata", "zipfile", "csv")


def _python(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.strip()


def test_an_engine_imports_no_aiohttp() -> None:
    """The library, the adapter and the example engine load none of aiohttp's modules."""
    loaded = _python(
        "import sys, subscribers, subscribers.client, subscribers.funding_table, "
        "subscribers.examples.funding_engine; "
        f"print(sorted(({{m.split('.')[0] for m in sys.modules}} & set({_HEAVY!r})) | "
        f"(set(sys.modules) & set({_HEAVY_STDLIB!r}))))"
    )
    assert loaded == "[]"


def test_user_code_gets_the_real_aiohttp() -> None:
    """After the library, `import aiohttp` and `from aiohttp import web` work as ever, and
    nats-py's transport then uses that same module."""
    out = _python(
        "import subscribers, aiohttp, nats.aio.transport as t; from aiohttp import web; "
        "print(type(aiohttp).__name__, callable(web.Application), "
        "t.aiohttp.ClientSession is aiohttp.ClientSession, t.aiohttp is aiohttp)"
    )
    assert out == "module True True True"


def test_nats_py_knows_its_version() -> None:
    """nats-py's version (sent to the server at connect) is the one importlib.metadata
    reads, although the library kept importlib.metadata from loading."""
    out = _python(
        "import sys, subscribers, nats.aio.client as c; lean = 'importlib.metadata' not in "
        "sys.modules; import importlib.metadata as m; "
        "print(lean, c.__version__ == m.version('nats-py'), c.__version__ != '0.0.0')"
    )
    assert out == "True True True"


def test_aiohttp_imported_first_is_left_alone() -> None:
    """A process that imported aiohttp before the library keeps it, nothing stands in."""
    out = _python(
        "import aiohttp, subscribers, nats.aio.transport as t; print(t.aiohttp is aiohttp)"
    )
    assert out == "True"


async def test_a_websocket_url_still_works(tmp_path: Path) -> None:
    """A client of a process that imported the library lean connects over `ws://`: the
    real aiohttp is imported then, and a value goes round through nats-server."""
    port = free_port()
    config = tmp_path / "ws.conf"
    config.write_text(f"websocket {{\n  port: {port}\n  no_tls: true\n}}\n")
    code = f"""
import asyncio, sys, subscribers, nats
async def main():
    lean = "aiohttp" not in sys.modules
    nc = await nats.connect("ws://127.0.0.1:{port}")
    sub = await nc.subscribe("drift.local.ws")
    await nc.publish("drift.local.ws", b"over a websocket")
    msg = await sub.next_msg(timeout=5)
    await nc.close()
    print(lean, "aiohttp" in sys.modules, msg.data.decode())
asyncio.run(main())
"""
    async with NatsServer(store_dir=tmp_path / "js", config_file=config, jetstream=False):
        out = await asyncio.to_thread(_python, code)
    assert out == "True True over a websocket"
