"""Fixtures for end-to-end sync tests: a real git checkout of JSON job files and the Nomad fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.testing.fake_nomad import FakeNomad, HealthModel
from tests.support.git import GitCheckout
from tests.support.nomad_backends import fake_backend_params, purge_all_jobs


@pytest.fixture
def repo(tmp_path: Path) -> GitCheckout:
    return GitCheckout(tmp_path / "jobs")


@pytest.fixture(params=fake_backend_params())
def fake(request: pytest.FixtureRequest) -> Iterator[FakeNomad]:
    """The fake at the oldest and at the newest Nomad it models: every sync test runs at both.
    Nomad's own timings (min_healthy_time 10s...) scaled down so rollouts finish fast."""
    with FakeNomad(version=request.param, health=HealthModel(time_scale=0.01)) as nomad:
        yield nomad


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.real_nomad)])
def nomad_address(request: pytest.FixtureRequest) -> Iterator[str]:
    """A Nomad to sync against: the fake, and a real dev agent when a ``nomad`` binary exists."""
    if request.param == "real":
        address: str = request.getfixturevalue("nomad_agent")
        purge_all_jobs(address)
        yield address
        return
    yield request.getfixturevalue("fake").address
