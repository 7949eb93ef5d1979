"""Fixtures of the fake's own tests: a driven clock, and an HTTP client of the module's ``fake``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def client(fake: FakeNomad) -> Iterator[httpx.Client]:
    """A client of the ``fake`` fixture the test module defines."""
    with httpx.Client(base_url=fake.address, timeout=10) as c:
        yield c
