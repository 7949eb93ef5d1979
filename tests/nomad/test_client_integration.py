"""Every client endpoint against a Nomad over real loopback HTTP: the fake, and a
real ``nomad agent -dev`` when one is on PATH (``backend`` fixture)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from reconciler.config.connection import NomadConfig
from reconciler.core.failed_analysis import failed_at
from reconciler.deployment import Deployment
from reconciler.errors import (
    NomadIndexConflictError,
    NomadJobRejectedError,
    NomadNotFoundError,
)
from reconciler.job_plan import JobWrite
from reconciler.nomad.client import NomadClient
from reconciler.nomad.events import Event, StreamSettings
from reconciler.nomad.hooks import RequestRecord
from reconciler.nomad.retry import RetryPolicy
from reconciler.nomad.versions import parse_version
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import canary_update, sleeper_job, unique_id
from tests.support.nomad_backends import Backend

WAIT_S = 30.0


async def wait_for_deployment(
    client: NomadClient, job_id: str, done: Callable[[Deployment], bool]
) -> Deployment:
    """Follow the job's latest deployment with blocking queries until ``done`` (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    index: int | None = None
    while True:
        result = await client.read_latest_deployment_query(job_id, index=index, wait=1.0)
        if result.value and done(result.value):
            return result.value
        if loop.time() > deadline:
            raise AssertionError(f"deployment of {job_id} never got there: {result.value}")
        index = result.index


async def test_agent_version_and_leader(client: NomadClient, backend: Backend) -> None:
    version = await client.server_version()
    assert version >= (1, 0, 0)
    if backend.fake is not None:
        assert version == parse_version(backend.fake.version)
    assert (await client.agent_self())["config"]
    assert ":" in await client.leader()
    assert "default" in {ns["Name"] for ns in await client.list_namespaces()}


async def test_job_lifecycle(client: NomadClient) -> None:
    job_id = unique_id("life")
    job = sleeper_job(job_id)
    created = await client.register_job(job, enforce_index=0)
    assert created.eval_id

    read = await client.read_job(job_id)
    assert (read["ID"], read["Version"], read["Namespace"]) == (job_id, 0, "default")
    listed = await client.list_jobs(prefix=job_id)
    assert [stub["ID"] for stub in listed.value] == [job_id]
    assert listed.index > 0
    assert (await client.job_summary(job_id))["Summary"].keys() == {"app"}
    assert len(await client.job_versions(job_id)) == 1

    unchanged = await client.plan_job(job)
    assert unchanged.diff is not None and unchanged.diff.type == "None"
    assert unchanged.job_modify_index == read["JobModifyIndex"]

    changed = sleeper_job(job_id, args="7200")
    plan = await client.plan_job(changed)
    assert plan.diff is not None and plan.diff.type == "Edited"
    await client.register_job(changed, enforce_index=plan.job_modify_index)
    versions = await client.job_versions(job_id)
    assert [v.version for v in versions] == [1, 0]  # newest first

    with pytest.raises(NomadIndexConflictError, match="Enforcing job modify index"):
        await client.register_job(
            sleeper_job(job_id, args="1"), enforce_index=plan.job_modify_index
        )

    await client.deregister_job(job_id)
    assert (await client.read_job(job_id))["Stop"] is True
    await client.deregister_job(job_id, purge=True)
    with pytest.raises(NomadNotFoundError, match="job not found"):
        await client.read_job(job_id)
    with pytest.raises(NomadNotFoundError, match="job versions not found"):
        await client.job_versions(job_id)
    # Deregistering a job that does not exist is a success in Nomad.
    assert isinstance(await client.deregister_job(job_id, purge=True), JobWrite)


async def test_rejected_job_keeps_nomads_text_and_is_sent_once(backend: Backend) -> None:
    records: list[RequestRecord] = []
    config = NomadConfig(address=backend.address)
    async with NomadClient(
        config, retry=RetryPolicy.immediate(5), on_request=records.append
    ) as client:
        job = sleeper_job(unique_id("bad"))
        job["Type"] = "nonsense"  # refused by every release (no datacenters: only before 1.5)
        with pytest.raises(NomadJobRejectedError, match='Invalid job type: "nonsense"') as info:
            await client.register_job(job)
    assert info.value.status == 500
    assert [(r.endpoint, r.status) for r in records] == [("/v1/jobs", 500)]


async def test_validate_and_parse(client: NomadClient) -> None:
    job = sleeper_job(unique_id("val"))
    assert (await client.validate_job(job))["Error"] == ""
    job["Type"] = "nonsense"
    result = await client.validate_job(job)
    assert 'Invalid job type: "nonsense"' in result["Error"]
    assert result["ValidationErrors"]

    hcl = (
        'job "parsed" {\n  datacenters = ["dc1"]\n  group "g" {\n'
        '    task "t" {\n      driver = "raw_exec"\n      config { command = "/bin/true" }\n'
        "    }\n  }\n}\n"
    )
    parsed = await client.parse_hcl(hcl)
    assert parsed["ID"] == "parsed"
    assert parsed["TaskGroups"][0]["Tasks"][0]["Driver"] == "raw_exec"
    assert parsed["Priority"] == 50  # canonicalized


async def test_list_jobs_with_meta(client: NomadClient) -> None:
    job_id = unique_id("meta")
    await client.register_job(sleeper_job(job_id, meta={"gitops.source": "web.nomad"}))
    listed = await client.list_jobs(prefix=job_id, meta=True)
    assert [stub["Meta"] for stub in listed.value] == [{"gitops.source": "web.nomad"}]
    await client.deregister_job(job_id, purge=True)


async def test_scale_shows_as_drift_in_plan(client: NomadClient) -> None:
    job_id = unique_id("scale")
    job = sleeper_job(job_id, count=1, update=canary_update(canary=0))
    await client.register_job(job)
    await wait_for_deployment(client, job_id, lambda d: d.status_text == "successful")
    await client.scale_job(job_id, "app", 3, message="by hand")
    assert (await client.read_job(job_id))["TaskGroups"][0]["Count"] == 3
    assert (await client.scale_status(job_id))["TaskGroups"]["app"]["Desired"] == 3
    plan = await client.plan_job(job)
    assert plan.diff is not None and plan.diff.type == "Edited"
    await client.deregister_job(job_id, purge=True)


async def test_canary_deployment_promotion(client: NomadClient) -> None:
    job_id = unique_id("canary")
    await client.register_job(sleeper_job(job_id, count=2, update=canary_update()))
    first = await wait_for_deployment(client, job_id, lambda d: d.status_text == "successful")

    await client.register_job(sleeper_job(job_id, count=2, args="7200", update=canary_update()))
    waiting = await wait_for_deployment(
        client,
        job_id,
        lambda d: (
            d.id != first.id
            and d.group("app").healthy_allocs >= 1  # type: ignore[union-attr]
            and d.description == "Deployment is running but requires manual promotion"
        ),
    )
    assert (await client.read_deployment(waiting.id)).id == waiting.id
    assert await client.deployment_allocations(waiting.id)
    allocations = await client.job_allocations(job_id)
    assert len(allocations) >= 3  # two from the first version, the canary
    assert {a["JobID"] for a in allocations} == {job_id}
    assert waiting.id in {d.id for d in await client.list_job_deployments(job_id)}

    promoted = await client.promote_deployment(waiting.id)
    assert promoted["DeploymentModifyIndex"] > 0
    done = await wait_for_deployment(client, job_id, lambda d: d.status_text == "successful")
    assert done.id == waiting.id
    with pytest.raises(NomadNotFoundError, match="deployment not found"):
        await client.promote_deployment("00000000-0000-0000-0000-000000000000")
    await client.deregister_job(job_id, purge=True)


async def test_fail_deployment(client: NomadClient) -> None:
    job_id = unique_id("fail")
    await client.register_job(sleeper_job(job_id, count=1, update=canary_update()))
    await wait_for_deployment(client, job_id, lambda d: d.status_text == "successful")
    await client.register_job(sleeper_job(job_id, count=1, args="99", update=canary_update()))
    running = await wait_for_deployment(
        client, job_id, lambda d: d.status_text == "running" and d.job_version == 1
    )
    before = time.time()
    await client.fail_deployment(running.id)
    after = time.time()
    failed = await client.read_deployment(running.id)
    assert failed.status_text == "failed"
    assert failed.description == "Deployment marked as failed"
    # the evaluation Nomad writes with the failure dates it (status' analysis window)
    when = failed_at(await client.job_evaluations(job_id), failed)
    assert when is not None and before - 1 <= when <= after + 1, when
    await client.deregister_job(job_id, purge=True)


async def test_an_auto_reverted_failure_is_dated_by_its_evaluation(client: NomadClient) -> None:
    """With auto_revert, the failure's evaluation is scheduled as the rollback's: it still
    dates the failure (``status`` closes the failed deployment's analysis window there)."""
    job_id = unique_id("revert")
    update = {**canary_update(), "AutoRevert": True}
    await client.register_job(sleeper_job(job_id, count=1, update=update))
    await wait_for_deployment(client, job_id, lambda d: d.status_text == "successful")
    await client.register_job(sleeper_job(job_id, count=1, args="99", update=update))
    running = await wait_for_deployment(
        client, job_id, lambda d: d.status_text == "running" and d.job_version == 1
    )
    before = time.time()
    await client.fail_deployment(running.id)
    after = time.time()
    await wait_for_deployment(client, job_id, lambda d: d.job_version == 2)  # the rollback's

    async def scheduled() -> list[Any]:
        evals = await client.job_evaluations(job_id)
        return evals if all(e.get("Status") == "complete" for e in evals) else []

    evals: list[Any] = []
    for _ in range(100):  # bounded: the scheduler completes them within moments
        evals = await scheduled()
        if evals:
            break
        await asyncio.sleep(0.1)
    failed = await client.read_deployment(running.id)
    when = failed_at(evals, failed)
    assert when is not None and before - 1 <= when <= after + 1, (when, evals)
    await client.deregister_job(job_id, purge=True)


async def test_blocking_list_is_released_by_a_change(client: NomadClient) -> None:
    job_id = unique_id("block")
    before = await client.list_jobs(prefix=job_id)
    # Nothing changes: the query times out and returns the same index.
    idle = await client.list_jobs(prefix=job_id, index=before.index, wait=0.3)
    assert idle.index == before.index
    assert idle.value == []

    waiter = asyncio.create_task(client.list_jobs(prefix=job_id, index=before.index, wait=20))
    await client.register_job(sleeper_job(job_id))
    changed = await asyncio.wait_for(waiter, timeout=WAIT_S)
    assert changed.index > before.index
    assert [stub["ID"] for stub in changed.value] == [job_id]
    await client.deregister_job(job_id, purge=True)


async def test_event_stream_delivers_job_events(client: NomadClient) -> None:
    job_id = unique_id("events")
    start = (await client.list_jobs(prefix=job_id)).index + 1
    settings = StreamSettings(idle_timeout=15.0, reconnect_initial=0.05, reconnect_max=0.2)
    states: list[bool] = []
    received: list[Event] = []

    async def consume() -> None:
        stream = client.events(
            topics={"Job": [job_id]}, index=start, on_connection=states.append, settings=settings
        )
        async with aclosing(stream) as events:
            async for event in events:
                received.append(event)
                if event.type == "JobDeregistered":
                    return

    consumer = asyncio.create_task(consume())
    await client.register_job(sleeper_job(job_id))
    # A stop is a JobDeregistered event; a purge is none before Nomad 1.7.5.
    await client.deregister_job(job_id)
    await asyncio.wait_for(consumer, timeout=WAIT_S)
    await client.deregister_job(job_id, purge=True)
    assert {e.key for e in received} == {job_id}
    assert received[0].type == "JobRegistered"
    assert received[0].payload["Job"]["ID"] == job_id
    assert [e.index for e in received] == sorted(e.index for e in received)
    assert states == [True, False]


async def test_an_index_beyond_nomads_own_is_followed_as_a_reset(client: NomadClient) -> None:
    # As after Nomad restarted without its state: the cursor is far ahead of the server.
    # Real Nomad 1.0.18 then sends its new frames, with lower indexes: they must come
    # through (not be dropped as old) and the caller must hear of the reset.
    job_id = unique_id("rewound")
    ahead = (await client.list_jobs(prefix=job_id)).index + 100_000
    settings = StreamSettings(idle_timeout=15.0, reconnect_initial=0.05, reconnect_max=0.2)
    resets: list[tuple[int, int]] = []
    received: list[Event] = []
    subscribed = asyncio.Event()  # the answer's headers come once Nomad has subscribed

    async def consume() -> None:
        stream = client.events(
            topics={"Job": ["*"]}, index=ahead, settings=settings,
            on_connection=lambda up: subscribed.set() if up else None,
            on_reset=lambda old, new: resets.append((old, new)),
        )  # fmt: skip
        async with aclosing(stream) as events:
            async for event in events:
                received.append(event)
                if event.key == job_id:
                    return

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(subscribed.wait(), timeout=WAIT_S)
    await client.register_job(sleeper_job(job_id))
    await asyncio.wait_for(consumer, timeout=WAIT_S)
    await client.deregister_job(job_id, purge=True)
    assert received[-1].key == job_id and received[-1].index < ahead
    assert len(resets) == 1 and resets[0][0] >= ahead - 1 and resets[0][1] < ahead


async def test_newer_fake_lists_meta_natively() -> None:
    with FakeNomad(version="1.6.0") as fake:
        async with NomadClient(NomadConfig(address=fake.address)) as client:
            job_id = unique_id("native")
            await client.register_job(
                sleeper_job(job_id, meta={"gitops.digest": "abc"}),
                submission={"Source": "job {}", "Format": "hcl2"},
            )
            fake.clear_request_log()
            listed = await client.list_jobs(meta=True)
        assert [stub["Meta"] for stub in listed.value] == [{"gitops.digest": "abc"}]
        assert [(m, p, q) for m, p, q, _ in fake.request_log] == [
            ("GET", "/v1/jobs", "namespace=%2A&meta=true")
        ]


async def test_a_one_namespace_job_list_names_the_namespace_of_each_stub(
    client: NomadClient, backend: Backend
) -> None:
    # Nomad 1.0.x leaves "Namespace" out of the stubs of GET /v1/jobs?namespace=NAME
    # (tests/golden/api/11-namespaces.jsonl); the client fills it in, so a job of
    # another namespace never passes for one of "default".
    namespace = unique_id("ns")
    async with httpx.AsyncClient(base_url=backend.address) as http:
        (await http.put(f"/v1/namespace/{namespace}", json={"Name": namespace})).raise_for_status()
    job_id = unique_id("nsjob")
    await client.register_job({**sleeper_job(job_id), "Namespace": namespace}, enforce_index=0)
    listed = await client.list_jobs(namespace=namespace, prefix=job_id)
    assert [(s["ID"], s["Namespace"]) for s in listed.value] == [(job_id, namespace)]
    everywhere = await client.list_jobs(namespace="*", prefix=job_id)
    assert [(s["ID"], s["Namespace"]) for s in everywhere.value] == [(job_id, namespace)]
