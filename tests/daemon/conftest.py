"""Daemon test fixtures: a Nomad fake, a git checkout (daemon subprocesses come from the
root conftest's ``start_daemon``); and nothing left running: every thread a test
started must be gone after it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import DaemonProcess
from tests.support.fake_state import count_of
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl
from tests.support.nomad_backends import FAKE_VERSIONS
from tests.support.waiting import wait_until


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
def start_with_web(
    fake: FakeNomad, repo: GitCheckout, start_daemon: Callable[..., DaemonProcess]
) -> Callable[..., DaemonProcess]:
    """Commit job "web" (``count`` instances, at ``path``), start the daemon with ``extra``
    arguments, and return it once Nomad runs web at that count and the daemon is ready."""

    def start(*extra: str, count: int = 1, path: str = "web.nomad") -> DaemonProcess:
        repo.write(path, job_hcl("web", count=count))
        repo.commit("web")
        daemon = start_daemon(repo.root, fake.address, *extra)
        wait_until(lambda: count_of(fake, "web") == count, what="web created")
        daemon.wait_ready()
        return daemon

    return start
