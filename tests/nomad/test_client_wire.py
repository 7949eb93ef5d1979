"""What the client puts on the wire, per server version, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import logging
import time

import pytest

from reconciler.config.connection import NomadConfig
from reconciler.errors import (
    NomadBadRequestError,
    NomadError,
    NomadIndexConflictError,
    NomadPermissionDeniedError,
    NomadUnavailableError,
)
from reconciler.nomad.client import NomadClient, QueryResult, run_sync
from reconciler.nomad.hooks import RequestRecord
from reconciler.nomad.retry import RetryPolicy
from tests.support.network import free_port
from tests.support.recorder import Recorded, Reply, recording_server

SECRET = "7d1c6c55-1b8e-4b8e-9c51-0e8f3c2b9a11"
JOB = {"ID": "web", "Name": "web", "Type": "service", "Version": 3, "TaskGroups": []}
SUBMISSION = {"Source": 'job "web" {}', "Format": "hcl2"}


def client_for(address: str, **config: object) -> NomadClient:
    return NomadClient(NomadConfig(address=address, **config), retry=RetryPolicy.immediate())  # type: ignore[arg-type]


async def test_token_is_sent_as_x_nomad_token_and_region_is_added() -> None:
    with recording_server() as (address, recorder):
        async with client_for(address, token=SECRET, region="eu") as client:
            await client.list_jobs()
        [request] = recorder.of("/v1/jobs")
        assert request.headers["X-Nomad-Token"] == SECRET
        assert request.query["region"] == ["eu"]
        assert request.query["namespace"] == ["*"]


async def test_no_token_no_header() -> None:
    with recording_server() as (address, recorder):
        async with client_for(address) as client:
            await client.list_jobs()
        assert "X-Nomad-Token" not in recorder.of("/v1/jobs")[0].headers


async def test_http_basic_auth() -> None:
    with recording_server() as (address, recorder):
        async with client_for(address, http_auth=("ops", "pw")) as client:
            await client.list_namespaces()
        header = recorder.of("/v1/namespaces")[0].headers["Authorization"]
        assert base64.b64decode(header.removeprefix("Basic ")) == b"ops:pw"


@pytest.mark.parametrize(
    "version,sent",
    [("1.0.18", False), ("1.5.6", False), ("1.6.0", True), ("2.0.5", True)],
)
async def test_submission_only_to_servers_that_store_it(version: str, sent: bool) -> None:
    with recording_server(version=version) as (address, recorder):
        async with client_for(address) as client:
            await client.register_job(
                JOB, enforce_index=7, preserve_counts=True, submission=SUBMISSION
            )
        [request] = recorder.of("/v1/jobs")
        assert request.method == "PUT"
        assert ("Submission" in request.body) is sent
        assert request.body["EnforceIndex"] is True
        assert request.body["JobModifyIndex"] == 7
        assert request.body["PreserveCounts"] is True
        # Nomad 2.0 would honour a submitted Version: it is never sent.
        assert "Version" not in request.body["Job"]
        assert request.body["Job"]["ID"] == "web"


async def test_register_without_enforce_index_sends_no_check() -> None:
    with recording_server() as (address, recorder):
        async with client_for(address) as client:
            await client.register_job(JOB)
        body = recorder.of("/v1/jobs")[0].body
        assert "EnforceIndex" not in body and "Submission" not in body


async def test_job_namespace_wins_over_config_namespace() -> None:
    with recording_server() as (address, recorder):
        async with client_for(address, namespace="cfg") as client:
            await client.plan_job({**JOB, "Namespace": "team"})
            await client.plan_job(JOB)
        first, second = recorder.of("/v1/job/web/plan")
        assert first.query["namespace"] == ["team"]
        assert second.query["namespace"] == ["cfg"]
        assert first.body["Diff"] is True


@pytest.mark.parametrize("version,native", [("1.4.2", False), ("1.4.3", True), ("2.0.0", True)])
async def test_list_meta_native_or_filled_by_reads(version: str, native: bool) -> None:
    stubs = [{"ID": "a", "Namespace": "default"}, {"ID": "gone", "Namespace": "ops"}]

    def respond(request: Recorded) -> Reply:
        if request.path == "/v1/jobs":
            if request.query.get("meta") == ["true"]:
                return Reply(body=[{**s, "Meta": {"k": s["ID"]}} for s in stubs])
            return Reply(body=stubs, headers={"X-Nomad-Index": "42"})
        if request.path == "/v1/job/a":
            return Reply(body={"ID": "a", "Meta": {"k": "a"}})
        return Reply(status=404, body="job not found")

    with recording_server(version=version, respond=respond) as (address, recorder):
        async with client_for(address) as client:
            result = await client.list_jobs(meta=True)
        if native:
            assert [s["Meta"] for s in result.value] == [{"k": "a"}, {"k": "gone"}]
            assert not recorder.of("/v1/job/a")
        else:
            # The job deleted between list and read is left out; the other gets its Meta.
            assert result.value == [{"ID": "a", "Namespace": "default", "Meta": {"k": "a"}}]
            assert result.index == 42
            assert recorder.of("/v1/job/gone")[0].query["namespace"] == ["ops"]


async def test_parse_variables_need_nomad_1_6() -> None:
    with recording_server(version="1.5.0") as (address, recorder):
        async with client_for(address) as client:
            with pytest.raises(NomadBadRequestError, match=r"1\.6\.0"):
                await client.parse_hcl('job "x" {}', variables="a = 1")
            await client.parse_hcl('job "x" {}')
        [request] = recorder.of("/v1/jobs/parse")
        assert request.body == {"JobHCL": 'job "x" {}', "Canonicalize": True}
    with recording_server(version="1.6.0") as (address, recorder):
        async with client_for(address) as client:
            await client.parse_hcl('job "x" {}', variables="a = 1", canonicalize=False)
        assert recorder.of("/v1/jobs/parse")[0].body["Variables"] == "a = 1"


async def test_version_is_fetched_once() -> None:
    with recording_server(version="1.7.2") as (address, recorder):
        async with client_for(address) as client:
            assert await client.server_version() == (1, 7, 2)
            assert await client.server_version() == (1, 7, 2)
        assert len(recorder.of("/v1/agent/self")) == 1


async def test_version_is_rechecked_after_the_ttl() -> None:
    with recording_server(version="1.5.0") as (address, recorder):
        config = NomadConfig(address=address)
        async with NomadClient(config, retry=RetryPolicy.never(), version_ttl=0.0) as client:
            assert await client.server_version() == (1, 5, 0)
            recorder.version = "1.6.0"  # upgraded in place
            assert (await client.features()).register_submission is True
    assert len(recorder.of("/v1/agent/self")) == 2


async def test_pinned_version_is_never_asked_for() -> None:
    nowhere = NomadConfig(address=f"http://127.0.0.1:{free_port()}")
    async with NomadClient(nowhere, server_version=(1, 4, 3), version_ttl=0.0) as client:
        assert await client.server_version() == (1, 4, 3)


async def test_cached_version_survives_an_outage() -> None:
    with recording_server(version="1.6.0") as (address, recorder):
        async with NomadClient(
            NomadConfig(address=address), retry=RetryPolicy.never(), version_ttl=0.0
        ) as client:
            assert await client.server_version() == (1, 6, 0)
            recorder.respond_status = 503
            assert await client.server_version() == (1, 6, 0)
        assert len(recorder.of("/v1/agent/self")) == 2


async def test_agent_self_forbidden_assumes_oldest_features() -> None:
    with recording_server(version=None) as (address, recorder):
        async with client_for(address) as client:
            assert await client.server_version() == (1, 0, 0)
            await client.register_job(JOB, submission=SUBMISSION)
        assert "Submission" not in recorder.of("/v1/jobs")[0].body


async def test_blocking_query_parameters_and_metadata() -> None:
    def respond(request: Recorded) -> Reply:
        return Reply(
            body=[],
            headers={
                "X-Nomad-Index": "99",
                "X-Nomad-KnownLeader": "true",
                "X-Nomad-LastContact": "250",
            },
        )

    with recording_server(respond=respond) as (address, recorder):
        async with client_for(address, timeout=0.5) as client:
            result = await client.list_jobs(namespace="ops", prefix="we", index=98, wait=2.5)
        assert result == QueryResult(value=[], index=99, known_leader=True, last_contact=0.25)
        [request] = recorder.of("/v1/jobs")
        assert request.query == {
            "namespace": ["ops"],
            "prefix": ["we"],
            "index": ["98"],
            "wait": ["2500ms"],
        }


async def test_blocking_query_read_timeout_outlasts_the_wait() -> None:
    # The server holds the answer longer than the client's base timeout, as Nomad
    # does for a blocking query; the request must still succeed.
    def respond(request: Recorded) -> Reply:
        if request.path == "/v1/job/web":
            time.sleep(0.6)  # the server side of a blocking query
        return Reply(body={"ID": "web"}, headers={"X-Nomad-Index": "5"})

    with recording_server(respond=respond) as (address, _):
        async with client_for(address, timeout=0.3) as client:
            result = await client.read_job_query("web", index=4, wait=0.6)
            assert result.index == 5
            with pytest.raises(NomadUnavailableError, match="did not answer in time"):
                await client.read_job("web")


async def test_enforce_index_conflict_is_typed_and_not_retried() -> None:
    def respond(request: Recorded) -> Reply:
        return Reply(
            status=500,
            body="Enforcing job modify index 57: job exists with conflicting job modify index: 58",
        )

    records: list[RequestRecord] = []
    with recording_server(respond=respond) as (address, recorder):
        client = NomadClient(
            NomadConfig(address=address), retry=RetryPolicy.immediate(5), on_request=records.append
        )
        async with client:
            with pytest.raises(NomadIndexConflictError) as info:
                await client.register_job(JOB, enforce_index=57)
        assert info.value.status == 500
        assert len(recorder.of("/v1/jobs")) == 1
        assert [(r.endpoint, r.method, r.status) for r in records] == [("/v1/jobs", "PUT", 500)]
        assert records[0].duration_s >= 0


async def test_token_never_in_errors_logs_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    # A server that echoes the token back in its error text.
    def respond(request: Recorded) -> Reply:
        return Reply(
            status=403, body=f"ACL token not found: {request.headers.get('X-Nomad-Token')}"
        )

    caplog.set_level(logging.DEBUG)
    with recording_server(respond=respond) as (address, _):
        client = client_for(address, token=SECRET)
        async with client:
            with pytest.raises(NomadPermissionDeniedError) as info:
                await client.list_jobs()
        shown = [str(info.value), repr(info.value), info.value.message, repr(client), caplog.text]
        assert all(SECRET not in text for text in shown)
        assert "not know the token" in str(info.value)


async def test_redaction_of_echoed_text_in_other_errors() -> None:
    def respond(request: Recorded) -> Reply:
        return Reply(status=400, body=f"bad token {request.headers.get('X-Nomad-Token')}")

    with recording_server(respond=respond) as (address, _):
        async with client_for(address, token=SECRET) as client:
            with pytest.raises(NomadBadRequestError) as info:
                await client.list_namespaces()
        assert SECRET not in str(info.value)
        assert "<redacted>" in str(info.value)


async def test_closed_client_refuses_requests() -> None:
    with recording_server() as (address, _):
        client = client_for(address)
        await client.aclose()
        with pytest.raises(NomadError, match="closed"):
            await client.list_jobs()


async def test_promote_all_groups_or_named_groups() -> None:
    with recording_server() as (address, recorder):
        async with client_for(address) as client:
            await client.promote_deployment("d1")
            await client.promote_deployment("d1", groups=["web"])
            with pytest.raises(NomadBadRequestError):
                await client.promote_deployment("d1", groups=[])
        first, second = recorder.of("/v1/deployment/promote/d1")
        assert first.body == {"DeploymentID": "d1", "All": True}
        assert second.body == {"DeploymentID": "d1", "Groups": ["web"]}


async def test_latest_deployment_null_is_none() -> None:
    def respond(request: Recorded) -> Reply:
        return Reply(body=None)

    with recording_server(respond=respond) as (address, _):
        async with client_for(address) as client:
            assert await client.read_latest_deployment("web") is None


async def test_job_ids_are_escaped_in_paths() -> None:
    with recording_server() as (address, recorder):
        async with client_for(address) as client:
            await client.job_summary("batch/periodic-1700000000", namespace="ops")
            await client.job_summary("a b?c")
            await client.job_summary("x/..y/.z%2F")
        paths = [r.path for r in recorder.requests]
        # One segment, every reserved character escaped, as Go's url.PathEscape in Nomad's api/jobs.go.
        assert "/v1/job/batch%2Fperiodic-1700000000/summary" in paths
        assert "/v1/job/a%20b%3Fc/summary" in paths
        assert "/v1/job/x%2F..y%2F.z%252F/summary" in paths  # no dot segment for httpx to fold


def test_run_sync_runs_a_coroutine() -> None:
    with recording_server(version="1.4.3") as (address, _):

        async def version() -> tuple[int, int, int]:
            async with client_for(address) as client:
                return await client.server_version()

        assert run_sync(version()) == (1, 4, 3)


@pytest.mark.parametrize("version,asked", [("1.5.6", False), ("1.6.0", True)])
async def test_job_submission_only_where_nomad_keeps_sources(version: str, asked: bool) -> None:
    def respond(request: Recorded) -> Reply:
        if request.query.get("version") == ["3"]:
            return Reply(body={"Source": 'job "web" {}', "Format": "hcl2", "Version": 3})
        return Reply(status=404, body="job source not found")

    with recording_server(version=version, respond=respond) as (address, recorder):
        async with client_for(address, namespace="ops") as client:
            found = await client.job_submission("web", version=3)
            missing = await client.job_submission("web", version=2)
        requests = recorder.of("/v1/job/web/submission")
    assert missing is None
    if asked:
        assert found is not None and found["Source"] == 'job "web" {}'
        assert requests[0].query == {"namespace": ["ops"], "version": ["3"]}
    else:
        assert found is None
        assert requests == []


async def test_a_long_poll_keeps_its_retries() -> None:
    # The first attempt holds for the whole wait, then fails: the total-time budget
    # must count the wait, or a long poll could never be retried.
    calls: list[int] = []

    def respond(request: Recorded) -> Reply:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.5)
            return Reply(status=503, body="busy")
        return Reply(body=[], headers={"X-Nomad-Index": "8"})

    policy = RetryPolicy(attempts=3, initial_backoff=0, max_backoff=0, max_total=0.1, jitter=0)
    with recording_server(respond=respond) as (address, _):
        async with NomadClient(NomadConfig(address=address), retry=policy) as client:
            result = await client.list_jobs(index=7, wait=0.5)
    assert result.index == 8
    assert len(calls) == 2


async def test_failed_meta_fill_leaves_no_reads_running() -> None:
    stubs = [{"ID": f"j{i}", "Namespace": "default"} for i in range(20)]

    def respond(request: Recorded) -> Reply:
        if request.path == "/v1/jobs":
            return Reply(body=stubs)
        if request.path == "/v1/job/j0":
            return Reply(status=403, body="Permission denied")
        time.sleep(0.05)
        return Reply(body={"Meta": None})

    with recording_server(respond=respond) as (address, _):
        async with client_for(address) as client:
            before = asyncio.all_tasks()
            with pytest.raises(NomadPermissionDeniedError):
                await client.list_jobs(meta=True)
            assert asyncio.all_tasks() == before
