"""Daemon test fixtures: a Nomad fake, a git checkout, daemon subprocesses stopped after the
test; and nothing left running: every thread a test started must be gone after it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import DaemonProcess
from tests.support.git import GitCheckout
from tests.support.nomad_backends import FAKE_VERSIONS


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0  # bounded: threads being joined get a moment
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


@pytest.fixture(params=FAKE_VERSIONS)
def fake(request: pytest.FixtureRequest) -> Iterator[FakeNomad]:
    """The Nomad fake at the oldest and at the newest version it models."""
    with FakeNomad(version=request.param) as server:
        yield server


@pytest.fixture
def repo(tmp_path: Path) -> GitCheckout:
    return GitCheckout(tmp_path / "jobs")


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
