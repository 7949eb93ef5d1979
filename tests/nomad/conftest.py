"""Fixtures of the client's integration tests; the machinery is in ``tests/nomad_backends.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.nomad_backends import (
    FAKE_VERSIONS,
    Backend,
    fake_backend_params,
    free_port,
    running_nomad_agent,
)

__all__ = ["FAKE_VERSIONS", "Backend", "free_port", "running_nomad_agent"]


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
