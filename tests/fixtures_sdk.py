"""The official SDK reference process, one per session (a pytest plugin loaded by conftest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sdk_reference import SdkReference


@pytest.fixture(scope="session")
def sdk() -> Iterator[SdkReference]:
    """`node tests/sdk/harness.js` with @drift-labs/sdk 2.156.0, stopped after the session."""
    with SdkReference() as reference:
        yield reference
