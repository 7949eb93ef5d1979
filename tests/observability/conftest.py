"""Fixtures for the observability tests: a metrics object populated through its
public methods only (``tests.support.observability.populate``), and the series its
/metrics text actually exposes.

The dashboard and alert-rule checks compare their PromQL against ``exposed``;
the integrator can later point ``exposed_text`` at a running daemon instead.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from reconciler.observability import ObservabilityServer, ReconcilerMetrics
from tests.support.observability import FakeClock, exposed_series, populate, serve


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def metrics(clock: FakeClock) -> ReconcilerMetrics:
    return ReconcilerMetrics(CollectorRegistry(), clock=clock)


@pytest.fixture
def populated(metrics: ReconcilerMetrics, clock: FakeClock) -> ReconcilerMetrics:
    populate(metrics, clock)
    return metrics


@pytest.fixture
def served(populated: ReconcilerMetrics) -> Iterator[ObservabilityServer]:
    with serve(populated) as server:
        yield server


@pytest.fixture(scope="session")
def exposed_text() -> str:
    """The /metrics body of a populated ReconcilerMetrics, fetched over real HTTP
    from a running ObservabilityServer (once per session: it is read-only)."""
    clock = FakeClock()
    metrics = ReconcilerMetrics(CollectorRegistry(), clock=clock)
    populate(metrics, clock)
    with serve(metrics) as server, urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        return str(response.read().decode())


@pytest.fixture(scope="session")
def exposed(exposed_text: str) -> dict[str, set[str]]:
    return exposed_series(exposed_text)
