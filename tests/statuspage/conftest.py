"""Status page fixtures: the Nomad fake with the drivers the example jobs use (daemon
subprocesses come from the root conftest's ``start_daemon``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.demo import DEMO_DRIVERS
from reconciler.testing.fake_nomad import FakeNomad


@pytest.fixture
def fake() -> Iterator[FakeNomad]:
    with FakeNomad(drivers=DEMO_DRIVERS) as server:
        yield server
