"""Fixtures that start localnet (a pytest plugin loaded by conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from localnet.server import LocalnetServer


@pytest_asyncio.fixture
async def localnet() -> AsyncIterator[LocalnetServer]:
    """localnet with the `small` preset on free ports, prices held still."""
    async with LocalnetServer(preset="small", slot_ms=50) as server:
        yield server


@pytest_asyncio.fixture
async def localnet_mainnet() -> AsyncIterator[LocalnetServer]:
    """localnet with every Drift mainnet perp market, prices held still."""
    async with LocalnetServer(preset="mainnet", slot_ms=50) as server:
        yield server


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client for JSON-RPC and /admin/ calls."""
    async with aiohttp.ClientSession() as session:
        yield session
