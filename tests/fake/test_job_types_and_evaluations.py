"""Job types, stops and evaluation lists in the fake as real Nomad answers them
(recorded from a 1.0.18 agent in tests/golden/api/16-job-types-and-evaluations.jsonl,
and from Nomad's source for what changed by 2.0.x): where an update block is kept,
a system job's status, a summary a stop leaves alone, the order and fields of the
evaluation lists, and what stopping or purging a parent answers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import without_nulls
from tests.support.nomad_backends import FAKE_VERSIONS

SECOND = 1_000_000_000
RECORDING = Path(__file__).parent.parent / "golden" / "api" / "16-job-types-and-evaluations.jsonl"
FAST = {"MinHealthyTime": 100_000_000, "HealthyDeadline": 20 * SECOND, "ProgressDeadline": 30 * SECOND}


def _job(job_id: str, job_type: str, *, group_update: Any = None, **extra: Any) -> dict[str, Any]:
    group: dict[str, Any] = {"Name": "app", "Count": 1, "Tasks": [
        {"Name": "main", "Driver": "raw_exec", "Config": {"command": "/bin/sleep", "args": ["3600"]}},
    ]}
    if group_update is not None:
        group["Update"] = group_update
    return {"Job": {"ID": job_id, "Type": job_type, "Datacenters": ["dc1"], "TaskGroups": [group], **extra}}


@pytest.fixture(params=FAKE_VERSIONS)
def fake(request: pytest.FixtureRequest) -> Iterator[FakeNomad]:
    with FakeNomad(version=request.param) as server:
        yield server


def _until(predicate: Callable[[], Any], *, timeout: float = 10.0) -> bool:
    """Poll an HTTP-observable condition (bounded); ``fake.wait_for`` holds the fake's lock."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True




def _recorded() -> list[dict[str, Any]]:
    return [json.loads(line) for line in RECORDING.read_text().splitlines()]


def _register(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    reply = client.put("/v1/jobs", json=body)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


ZERO_UPDATE = {"AutoPromote": False, "AutoRevert": False, "Canary": 0, "HealthCheck": "", "HealthyDeadline": 0,
               "MaxParallel": 0, "MinHealthyTime": 0, "ProgressDeadline": 0, "Stagger": 0}


def test_update_blocks_by_job_type_at_1_0_18() -> None:
    with FakeNomad(version="1.0.18") as fake, httpx.Client(base_url=fake.address, timeout=10) as client:
        _register(client, _job("sys", "system"))
        _register(client, _job("sys-update", "system", group_update={"MaxParallel": 1, **FAST}))
        _register(client, _job("batch", "batch"))
        _register(client, _job("svc", "service"))
        system, batch, service = (client.get(f"/v1/job/{j}").json() for j in ("sys", "batch", "svc"))
        # A group no update block reaches stores none; the job keeps only zeros.
        assert (system["TaskGroups"][0]["Update"], system["Update"]) == (None, ZERO_UPDATE)
        assert (batch["TaskGroups"][0]["Update"], batch["Update"]) == (None, ZERO_UPDATE)
        # A system group's own update block is kept, defaults filled.
        kept = client.get("/v1/job/sys-update").json()["TaskGroups"][0]["Update"]
        assert (kept["HealthCheck"], kept["MinHealthyTime"], kept["Stagger"]) == ("checks", FAST["MinHealthyTime"], 30 * SECOND)
        assert service["TaskGroups"][0]["Update"]["MinHealthyTime"] == 10 * SECOND
        assert (service["Update"]["MaxParallel"], service["Update"]["Stagger"]) == (1, 30 * SECOND)
        refused = client.put("/v1/jobs", json=_job("batch-update", "batch", group_update={"MaxParallel": 1}))
        assert refused.status_code == 500 and 'Job type "batch" does not allow update block' in refused.text


def test_the_recorded_update_blocks_are_the_fakes() -> None:
    """The same jobs as the recording, compared field by field with what 1.0.18 stored."""
    recorded = {e["response"]["body"]["ID"]: e["response"]["body"] for e in _recorded()
                if e["request"]["method"] == "GET" and e["request"]["path"].startswith("/v1/job/")
                and isinstance(e["response"]["body"], dict) and "TaskGroups" in e["response"]["body"]}
    submitted = {e["request"]["body"]["Job"]["ID"]: e["request"]["body"] for e in _recorded()
                 if e["request"]["method"] == "PUT" and e["response"]["status"] == 200}
    with FakeNomad(version="1.0.18") as fake, httpx.Client(base_url=fake.address, timeout=10) as client:
        for job_id in ("rec-16-system", "rec-16-system-update", "rec-16-batch", "rec-16-service"):
            _register(client, submitted[job_id])
            got = client.get(f"/v1/job/{job_id}").json()
            assert got["Update"] == recorded[job_id]["Update"], job_id
            assert got["TaskGroups"][0]["Update"] == recorded[job_id]["TaskGroups"][0]["Update"], job_id


def test_a_system_job_gets_the_default_update_strategy_from_1_11() -> None:
    """api/jobs.go Canonicalize from v1.11.0 gives a system job the default update block."""
    with FakeNomad(version="2.0.5") as fake, httpx.Client(base_url=fake.address, timeout=10) as client:
        _register(client, _job("sys", "system"))
        _register(client, _job("batch", "batch"))
        system = client.get("/v1/job/sys").json()
        assert (system["Update"]["MaxParallel"], system["TaskGroups"][0]["Update"]["HealthCheck"]) == (1, "checks")
        assert client.get("/v1/job/batch").json()["TaskGroups"][0]["Update"] is None


def test_a_system_job_reads_running_from_its_registration(fake: FakeNomad, client: httpx.Client) -> None:
    reply = _register(client, _job("sys", "system"))
    job = client.get("/v1/job/sys").json()
    # Set by the registration itself: no later write changes the job row.
    assert (job["Status"], job["ModifyIndex"]) == ("running", reply["JobModifyIndex"])
    assert _until(lambda: client.get("/v1/job/sys/summary").json()["Summary"]["app"]["Running"] == 1)
    assert client.get("/v1/job/sys").json()["ModifyIndex"] == reply["JobModifyIndex"]
    stop = client.delete("/v1/job/sys").json()
    job = client.get("/v1/job/sys").json()
    assert (job["Status"], job["ModifyIndex"]) == ("dead", stop["Index"]), "dead at once when stopped"
    # The recording shows the same.
    events = _recorded()
    registered = next(e for e in events if e["step"].startswith("read it back at once"))["response"]["body"]
    assert (registered["Status"], registered["ModifyIndex"]) == ("running", registered["CreateIndex"])


def test_a_stop_leaves_the_job_summary_alone(fake: FakeNomad, client: httpx.Client) -> None:
    _register(client, _job("web", "service", group_update=FAST))
    _register(client, _job("other", "service", group_update=FAST))
    assert fake.wait_for(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful")
    assert fake.wait_for(lambda: (fake.latest_deployment("other") or {}).get("Status") == "successful")
    before = client.get("/v1/job/web/summary")
    stop = client.delete("/v1/job/web").json()
    after = client.get("/v1/job/web/summary")
    assert after.json()["ModifyIndex"] == before.json()["ModifyIndex"] < stop["Index"]
    assert int(after.headers["X-Nomad-Index"]) < stop["Index"], "the job_summary table is not written either"
    job = client.get("/v1/job/web").json()
    assert (job["Stop"], job["Stable"]) == (True, True), "the stopped copy keeps the current version's Stable flag"
    # The allocation completing is what moves it; another job's summary stays where it was.
    other_before = client.get("/v1/job/other/summary").json()["ModifyIndex"]
    assert _until(lambda: client.get("/v1/job/web/summary").json()["Summary"]["app"]["Complete"] == 1)
    assert client.get("/v1/job/web/summary").json()["ModifyIndex"] > stop["Index"]
    assert client.get("/v1/job/other/summary").json()["ModifyIndex"] == other_before


def test_the_recorded_stop_left_the_summary_alone() -> None:
    events = _recorded()
    before = next(e for e in events if e["step"].startswith("the service job's summary before the stop"))
    stop = next(e for e in events if e["step"] == "stop the service job")
    after = next(e for e in events if e["step"].startswith("its summary right after the stop"))
    assert after["response"]["body"]["ModifyIndex"] == before["response"]["body"]["ModifyIndex"]
    assert after["response"]["body"]["ModifyIndex"] < stop["response"]["body"]["Index"]


def _evaluations_after_a_rollout_and_a_stop(fake: FakeNomad, client: httpx.Client) -> None:
    _register(client, _job("web", "service", group_update=FAST))
    _register(client, _job("sys", "system"))
    _register(client, _job("batch", "batch"))
    assert fake.wait_for(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful")
    client.delete("/v1/job/web")
    client.delete("/v1/job/sys")
    assert _until(lambda: client.get("/v1/job/web").json()["Status"] == "dead")


def test_evaluations_leave_out_zero_values_and_name_the_deployment(fake: FakeNomad, client: httpx.Client) -> None:
    _evaluations_after_a_rollout_and_a_stop(fake, client)
    by_kind = {(e["JobID"], e["TriggeredBy"]): e for e in client.get("/v1/evaluations").json()}
    deployment = (fake.latest_deployment("web") or {})["ID"]
    watcher = by_kind[("web", "deployment-watcher")]
    assert "JobModifyIndex" not in watcher and watcher["DeploymentID"] == deployment
    assert watcher["QueuedAllocations"] == {"app": 0}
    # Every evaluation the service scheduler completes names the job's latest deployment.
    assert by_kind[("web", "job-deregister")]["DeploymentID"] == deployment
    assert by_kind[("web", "job-register")]["DeploymentID"] == deployment
    assert "DeploymentID" not in by_kind[("batch", "job-register")]
    # A deregistration's evaluation is typed "service" whatever the job's type.
    assert by_kind[("sys", "job-deregister")]["Type"] == "service"
    for evaluation in by_kind.values():
        assert not {k for k, v in evaluation.items() if v in ("", 0, False, None, {})}, evaluation
        single = client.get(f"/v1/evaluation/{evaluation['ID']}").json()
        assert single == evaluation


def test_the_recorded_evaluations_have_the_same_fields() -> None:
    events = _recorded()
    listed = next(e for e in events if e["request"]["path"] == "/v1/evaluations")["response"]["body"]
    recorded = {(e["JobID"], e["TriggeredBy"]): sorted(k for k in e) for e in listed}
    with FakeNomad(version="1.0.18") as fake, httpx.Client(base_url=fake.address, timeout=10) as client:
        _evaluations_after_a_rollout_and_a_stop(fake, client)
        got = {(e["JobID"], e["TriggeredBy"]): sorted(k for k in e) for e in client.get("/v1/evaluations").json()}
    prefix = {"rec-16-service": "web", "rec-16-system": "sys", "rec-16-batch": "batch"}
    expected = {(prefix[j], t): keys for (j, t), keys in recorded.items() if j in prefix}
    assert {k: got[k] for k in expected} == expected


def test_evaluation_list_order_follows_the_version() -> None:
    for version, key in (("1.0.18", lambda e: e["ID"]), ("2.0.5", lambda e: (e["CreateIndex"], e["ID"]))):
        with FakeNomad(version=version) as fake, httpx.Client(base_url=fake.address, timeout=10) as client:
            _evaluations_after_a_rollout_and_a_stop(fake, client)
            listed = client.get("/v1/evaluations").json()
            assert len(listed) >= 6
            assert listed == sorted(listed, key=key), version
            # With a prefix both list by ID.
            prefixed = client.get("/v1/evaluations", params={"prefix": listed[0]["ID"][:1]}).json()
            assert prefixed == sorted(prefixed, key=lambda e: e["ID"])
            job = client.get("/v1/job/web/evaluations").json()
            assert job == sorted(job, key=lambda e: (e["Status"], e["ID"]))
            assert {e["TriggeredBy"] for e in job} == {"job-register", "deployment-watcher", "job-deregister"}
            # The list is the request's namespace's only.
            assert client.get("/v1/evaluations", params={"namespace": "other"}).json() == []


def test_the_recorded_evaluation_lists_are_in_id_order() -> None:
    events = _recorded()
    for path in ("/v1/evaluations", "/v1/job/rec-16-service/evaluations"):
        listed = next(e for e in events if e["request"]["path"] == path)["response"]["body"]
        assert len(listed) >= 3
        assert [e["ID"] for e in listed] == sorted(e["ID"] for e in listed), path


def test_stopping_or_purging_a_parent_writes_no_evaluation_but_answers_its_index(
    fake: FakeNomad, client: httpx.Client
) -> None:
    periodic = {"Periodic": {"Enabled": True, "Spec": "0 3 * * *", "SpecType": "cron"}}
    _register(client, _job("nightly", "batch", **periodic))
    _register(client, _job("render", "batch", ParameterizedJob={"Payload": "optional"}))
    evals_before = len(client.get("/v1/evaluations").json())
    for method, path, query in (("DELETE", "/v1/job/nightly", None), ("DELETE", "/v1/job/nightly", {"purge": "true"}),
                                ("DELETE", "/v1/job/render", {"purge": "true"})):
        reply = client.request(method, path, params=query).json()
        assert reply["EvalID"] == "" and reply["EvalCreateIndex"] == reply["Index"] == reply["JobModifyIndex"] > 0
    assert len(client.get("/v1/evaluations").json()) == evals_before


def test_deregistering_a_job_that_never_existed_by_version() -> None:
    """1.0.18 answers with a new evaluation (09-stop-deregister-missing); from 1.6.0
    Job.Deregister returns before writing anything: an empty answer, index 0."""
    with FakeNomad(version="2.0.5") as fake, httpx.Client(base_url=fake.address, timeout=10) as client:
        reply = client.delete("/v1/job/never")
        assert reply.status_code == 200
        assert (reply.json()["EvalID"], reply.json()["Index"], reply.headers["X-Nomad-Index"]) == ("", 0, "0")
        assert client.get("/v1/evaluations").json() == []
    with FakeNomad(version="1.0.18") as fake, httpx.Client(base_url=fake.address, timeout=10) as client:
        assert client.delete("/v1/job/never").json()["EvalID"]


def test_the_parse_api_gives_a_system_job_no_update_block_before_1_11() -> None:
    [recorded] = [e for e in _recorded() if e["request"]["path"] == "/v1/jobs/parse"]
    body = recorded["request"]["body"]
    assert (recorded["response"]["body"]["Update"], recorded["response"]["body"]["TaskGroups"][0]["Update"]) == (None, None)
    for version, expected in (("1.0.18", (None, None)), ("2.0.5", (1, "checks"))):
        with FakeNomad(version=version) as fake, httpx.Client(base_url=fake.address, timeout=10) as client:
            parsed = client.post("/v1/jobs/parse", json=body).json()
            if version == "1.0.18":
                assert without_nulls(parsed) == without_nulls(recorded["response"]["body"])
            job_update, group_update = parsed["Update"], parsed["TaskGroups"][0]["Update"]
            got = (job_update and job_update["MaxParallel"], group_update and group_update["HealthCheck"])
            assert got == expected, version
