"""Fixtures of the client's integration tests; the machinery is in ``tests/support/nomad_backends.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from reconciler.config.connection import NomadConfig
from reconciler.nomad.client import NomadClient
from reconciler.nomad.retry import RetryPolicy
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.nomad_backends import Backend, fake_backend_params


@pytest.fixture
def fake_nomad() -> Iterator[FakeNomad]:
    with FakeNomad(heartbeat_s=0.2) as fake:
        yield fake


@pytest.fixture(params=[*fake_backend_params(), pytest.param("real", marks=pytest.mark.real_nomad)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The client against the fake at the oldest and newest Nomad it models, and a real agent."""
    if request.param == "real":
        yield Backend(kind="real", address=request.getfixturevalue("nomad_agent"))
        return
    with FakeNomad(version=request.param, heartbeat_s=0.2) as fake:
        yield Backend(kind="fake", address=fake.address, fake=fake)


@pytest.fixture
async def client(backend: Backend) -> AsyncIterator[NomadClient]:
    """A client of ``backend`` that never waits between retries."""
    async with NomadClient(
        NomadConfig(address=backend.address), retry=RetryPolicy.immediate()
    ) as nomad:
        yield nomad
