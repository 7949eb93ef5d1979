"""Retries, give-up and the event stream under faults injected into the Nomad fake."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from reconciler.config.connection import NomadConfig
from reconciler.errors import (
    NomadJobRejectedError,
    NomadPermissionDeniedError,
    NomadUnavailableError,
)
from reconciler.nomad.client import NomadClient
from reconciler.nomad.events import Event, StreamSettings
from reconciler.nomad.hooks import RequestRecord
from reconciler.nomad.retry import RetryPolicy
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import sleeper_job, unique_id
from tests.support.network import free_port

WAIT_S = 20.0


def client_for(
    address: str, records: list[RequestRecord], *, attempts: int = 3, **config: object
) -> NomadClient:
    return NomadClient(
        NomadConfig(address=address, **config),  # type: ignore[arg-type]
        retry=RetryPolicy.immediate(attempts),
        on_request=records.append,
    )


def statuses(records: list[RequestRecord], endpoint: str) -> list[int | str]:
    return [r.status for r in records if r.endpoint == endpoint]


async def test_read_is_retried_through_transient_failures(fake_nomad: FakeNomad) -> None:
    fake_nomad.faults.fail_next(1, status=500, path_prefix="/v1/jobs", body="No cluster leader")
    fake_nomad.faults.fail_next(1, status=429, path_prefix="/v1/jobs")
    records: list[RequestRecord] = []
    async with client_for(fake_nomad.address, records) as client:
        result = await client.list_jobs()
    assert result.value == []
    assert statuses(records, "/v1/jobs") == [500, 429, 200]


async def test_read_gives_up_after_the_configured_attempts(fake_nomad: FakeNomad) -> None:
    fake_nomad.faults.fail_next(10, status=503, path_prefix="/v1/job/", body="busy")
    records: list[RequestRecord] = []
    async with client_for(fake_nomad.address, records, attempts=4) as client:
        with pytest.raises(NomadUnavailableError, match="HTTP 503: busy"):
            await client.read_job("web")
    assert statuses(records, "/v1/job/:id") == [503] * 4


async def test_total_time_bounds_the_retries(fake_nomad: FakeNomad) -> None:
    fake_nomad.faults.lose_leader()
    records: list[RequestRecord] = []
    policy = RetryPolicy(
        attempts=1000, initial_backoff=0.01, max_backoff=0.02, max_total=0.3, jitter=0
    )
    async with NomadClient(
        NomadConfig(address=fake_nomad.address), retry=policy, on_request=records.append
    ) as client:
        with pytest.raises(NomadUnavailableError, match="No cluster leader"):
            await client.list_namespaces()
    assert 1 < len(records) < 1000


async def test_dropped_connection_on_a_read_is_retried(fake_nomad: FakeNomad) -> None:
    fake_nomad.faults.drop_connections(1)
    records: list[RequestRecord] = []
    async with client_for(fake_nomad.address, records) as client:
        assert await client.list_namespaces()
    assert statuses(records, "/v1/namespaces") == ["error", 200]


async def test_write_that_may_have_reached_nomad_is_not_retried(fake_nomad: FakeNomad) -> None:
    records: list[RequestRecord] = []
    async with client_for(fake_nomad.address, records, attempts=5) as client:
        fake_nomad.faults.fail_next(1, status=500, path_prefix="/v1/jobs", body="No cluster leader")
        with pytest.raises(NomadUnavailableError):
            await client.register_job(sleeper_job(unique_id("w")))
        fake_nomad.faults.drop_connections(1)
        with pytest.raises(NomadUnavailableError, match="closed the connection"):
            await client.register_job(sleeper_job(unique_id("w")))
    assert statuses(records, "/v1/jobs") == [500, "error"]


async def test_side_effect_free_writes_are_retried(fake_nomad: FakeNomad) -> None:
    # plan/validate/parse are PUTs that change nothing: safe to repeat.
    job = sleeper_job(unique_id("plan"))
    records: list[RequestRecord] = []
    async with client_for(fake_nomad.address, records) as client:
        fake_nomad.faults.fail_next(1, status=500, path_prefix="/v1/job/", body="No cluster leader")
        diff = (await client.plan_job(job)).diff
        assert diff is not None and diff.type == "Added"
        fake_nomad.faults.fail_next(
            1, status=500, path_prefix="/v1/validate", body="No cluster leader"
        )
        assert (await client.validate_job(job))["Error"] == ""
    assert statuses(records, "/v1/job/:id/plan") == [500, 200]
    assert statuses(records, "/v1/validate/job") == [500, 200]


async def test_rejected_write_is_not_retried(fake_nomad: FakeNomad) -> None:
    records: list[RequestRecord] = []
    async with client_for(fake_nomad.address, records, attempts=5) as client:
        job = sleeper_job(unique_id("bad"))
        job["Type"] = "webapp"
        with pytest.raises(NomadJobRejectedError, match='Invalid job type: "webapp"'):
            await client.register_job(job)
    assert statuses(records, "/v1/jobs") == [500]


async def test_write_that_never_connected_is_retried() -> None:
    records: list[RequestRecord] = []
    address = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with client_for(address, records, attempts=3) as client:
        with pytest.raises(NomadUnavailableError, match="cannot connect"):
            await client.register_job(sleeper_job("never"))
    assert statuses(records, "/v1/jobs") == ["error"] * 3


async def test_slow_nomad_times_out_as_unavailable(fake_nomad: FakeNomad) -> None:
    fake_nomad.faults.add_latency(2.0, path_prefix="/v1/namespaces")
    records: list[RequestRecord] = []
    async with client_for(fake_nomad.address, records, attempts=1, timeout=0.2) as client:
        with pytest.raises(NomadUnavailableError, match="did not answer in time"):
            await client.list_namespaces()
    assert statuses(records, "/v1/namespaces") == ["error"]


async def test_hook_failures_do_not_break_requests(fake_nomad: FakeNomad) -> None:
    def broken_hook(record: RequestRecord) -> None:
        raise RuntimeError("metrics exploded")

    async with NomadClient(
        NomadConfig(address=fake_nomad.address), on_request=broken_hook
    ) as client:
        assert await client.list_namespaces()


async def test_event_stream_survives_a_stall_and_leader_loss_without_loss_or_repeats() -> None:
    with FakeNomad(heartbeat_s=0.1) as fake:
        states: list[bool] = []
        changed = asyncio.Event()
        received: asyncio.Queue[Event] = asyncio.Queue()
        settings = StreamSettings(idle_timeout=0.6, reconnect_initial=0.05, reconnect_max=0.2)

        def on_connection(state: bool) -> None:
            states.append(state)
            changed.set()

        async with NomadClient(
            NomadConfig(address=fake.address), retry=RetryPolicy.never()
        ) as client:

            async def consume() -> None:
                stream = client.events(
                    topics={"Job": ["*"]}, index=1, on_connection=on_connection, settings=settings
                )
                async with aclosing(stream) as events:
                    async for event in events:
                        if event.type == "JobRegistered":
                            await received.put(event)

            async def next_registered() -> str:
                return (await asyncio.wait_for(received.get(), timeout=WAIT_S)).key

            async def connection_becomes(state: bool) -> None:
                while not states or states[-1] is not state:
                    changed.clear()
                    await asyncio.wait_for(changed.wait(), timeout=WAIT_S)

            consumer = asyncio.create_task(consume())
            try:
                await client.register_job(sleeper_job("a"))
                assert await next_registered() == "a"

                # The stream goes silent (no heartbeats); a job changes meanwhile and
                # new connections are refused for a while.
                fake.faults.stall_event_stream()
                fake.faults.lose_leader()
                fake.run_job_out_of_band(sleeper_job("b"))
                await connection_becomes(False)
                fake.faults.clear()
                await connection_becomes(True)

                assert await next_registered() == "b"
                await client.register_job(sleeper_job("c"))
                assert await next_registered() == "c"
                assert received.empty()
            finally:
                consumer.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await consumer
        assert states[:3] == [True, False, True]
        assert states[-1] is False


async def test_permission_denied_ends_the_event_stream() -> None:
    with FakeNomad(acl=True, heartbeat_s=0.1) as fake:
        fake.bootstrap_acl()
        async with NomadClient(NomadConfig(address=fake.address)) as client:
            with pytest.raises(NomadPermissionDeniedError) as info:
                async with aclosing(client.events(topics={"Job": ["*"]})) as events:
                    async for _ in events:
                        pass
        assert "Permission denied" in str(info.value)
