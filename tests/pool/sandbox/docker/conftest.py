"""The aiodocker session the Docker driver's and image's tests share, one per test."""

from collections.abc import AsyncIterator

import aiodocker
import pytest


@pytest.fixture
async def docker() -> AsyncIterator[aiodocker.Docker]:
    session = aiodocker.Docker()
    yield session
    await session.close()
