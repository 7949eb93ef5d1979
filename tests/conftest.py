"""Shared fixtures.  Tests never read NOMAD_ADDR & co. (nor PROMETHEUS_URL & co.)
from the developer's shell: it may point at a production cluster."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.daemon import DaemonProcess

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(autouse=True)
def _no_nomad_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("NOMAD_", "PROMETHEUS_")):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., DaemonProcess]]:
    """Start ``reconciler daemon`` subprocesses; each is stopped after the test and its
    log printed (pytest shows it only when the test failed)."""
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
            print(daemon.dump())


@pytest.fixture
def golden() -> Path:
    return GOLDEN


@pytest.fixture(scope="session")
def nomad_agent() -> Iterator[str]:
    """The address of a real ``nomad agent -dev`` this test session started itself.

    Skipped when no ``nomad`` binary is on PATH.  Never ``NOMAD_ADDR``.
    """
    from tests.support.nomad_backends import running_nomad_agent

    binary = shutil.which("nomad")
    if binary is None:
        pytest.skip("no `nomad` binary on PATH: real-Nomad variants need one")
    with running_nomad_agent(binary) as address:
        yield address
