"""Status page fixtures: the Nomad fake with the drivers the example jobs use, and daemon
subprocesses stopped (their logs printed on failure) after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.demo import DEMO_DRIVERS
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import DaemonProcess


@pytest.fixture
def fake() -> Iterator[FakeNomad]:
    with FakeNomad(drivers=DEMO_DRIVERS) as server:
        yield server


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(jobs: Path, address: str, *extra: str) -> DaemonProcess:
        daemon = DaemonProcess(jobs, address, *extra)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        try:
            daemon.stop()
        finally:
            print(daemon.dump())  # shown by pytest only when the test failed
