"""The metrics fed by the real Nomad client talking to the Nomad fake over HTTP:
the client's ``on_request`` hook, and a canary rollout read back through
``observe_deployment`` (the deployment JSON the fake serves, shaped like Nomad's)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from prometheus_client import CollectorRegistry

from reconciler.config.connection import NomadConfig
from reconciler.deployment import Deployment
from reconciler.errors import NomadNotFoundError
from reconciler.nomad.client import NomadClient
from reconciler.nomad.retry import RetryPolicy
from reconciler.observability import ReconcilerMetrics
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import canary_update, sleeper_job

P = "nomad_reconciler_"
KEY = ("default", "web")
DEADLINE_S = 30.0
T = TypeVar("T")


async def eventually(what: str, probe: Callable[[], Awaitable[T | None]]) -> T:
    """Poll ``probe`` until it returns a value, within a deadline (the sleep paces polls)."""
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        value = await probe()
        if value is not None:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {DEADLINE_S}s waiting for {what}")


@pytest.fixture
def fake() -> Iterator[FakeNomad]:
    with FakeNomad() as nomad:
        yield nomad


def value(m: ReconcilerMetrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(P + name, labels)


async def test_client_hook_counts_requests_by_endpoint_template(fake: FakeNomad) -> None:
    metrics = ReconcilerMetrics(CollectorRegistry())
    config = NomadConfig(address=fake.address)
    async with NomadClient(
        config, retry=RetryPolicy.immediate(), on_request=metrics.observe_nomad_request
    ) as client:
        await client.register_job(sleeper_job("web"))
        await client.read_job("web", namespace="default")
        with pytest.raises(NomadNotFoundError):
            await client.read_job("no-such-job", namespace="default")
    assert (
        value(metrics, "nomad_requests_total", endpoint="/v1/job/:id", method="GET", status="200")
        == 1
    )
    assert (
        value(metrics, "nomad_requests_total", endpoint="/v1/job/:id", method="GET", status="404")
        == 1
    )
    reads = value(
        metrics, "nomad_request_duration_seconds_count", endpoint="/v1/job/:id", method="GET"
    )
    assert reads == 2
    registered = sum(
        value(metrics, "nomad_requests_total", endpoint=endpoint, method="PUT", status="200") or 0
        for endpoint in ("/v1/jobs", "/v1/job/:id")
    )
    assert registered == 1
    # raw paths with job IDs never become label values
    text = "\n".join(f"{s.name}{s.labels}" for f in metrics.registry.collect() for s in f.samples)
    assert "no-such-job" not in text


async def test_canary_rollout_read_through_observe_deployment(fake: FakeNomad) -> None:
    metrics = ReconcilerMetrics(CollectorRegistry())
    async with NomadClient(
        NomadConfig(address=fake.address), retry=RetryPolicy.immediate()
    ) as client:
        first = await client.register_job(sleeper_job("web", count=2, update=canary_update()))

        async def deployment_of(index: int, status: str) -> Deployment | None:
            dep = await client.read_latest_deployment("web", namespace="default")
            if dep and dep.job_spec_modify_index >= index and dep.status_text == status:
                return dep
            return None

        await eventually("the first deployment to succeed", lambda: deployment_of(
            first.job_modify_index, "successful"))  # fmt: skip
        second = await client.register_job(
            sleeper_job("web", count=2, args="3601", update=canary_update())
        )

        async def healthy_canary() -> Deployment | None:
            dep = await deployment_of(second.job_modify_index, "running")
            group = dep.group("app") if dep else None
            return dep if group and group.healthy_allocs >= 1 else None

        waiting = await eventually("a healthy canary awaiting promotion", healthy_canary)
        metrics.observe_deployment(KEY, waiting)
        assert value(metrics, "job_deployment_status", nomad_namespace="default",
                     nomad_job="web", status="running") == 1  # fmt: skip
        assert (
            value(metrics, "job_awaiting_promotion", nomad_namespace="default", nomad_job="web")
            == 1
        )
        assert (
            value(metrics, "job_canaries_desired", nomad_namespace="default", nomad_job="web") == 1
        )
        assert (
            value(metrics, "job_canaries_healthy", nomad_namespace="default", nomad_job="web") == 1
        )

        await client.promote_deployment(waiting.id, namespace="default")
        done = await eventually("the promoted deployment to succeed", lambda: deployment_of(
            second.job_modify_index, "successful"))  # fmt: skip
        metrics.observe_deployment(KEY, done)
        metrics.observe_deployment(KEY, done)  # read again on the next poll: counted once
    labels = {"nomad_namespace": "default", "nomad_job": "web"}
    assert value(metrics, "job_deployment_status", **labels, status="successful") == 1
    assert value(metrics, "job_awaiting_promotion", **labels) == 0
    assert value(metrics, "job_awaiting_promotion_seconds", **labels) is None
    assert value(metrics, "deployments_finished_total", **labels, status="successful") == 1
    assert value(metrics, "deployments_finished_total", **labels, status="failed") == 0
