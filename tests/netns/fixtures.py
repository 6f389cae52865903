"""The `lab` fixture (a pytest plugin, loaded by tests/conftest.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.netns.errors import NetnsError
from tests.netns.lab import Lab


@pytest_asyncio.fixture
async def lab() -> AsyncIterator[Lab]:
    """A started Lab, every name and process of it removed after the test. Where this
    machine cannot build network namespaces the test fails (it never skips), naming
    what is missing."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            started = await stack.enter_async_context(Lab())
        except NetnsError as exc:
            pytest.fail(f"this machine cannot build network-namespace labs: {exc}", pytrace=False)
        yield started
