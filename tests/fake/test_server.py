"""The fake over real loopback HTTP: behaviours other tests rely on that the
golden transcripts do not cover (health modes, deadlines, auto-revert,
promotion errors, event filtering, faults, ACL helpers, transports)."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad, HealthModel, ManualClock
from reconciler.testing.fake_nomad.events import Subscription
from tests.support.fake_state import advance, latest_deployment
from tests.support.jobs import raw_exec_job

S = 1_000_000_000


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeNomad]:
    with FakeNomad(clock=clock, health=HealthModel(start_delay_s=0.1, success_delay_s=0.5)) as running:
        yield running


def test_healthy_rollout_completes_and_marks_the_version_stable(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    assert client.put("/v1/jobs", json=raw_exec_job()).status_code == 200
    advance(fake, clock, 0.5)
    assert latest_deployment(client)["TaskGroups"]["app"]["HealthyAllocs"] == 0
    advance(fake, clock, 2.0)
    dep = latest_deployment(client)
    assert (dep["Status"], dep["StatusDescription"]) == ("successful", "Deployment completed successfully")
    assert client.get("/v1/job/web").json()["Stable"] is True


def test_rolling_update_respects_max_parallel(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    client.put("/v1/jobs", json=raw_exec_job(count=3))
    advance(fake, clock, 3)
    client.put("/v1/jobs", json=raw_exec_job(count=3, args="2"))
    advance(fake, clock, 0.2)
    allocs = client.get("/v1/job/web/allocations").json()
    new = [a for a in allocs if a["JobVersion"] == 1]
    assert len(new) == 1  # one replacement at a time
    advance(fake, clock, 6)
    allocs = client.get("/v1/job/web/allocations").json()
    assert sorted(a["JobVersion"] for a in allocs if a["DesiredStatus"] == "run") == [1, 1, 1]
    assert latest_deployment(client)["Status"] == "successful"


def test_unhealthy_version_fails_at_progress_deadline_and_auto_reverts(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    client.put("/v1/jobs", json=raw_exec_job(count=1, AutoRevert=True))
    advance(fake, clock, 3)
    fake.set_health("web", mode="unhealthy", version=1)
    client.put("/v1/jobs", json=raw_exec_job(count=1, args="bad", AutoRevert=True))
    advance(fake, clock, 11)
    deps = client.get("/v1/job/web/deployments").json()
    failed = next(d for d in deps if d["JobVersion"] == 1)
    assert failed["Status"] == "failed"
    assert failed["StatusDescription"] == "Failed due to progress deadline - rolling back to job version 0"
    job = client.get("/v1/job/web").json()
    assert job["Version"] == 2
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["args"] == ["1"]


def test_never_healthy_without_auto_revert_says_so(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    fake.set_health("web", mode="never")
    client.put("/v1/jobs", json=raw_exec_job(count=1))
    advance(fake, clock, 11)
    dep = latest_deployment(client)
    assert (dep["Status"], dep["StatusDescription"]) == ("failed", "Failed due to progress deadline")


def test_unhealthy_without_progress_deadline_fails_on_the_allocation(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    fake.set_health("web", mode="unhealthy")
    client.put("/v1/jobs", json=raw_exec_job(count=1, ProgressDeadline=0))
    advance(fake, clock, 1)
    assert latest_deployment(client)["StatusDescription"] == "Failed due to unhealthy allocations"


def test_manual_canary_promotion(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    client.put("/v1/jobs", json=raw_exec_job(Canary=1))
    advance(fake, clock, 3)
    client.put("/v1/jobs", json=raw_exec_job(args="2", Canary=1))
    advance(fake, clock, 0.2)
    dep = latest_deployment(client)
    assert dep["StatusDescription"] == "Deployment is running but requires manual promotion"
    early = client.post(f"/v1/deployment/promote/{dep['ID']}", json={"DeploymentID": dep["ID"], "All": True})
    assert (early.status_code, early.text) == (500, '1 error occurred:\n\t* Task group "app" has 0/1 healthy allocations\n\n')
    advance(fake, clock, 2)
    assert client.post(f"/v1/deployment/promote/{dep['ID']}", json={"DeploymentID": dep["ID"], "All": True}).status_code == 200
    advance(fake, clock, 5)
    assert latest_deployment(client)["Status"] == "successful"
    again = client.post(f"/v1/deployment/promote/{dep['ID']}", json={"DeploymentID": dep["ID"], "All": True})
    assert (again.status_code, again.text) == (500, "can't promote terminal deployment")


def test_auto_promote(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    client.put("/v1/jobs", json=raw_exec_job(Canary=1, AutoPromote=True))
    advance(fake, clock, 3)
    client.put("/v1/jobs", json=raw_exec_job(args="2", Canary=1, AutoPromote=True))
    advance(fake, clock, 0.2)
    assert latest_deployment(client)["StatusDescription"] == "Deployment is running pending automatic promotion"
    advance(fake, clock, 6)
    dep = latest_deployment(client)
    assert dep["TaskGroups"]["app"]["Promoted"] is True and dep["Status"] == "successful"


def test_newer_registration_cancels_the_running_deployment(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    client.put("/v1/jobs", json=raw_exec_job())
    advance(fake, clock, 0.3)
    client.put("/v1/jobs", json=raw_exec_job(args="2"))
    advance(fake, clock, 0.3)
    first = next(d for d in client.get("/v1/job/web/deployments").json() if d["JobVersion"] == 0)
    assert (first["Status"], first["StatusDescription"]) == ("cancelled", "Cancelled due to newer version of job")


def test_stop_cancels_the_deployment(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    client.put("/v1/jobs", json=raw_exec_job())
    advance(fake, clock, 0.3)
    client.delete("/v1/job/web")
    advance(fake, clock, 0.5)
    assert latest_deployment(client)["StatusDescription"] == "Cancelled because job is stopped"
    assert client.get("/v1/job/web").json()["Status"] == "dead"


def test_scale_helper_and_out_of_band_run(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    fake.run_job_out_of_band(raw_exec_job()["Job"])
    advance(fake, clock, 3)
    submitted = client.get("/v1/job/web").json()["SubmitTime"]
    fake.scale("web", "app", 5)
    fake.tick()  # the scale's evaluation runs on the next tick
    scaled = client.get("/v1/job/web").json()
    assert scaled["TaskGroups"][0]["Count"] == 5
    # A new version, but Nomad sets SubmitTime on registration only (13-scale-drift.jsonl).
    assert (scaled["Version"], scaled["SubmitTime"]) == (1, submitted)
    plan = client.post("/v1/job/web/plan", json={**raw_exec_job(), "Diff": True}).json()
    assert plan["Annotations"]["DesiredTGUpdates"]["app"]["Stop"] == 3


def test_blocking_query_is_released_by_a_write(fake: FakeNomad, client: httpx.Client) -> None:
    index = int(client.get("/v1/jobs").headers["X-Nomad-Index"])
    with httpx.Client(base_url=fake.address, timeout=30) as other:
        import threading

        result: dict[str, httpx.Response] = {}
        waiter = threading.Thread(target=lambda: result.update(r=other.get("/v1/jobs", params={"index": index, "wait": "20s"})))
        waiter.start()
        client.put("/v1/jobs", json=raw_exec_job())
        waiter.join(timeout=15)
        assert not waiter.is_alive()
    assert int(result["r"].headers["X-Nomad-Index"]) > index
    assert [j["ID"] for j in result["r"].json()] == ["web"]


@pytest.mark.parametrize(("params", "text"), [({"index": "x"}, "Invalid index"), ({"index": "1", "wait": "5"}, "Invalid wait time")])
def test_blocking_parameter_errors(client: httpx.Client, params: dict[str, str], text: str) -> None:
    resp = client.get("/v1/jobs", params=params)
    assert (resp.status_code, resp.text, resp.headers["content-type"]) == (400, text, "text/plain; charset=utf-8")


def test_event_stream_filters_by_topic_key(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    lines: list[dict[str, Any]] = []
    with client.stream("GET", "/v1/event/stream", params={"topic": "Job:other"}) as resp:
        assert resp.headers["content-type"] == "application/json"
        it = resp.iter_lines()
        assert next(it) == "{}"
        client.put("/v1/jobs", json=raw_exec_job("web"))
        client.put("/v1/jobs", json=raw_exec_job("other"))
        for line in it:
            frame = json.loads(line)
            if frame:
                lines.append(frame)
                break
    events = [e for f in lines for e in f["Events"]]
    assert events and {(e["Topic"], e["Key"]) for e in events} == {("Job", "other")}


def test_agent_self_reports_the_configured_version() -> None:
    with FakeNomad(version="1.6.2") as fake:
        body = httpx.get(f"{fake.address}/v1/agent/self").json()
    assert body["config"]["Version"]["Version"] == "1.6.2"


def test_meta_in_job_list_only_from_1_4_3() -> None:
    for version, expected in (("1.0.18", False), ("1.4.3", True)):
        with FakeNomad(version=version) as fake:
            fake.run_job_out_of_band({**raw_exec_job()["Job"], "Meta": {"gitops.source": "web.nomad"}})
            stub = httpx.get(f"{fake.address}/v1/jobs", params={"meta": "true"}).json()[0]
        assert ("Meta" in stub) is expected


def test_acl_helpers() -> None:
    with FakeNomad(acl=True) as fake:
        fake.run_job_out_of_band(raw_exec_job()["Job"])
        management = fake.bootstrap_acl()
        reader = fake.create_token({"default": ["read-job"]})
        url = fake.address
        assert httpx.get(f"{url}/v1/jobs").text == "Permission denied"
        assert httpx.get(f"{url}/v1/jobs", headers={"X-Nomad-Token": management}).status_code == 200
        assert httpx.get(f"{url}/v1/job/web", headers={"X-Nomad-Token": reader}).status_code == 200
        denied = httpx.put(f"{url}/v1/jobs", json=raw_exec_job(), headers={"X-Nomad-Token": reader})
        assert (denied.status_code, denied.text) == (403, "Permission denied")
        unknown = httpx.get(f"{url}/v1/jobs", headers={"X-Nomad-Token": "2d4c8a5e-4f4e-4c6b-9d7a-111111111111"})
        assert (unknown.status_code, unknown.text) == (403, "ACL token not found")


def test_faults_fail_drop_and_leader() -> None:
    with FakeNomad() as fake, httpx.Client(base_url=fake.address) as c:
        fake.faults.fail_next(2, status=429, path_prefix="/v1/jobs")
        assert [c.get("/v1/jobs").status_code for _ in range(3)] == [429, 429, 200]
        assert c.get("/v1/agent/self").status_code == 200
        fake.faults.drop_connections(1)
        with pytest.raises(httpx.TransportError):
            c.get("/v1/jobs")
        fake.faults.lose_leader()
        lost = c.get("/v1/jobs")
        assert (lost.status_code, lost.text) == (500, "No cluster leader")
        fake.faults.clear()
        assert c.get("/v1/jobs").status_code == 200
        statuses = [entry[3] for entry in fake.request_log]
    assert statuses == [429, 429, 200, 200, -1, 500, 200]


def test_stalled_event_stream_sends_nothing_until_cleared() -> None:
    with FakeNomad(heartbeat_s=0.05) as fake, httpx.Client(base_url=fake.address) as c:
        fake.faults.stall_event_stream()
        with c.stream("GET", "/v1/event/stream", params={"topic": "Job"}, timeout=httpx.Timeout(5, read=0.5)) as resp:
            lines = resp.iter_lines()
            assert next(lines) == "{}"  # the subscription greeting is still sent
            with pytest.raises(httpx.ReadTimeout):
                next(lines)


def test_unix_socket(tmp_path: Any) -> None:
    path = str(tmp_path / "nomad.sock")
    with FakeNomad(unix_socket=path) as fake:
        assert fake.address == f"unix://{path}"
        transport = httpx.HTTPTransport(uds=path)
        with httpx.Client(transport=transport, base_url="http://nomad") as c:
            assert c.get("/v1/agent/self").json()["config"]["Version"]["Version"] == "1.0.18"


def test_tls() -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with FakeNomad(ssl_context=server_ctx) as fake:
        assert fake.address.startswith("https://127.0.0.1:")
        assert httpx.get(f"{fake.address}/v1/status/leader", verify=client_ctx).status_code == 200


def test_stop_leaves_no_listener() -> None:
    fake = FakeNomad().start()
    port = int(fake.address.rsplit(":", 1)[1])
    fake.stop()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_bearer_token_is_honoured_only_from_1_3_2() -> None:
    for version, status in (("1.0.18", 403), ("1.3.2", 200)):
        with FakeNomad(acl=True, version=version) as fake:
            secret = fake.bootstrap_acl()
            resp = httpx.get(f"{fake.address}/v1/jobs", headers={"Authorization": f"Bearer {secret}"})
        assert resp.status_code == status, version


def test_submission_is_stored_per_version_from_1_6() -> None:
    submission = {"Source": 'job "web" {}', "Format": "hcl2", "VariableFlags": {"n": "1"}, "Variables": ""}
    with FakeNomad(version="1.6.0") as fake, httpx.Client(base_url=fake.address) as c:
        c.put("/v1/jobs", json={**raw_exec_job(), "Submission": submission})
        c.put("/v1/jobs", json={**raw_exec_job(), "Submission": {**submission, "Source": "changed"}})  # same spec
        stored = c.get("/v1/job/web/submission", params={"version": 0}).json()
        assert (stored["Source"], stored["Format"], stored["Version"]) == ('job "web" {}', "hcl2", 0)
        missing = c.get("/v1/job/web/submission", params={"version": 1})
        assert (missing.status_code, missing.text) == (404, "job source not found")
    with FakeNomad() as old, httpx.Client(base_url=old.address) as c:
        c.put("/v1/jobs", json={**raw_exec_job(), "Submission": submission})
        assert c.get("/v1/job/web/submission", params={"version": 0}).status_code == 404


def test_failed_allocation_is_rescheduled_after_the_policy_delay(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    fake.set_health("web", mode="unhealthy")
    body = raw_exec_job(count=1)
    body["Job"]["TaskGroups"][0]["ReschedulePolicy"] = {"Delay": 5 * S, "DelayFunction": "constant", "Unlimited": True}
    client.put("/v1/jobs", json=body)
    advance(fake, clock, 1)
    (failed,) = client.get("/v1/job/web/allocations").json()
    assert failed["ClientStatus"] == "failed" and failed["DesiredTransition"]["Reschedule"] is True
    assert client.get(f"/v1/evaluation/{failed['FollowupEvalID']}").json()["TriggeredBy"] == "alloc-failure"
    advance(fake, clock, 3)
    assert len(client.get("/v1/job/web/allocations").json()) == 1  # still inside the delay
    advance(fake, clock, 2)
    allocs = client.get("/v1/job/web/allocations").json()
    replacement = next(a for a in allocs if a["ID"] != failed["ID"])
    assert replacement["Name"] == failed["Name"]
    assert replacement["RescheduleTracker"]["Events"][0]["PrevAllocID"] == failed["ID"]


def test_wrong_method_is_405(client: httpx.Client) -> None:
    for method, path in (("DELETE", "/v1/jobs"), ("PUT", "/v1/job/web/versions"), ("GET", "/v1/job/web/plan")):
        resp = client.request(method, path)
        assert (resp.status_code, resp.text) == (405, "Invalid method"), (method, path)


def test_purge_emits_a_job_event_only_from_1_7_5() -> None:
    for version, expected in (("1.0.18", []), ("1.7.5", [None]), ("1.11.3", [True])):
        with FakeNomad(version=version) as fake, httpx.Client(base_url=fake.address) as c:
            fake.run_job_out_of_band(raw_exec_job()["Job"])
            index = int(c.get("/v1/jobs").headers["X-Nomad-Index"])
            c.delete("/v1/job/web", params={"purge": "true"})
            sub = fake.broker.subscribe(Subscription({"Job": {"*"}}, "default", start_index=index + 1))
            frames = fake.broker.next_frames(sub, timeout=0)
        flags = [e["Payload"].get("Deleted") for f in frames for e in f.events if e["Type"] == "JobDeregistered"]
        assert flags == expected, version


def test_stop_ends_open_streams_and_blocking_queries() -> None:
    import threading

    fake = FakeNomad().start()
    errors: list[BaseException] = []

    def stream() -> None:
        try:
            with httpx.stream("GET", f"{fake.address}/v1/event/stream", params={"topic": "Job"}, timeout=30) as resp:
                for _ in resp.iter_lines():
                    pass
        except httpx.HTTPError as exc:  # the server going away mid-stream is expected
            errors.append(exc)

    def block() -> None:
        try:
            httpx.get(f"{fake.address}/v1/jobs", params={"index": 1, "wait": "60s"}, timeout=30)
        except httpx.HTTPError as exc:
            errors.append(exc)

    clients = [threading.Thread(target=stream), threading.Thread(target=block)]
    for thread in clients:
        thread.start()
    assert fake.wait_for(lambda: len(fake._long_requests) == 2, timeout=5)
    fake.stop()
    for thread in clients:
        thread.join(timeout=10)
        assert not thread.is_alive()
    assert not any(t.is_alive() for t in fake._long_requests)


def test_register_and_plan_carry_validation_warnings(client: httpx.Client) -> None:
    body = raw_exec_job(count=1, MaxParallel=3)
    warned = client.put("/v1/jobs", json=body).json()["Warnings"]
    assert warned.startswith("1 warning(s):") and "max parallel count is greater than task group count" in warned
    assert client.post("/v1/job/web/plan", json={**body, "Diff": True}).json()["Warnings"] == warned
    assert client.put("/v1/jobs", json=raw_exec_job(count=3)).json()["Warnings"] == ""


def test_periodic_parent_gets_no_evaluation_or_allocations(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    body = raw_exec_job(count=1)
    body["Job"].update(Type="batch", Periodic={"Enabled": True, "Spec": "*/5 * * * *", "SpecType": "cron"})
    del body["Job"]["Update"]
    reply = client.put("/v1/jobs", json=body).json()
    assert (reply["EvalID"], reply["EvalCreateIndex"]) == ("", 0)
    advance(fake, clock, 1)
    assert client.get("/v1/job/web/allocations").json() == []
    assert client.get("/v1/job/web").json()["Status"] == "running"


def test_paused_deployment_holds_the_rollout_until_resumed(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    client.put("/v1/jobs", json=raw_exec_job(count=2))
    advance(fake, clock, 3)
    client.put("/v1/jobs", json=raw_exec_job(count=2, args="2"))
    advance(fake, clock, 0.2)
    dep = latest_deployment(client)
    paused = client.post(f"/v1/deployment/pause/{dep['ID']}", json={"DeploymentID": dep["ID"], "Pause": True})
    assert paused.status_code == 200
    assert (latest_deployment(client)["Status"], latest_deployment(client)["StatusDescription"]) == ("paused", "Deployment is paused")
    advance(fake, clock, 15)  # past min_healthy_time and the progress deadline: nothing moves, nothing fails
    allocs = client.get("/v1/job/web/allocations").json()
    assert sorted(a["JobVersion"] for a in allocs if a["DesiredStatus"] == "run") == [0, 1]
    assert latest_deployment(client)["Status"] == "paused"
    client.post(f"/v1/deployment/pause/{dep['ID']}", json={"DeploymentID": dep["ID"], "Pause": False})
    advance(fake, clock, 0.2)
    assert latest_deployment(client)["StatusDescription"] == "Deployment is running"
    advance(fake, clock, 5)
    assert latest_deployment(client)["Status"] == "successful"
    done = client.post(f"/v1/deployment/pause/{dep['ID']}", json={"DeploymentID": dep["ID"], "Pause": True})
    assert (done.status_code, done.text) == (500, "can't pause terminal deployment")


def test_revert_and_stable(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    client.put("/v1/jobs", json=raw_exec_job())
    client.put("/v1/jobs", json=raw_exec_job(args="2"))
    advance(fake, clock, 0.2)
    current = client.post("/v1/job/web/revert", json={"JobID": "web", "JobVersion": 1})
    assert (current.status_code, current.text) == (500, "can't revert to current version")
    stale = client.post("/v1/job/web/revert", json={"JobID": "web", "JobVersion": 0, "EnforcePriorVersion": 0})
    assert (stale.status_code, stale.text) == (500, "Current job has version 1; enforcing version 0")
    assert client.post("/v1/job/web/revert", json={"JobID": "web", "JobVersion": 0}).status_code == 200
    job = client.get("/v1/job/web").json()
    assert (job["Version"], job["TaskGroups"][0]["Tasks"][0]["Config"]["args"]) == (2, ["1"])
    assert client.post("/v1/job/web/stable", json={"JobID": "web", "JobVersion": 1, "Stable": True}).status_code == 200
    versions = {v["Version"]: v["Stable"] for v in client.get("/v1/job/web/versions").json()["Versions"]}
    assert versions[1] is True
    missing = client.post("/v1/job/web/revert", json={"JobID": "web", "JobVersion": 9})
    assert missing.text == 'job "web" in namespace "default" at version 9 not found'


def test_allocation_by_id_carries_its_job(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    client.put("/v1/jobs", json=raw_exec_job(count=1))
    advance(fake, clock, 0.5)
    (stub,) = client.get("/v1/job/web/allocations").json()
    alloc = client.get(f"/v1/allocation/{stub['ID']}").json()
    assert alloc["Job"]["ID"] == "web" and alloc["ClientStatus"] == "running"
    assert alloc["AllocatedResources"]["Shared"]["DiskMB"] == 300
    missing = client.get("/v1/allocation/00000000-0000-0000-0000-000000000000")
    assert (missing.status_code, missing.text) == (404, "alloc not found")


def test_batch_work_completes_and_is_not_placed_again(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    fake.set_health("report", mode="complete", after_s=2)
    body = raw_exec_job("report", count=2)
    body["Job"]["Type"] = "batch"
    del body["Job"]["Update"]
    client.put("/v1/jobs", json=body)
    advance(fake, clock, 1)
    assert client.get("/v1/job/report").json()["Status"] == "running"
    advance(fake, clock, 2)
    allocs = client.get("/v1/job/report/allocations").json()
    assert [a["ClientStatus"] for a in allocs] == ["complete", "complete"]
    assert client.get("/v1/job/report").json()["Status"] == "dead"
    client.put("/v1/jobs", json=body)  # same spec: a new evaluation, nothing to place
    advance(fake, clock, 1)
    assert len(client.get("/v1/job/report/allocations").json()) == 2
