"""The fake's rollouts where they go wrong or pause, as Nomad 1.0.18 runs them
(scheduler/reconcile.go ``computeLimit``, nomad/deploymentwatcher, the state
store's deployment counters): a failing batch holds the rolling update, the
state between two batches is observable, promotion completes at once, and a
failed deployment writes an evaluation and keeps its counters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad, HealthModel, ManualClock
from tests.support.fake_state import advance, latest_deployment
from tests.support.jobs import raw_exec_job


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeNomad]:
    # The background worker never runs an evaluation on its own (a long schedule delay):
    # each ``tick()`` runs what is pending, so the states between evaluations can be seen.
    with FakeNomad(clock=clock, health=HealthModel(start_delay_s=0.1, success_delay_s=0.5, schedule_delay_s=3600)) as f:
        yield f


def _counts(dep: dict[str, Any]) -> tuple[int, int, int]:
    group = dep["TaskGroups"]["app"]
    return group["PlacedAllocs"], group["HealthyAllocs"], group["UnhealthyAllocs"]


def _allocs(client: httpx.Client) -> list[dict[str, Any]]:
    return list(client.get("/v1/job/web/allocations").json())


def _deploy_v0(fake: FakeNomad, clock: ManualClock, client: httpx.Client, count: int = 3) -> None:
    assert client.put("/v1/jobs", json=raw_exec_job(count=count)).status_code == 200
    advance(fake, clock, 5)
    assert latest_deployment(client)["Status"] == "successful"


def test_a_failing_batch_holds_the_rolling_update_until_the_progress_deadline(
    fake: FakeNomad, clock: ManualClock, client: httpx.Client
) -> None:
    _deploy_v0(fake, clock, client)
    fake.set_health("web", mode="unhealthy", version=1)
    assert client.put("/v1/jobs", json=raw_exec_job(args="2", count=3)).status_code == 200
    advance(fake, clock, 5)
    dep = latest_deployment(client)
    assert dep["JobVersion"] == 1 and dep["Status"] == "running"
    assert _counts(dep) == (1, 0, 1), "the next batch is not placed while this one holds an unhealthy allocation"
    live = [a for a in _allocs(client) if a["DesiredStatus"] == "run"]
    assert sorted((a["JobVersion"], a["ClientStatus"]) for a in live) == [(0, "running"), (0, "running"), (1, "failed")]
    job = client.get("/v1/job/web").json()
    assert job["Status"] == "running"
    summary = client.get("/v1/job/web/summary").json()["Summary"]["app"]
    assert (summary["Running"], summary["Failed"], summary["Complete"]) == (2, 1, 1)

    advance(fake, clock, 6)
    dep = latest_deployment(client)
    assert (dep["Status"], dep["StatusDescription"]) == ("failed", "Failed due to progress deadline")
    assert _counts(dep) == (1, 0, 1)
    # Long past the reschedule policy's delay: the failed allocation of the failed
    # deployment is not rescheduled into it, and the old version keeps running.
    advance(fake, clock, 120, step=1.0)
    allocs = _allocs(client)
    assert len(allocs) == 4
    failed = next(a for a in allocs if a["JobVersion"] == 1)
    assert client.get(f"/v1/allocation/{failed['ID']}").json()["NextAllocation"] == ""
    assert sorted((a["JobVersion"], a["ClientStatus"]) for a in allocs if a["DesiredStatus"] == "run") == [
        (0, "running"), (0, "running"), (1, "failed"),
    ]
    assert client.get("/v1/job/web").json()["Status"] == "running"
    failing = [e for e in client.get("/v1/job/web/evaluations").json()
               if e["TriggeredBy"] == "deployment-watcher" and e.get("DeploymentID") == dep["ID"]]
    assert failing, "the watcher's failure writes an evaluation for the deployment"
    assert all(not e.get("JobModifyIndex") for e in failing)


def test_between_two_batches_the_healthy_batch_is_seen_before_the_next_is_placed(
    fake: FakeNomad, clock: ManualClock, client: httpx.Client
) -> None:
    _deploy_v0(fake, clock, client, count=2)
    assert client.put("/v1/jobs", json=raw_exec_job(args="2", count=2)).status_code == 200
    fake.tick()
    for _ in range(50):
        clock.advance(0.1)
        fake.tick()
        if _counts(latest_deployment(client))[1] == 1:
            break
    dep = latest_deployment(client)
    assert _counts(dep) == (1, 1, 0)
    old = [a for a in _allocs(client) if a["JobVersion"] == 0 and a["DesiredStatus"] == "run"]
    assert len(old) == 1, "the next batch waits for the watcher's evaluation"
    pending = [e for e in client.get("/v1/job/web/evaluations").json() if e["Status"] == "pending"]
    assert [(e["TriggeredBy"], e["DeploymentID"]) for e in pending] == [("deployment-watcher", dep["ID"])]
    fake.tick()
    assert _counts(latest_deployment(client)) == (2, 1, 0)
    assert not [a for a in _allocs(client) if a["JobVersion"] == 0 and a["DesiredStatus"] == "run"]


def test_promotion_clears_the_canary_flag_and_completes_the_deployment_at_once(
    fake: FakeNomad, clock: ManualClock, client: httpx.Client
) -> None:
    _deploy_v0(fake, clock, client, count=2)
    assert client.put("/v1/jobs", json=raw_exec_job(args="2", count=2, Canary=2)).status_code == 200
    advance(fake, clock, 3)
    dep = latest_deployment(client)
    assert dep["Status"] == "running" and dep["TaskGroups"]["app"]["HealthyAllocs"] == 2
    canaries = dep["TaskGroups"]["app"]["PlacedCanaries"]
    assert all(client.get(f"/v1/allocation/{a}").json()["DeploymentStatus"]["Canary"] for a in canaries)
    assert client.post(f"/v1/deployment/promote/{dep['ID']}", json={"DeploymentID": dep["ID"], "All": True}).status_code == 200
    fake.tick()  # the promotion's evaluation; the clock does not move
    dep = latest_deployment(client)
    assert (dep["Status"], dep["StatusDescription"]) == ("successful", "Deployment completed successfully")
    assert dep["TaskGroups"]["app"]["PlacedCanaries"] == canaries
    for alloc_id in canaries:
        status = client.get(f"/v1/allocation/{alloc_id}").json()["DeploymentStatus"]
        assert status["Canary"] is False and status["Healthy"] is True
    assert client.get("/v1/job/web").json()["Stable"] is True


def test_failing_a_deployment_writes_an_evaluation(fake: FakeNomad, clock: ManualClock, client: httpx.Client) -> None:
    _deploy_v0(fake, clock, client, count=2)
    fake.set_health("web", mode="never", version=1)
    assert client.put("/v1/jobs", json=raw_exec_job(args="2", count=2)).status_code == 200
    advance(fake, clock, 1)
    dep = latest_deployment(client)
    reply = client.post(f"/v1/deployment/fail/{dep['ID']}", json={"DeploymentID": dep["ID"]}).json()
    assert reply["EvalID"] and reply["RevertedJobVersion"] is None
    evaluation = client.get(f"/v1/evaluation/{reply['EvalID']}").json()
    assert (evaluation["TriggeredBy"], evaluation["DeploymentID"], evaluation["JobID"]) == ("deployment-watcher", dep["ID"], "web")
    assert evaluation["CreateIndex"] == reply["EvalCreateIndex"]
    dep = latest_deployment(client)
    assert (dep["Status"], dep["StatusDescription"]) == ("failed", "Deployment marked as failed")
    advance(fake, clock, 3)
    live = sorted((a["JobVersion"], a["ClientStatus"]) for a in _allocs(client) if a["DesiredStatus"] == "run")
    assert live == [(0, "running"), (1, "running")], "a failed deployment replaces nothing more"


def test_a_finished_deployment_keeps_its_counters_when_its_allocations_move_on(
    fake: FakeNomad, clock: ManualClock, client: httpx.Client
) -> None:
    _deploy_v0(fake, clock, client, count=1)
    first = latest_deployment(client)
    assert _counts(first) == (1, 1, 0)
    # A count change updates the allocation in place: it joins the new deployment.
    assert client.put("/v1/jobs", json=raw_exec_job(count=2)).status_code == 200
    advance(fake, clock, 5)
    second = latest_deployment(client)
    assert second["ID"] != first["ID"] and second["Status"] == "successful"
    assert _counts(second) == (2, 2, 0)
    assert _counts(client.get(f"/v1/deployment/{first['ID']}").json()) == (1, 1, 0)


def test_an_auto_revert_stops_the_failed_canary_and_places_none_of_its_own(
    fake: FakeNomad, clock: ManualClock, client: httpx.Client
) -> None:
    """Nomad stops the unpromoted canaries of a failed deployment before planning the
    revert (scheduler/reconcile.go ``handleGroupCanaries``, v1.0.18): the old allocations
    are updated in place to the reverted version, and its deployment needs no canary."""
    strategy = {"Canary": 1, "AutoRevert": True}
    assert client.put("/v1/jobs", json=raw_exec_job(count=2, **strategy)).status_code == 200
    advance(fake, clock, 5)
    assert latest_deployment(client)["Status"] == "successful"
    assert client.put("/v1/jobs", json=raw_exec_job(args="2", count=2, **strategy)).status_code == 200
    advance(fake, clock, 3)
    dep = latest_deployment(client)
    assert (dep["JobVersion"], dep["Status"], dep["TaskGroups"]["app"]["HealthyAllocs"]) == (1, "running", 1)
    (canary,) = dep["TaskGroups"]["app"]["PlacedCanaries"]
    reply = client.post(f"/v1/deployment/fail/{dep['ID']}", json={"DeploymentID": dep["ID"]}).json()
    assert reply["RevertedJobVersion"] == 0
    advance(fake, clock, 5)
    assert client.get(f"/v1/allocation/{canary}").json()["DesiredStatus"] == "stop"
    revert = latest_deployment(client)
    assert (revert["JobVersion"], revert["Status"]) == (2, "successful")
    assert revert["TaskGroups"]["app"]["DesiredCanaries"] == 0
    live = [a for a in _allocs(client) if a["DesiredStatus"] == "run"]
    assert sorted((a["JobVersion"], a["ClientStatus"]) for a in live) == [(2, "running"), (2, "running")]


def test_failing_a_running_rolling_update_with_auto_revert_rolls_back_its_new_allocations(
    fake: FakeNomad, clock: ManualClock, client: httpx.Client
) -> None:
    """A deployment without canaries failed by hand mid-update (background analysis does
    this): Nomad's watcher reverts to the latest stable version when a group has
    auto_revert (deploymentwatcher ``FailDeployment``, v1.0.18), the revert is a new
    version, and the new version's allocations are replaced by it."""
    _deploy_v0(fake, clock, client, count=3)
    assert client.put("/v1/jobs", json=raw_exec_job(args="2", count=3, AutoRevert=True)).status_code == 200
    advance(fake, clock, 2)
    dep = latest_deployment(client)
    assert (dep["JobVersion"], dep["Status"], dep["TaskGroups"]["app"]["DesiredCanaries"]) == (1, "running", 0)
    assert dep["TaskGroups"]["app"]["HealthyAllocs"] >= 1
    new = [a["ID"] for a in _allocs(client) if a["JobVersion"] == 1]
    assert new and len(new) < 3, "mid-update: some allocations still run the old version"
    reply = client.post(f"/v1/deployment/fail/{dep['ID']}", json={"DeploymentID": dep["ID"]}).json()
    assert reply["RevertedJobVersion"] == 0
    failed = client.get(f"/v1/deployment/{dep['ID']}").json()
    assert (failed["Status"], failed["StatusDescription"]) == (
        "failed", "Deployment marked as failed - rolling back to job version 0")
    job = client.get("/v1/job/web").json()
    assert (job["Version"], job["TaskGroups"][0]["Tasks"][0]["Config"]["args"]) == (2, ["1"])
    advance(fake, clock, 10)
    revert = latest_deployment(client)
    assert (revert["JobVersion"], revert["Status"]) == (2, "successful")
    for alloc_id in new:
        assert client.get(f"/v1/allocation/{alloc_id}").json()["DesiredStatus"] == "stop"
    live = [a for a in _allocs(client) if a["DesiredStatus"] == "run"]
    assert sorted((a["JobVersion"], a["ClientStatus"]) for a in live) == [(2, "running")] * 3
