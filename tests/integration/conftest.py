"""Fixtures of the integration tests."""

from __future__ import annotations

import pytest

from tests.conftest import Databases


@pytest.fixture
async def url(databases: Databases, backend: str) -> str:
    """A fresh, migrated database of the backend under test (for CLI commands)."""
    return await databases.new(backend)
