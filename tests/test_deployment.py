"""The deployment value: parsed once from Nomad's JSON, one set of statuses, one canary health rule.

The rules follow Nomad's source (structs.go ``Deployment.Active`` and
``RequiresPromotion`` at v1.0.18 and v2.0.0; deploymentwatcher's
``autoPromoteDeployment``), and every caller that decides about canaries
(the plan, the one-shot follower, the daemon's promotion policy) agrees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.plan import ActionKind, ClusterState, LiveJob, SyncPolicy, compute_plan
from reconciler.daemon.rollout import RolloutTracker
from reconciler.deployment import Deployment, DeploymentStatus
from reconciler.model import Snapshot
from reconciler.nomad.events import decode_frame
from reconciler.nomad.objects import parse_deployment
from reconciler.sync.rollout import follow_deployment
from tests.support.jobs import make_job


def canary_deployment(**group: Any) -> dict[str, Any]:
    state = {"DesiredCanaries": 1, "PlacedCanaries": ["c1"], "DesiredTotal": 2,
             "PlacedAllocs": 1, "HealthyAllocs": 1, "UnhealthyAllocs": 0, "Promoted": False}
    return {"ID": "d-7", "Status": "running", "JobSpecModifyIndex": 10,
            "StatusDescription": "Deployment is running but requires manual promotion",
            "TaskGroups": {"app": state | group}}  # fmt: skip


# One canary healthy, its replacement of an unhealthy one not: Nomad's auto-promotion
# waits for every placed canary to be healthy, so neither may the reconciler promote.
ONE_HEALTHY_ONE_UNHEALTHY = canary_deployment(
    PlacedCanaries=["c1", "c2"], PlacedAllocs=2, HealthyAllocs=1, UnhealthyAllocs=1
)


@pytest.mark.parametrize(
    ("status", "active", "terminal"),
    [
        ("running", True, False), ("paused", True, False), ("pending", True, False),
        ("blocked", True, False), ("unblocking", True, False),
        ("initializing", True, False),  # Nomad >= 1.6
        ("successful", False, True), ("failed", False, True), ("cancelled", False, True),
        ("something-newer", False, False),  # followed until it becomes a known status
    ],
)  # fmt: skip
def test_active_and_terminal_statuses_follow_nomad(status: str, active: bool, terminal: bool) -> None:
    dep = parse_deployment({"ID": "d", "Status": status})
    assert (dep.active, dep.terminal) == (active, terminal)
    assert dep.status_text == status


@pytest.mark.parametrize(
    ("group", "healthy"),
    [
        ({}, True),
        ({"HealthyAllocs": 0}, False),
        ({"PlacedCanaries": ["c1", "c2"], "HealthyAllocs": 1, "UnhealthyAllocs": 1}, False),
        ({"DesiredCanaries": 2, "PlacedCanaries": ["c1", "c2"], "HealthyAllocs": 2}, True),
        ({"DesiredCanaries": 2, "PlacedCanaries": ["c1", "c2"], "HealthyAllocs": 1,
          "UnhealthyAllocs": 1}, False),
        ({"Promoted": True}, False),  # nothing awaits promotion: nothing to call healthy
    ],
)  # fmt: skip
def test_canary_health_rule(group: dict[str, Any], healthy: bool) -> None:
    assert parse_deployment(canary_deployment(**group)).canaries_healthy is healthy


def test_awaiting_promotion_is_nomads_requires_promotion() -> None:
    assert parse_deployment(canary_deployment()).awaiting_promotion
    assert not parse_deployment(canary_deployment(Promoted=True)).awaiting_promotion
    assert not parse_deployment(canary_deployment(DesiredCanaries=0)).awaiting_promotion
    assert not parse_deployment({**canary_deployment(), "Status": "paused"}).awaiting_promotion


def test_the_plan_does_not_promote_one_healthy_and_one_unhealthy_canary() -> None:
    desired = make_job("web")
    dep = parse_deployment(ONE_HEALTHY_ONE_UNHEALTHY)
    live = LiveJob(key=desired.key, job_modify_index=10, known_digest=desired.digest,
                   deployment=dep)  # fmt: skip
    plan = compute_plan(
        Snapshot(root="jobs", jobs=(desired,)), ClusterState({desired.key: live}),
        SyncPolicy(promote=True), now=0.0,
    )  # fmt: skip
    [action] = plan.actions
    assert action.kind is ActionKind.NONE
    assert action.reason == "awaiting promotion: canaries not yet healthy"
    healthy = parse_deployment(canary_deployment())
    plan = compute_plan(
        Snapshot(root="jobs", jobs=(desired,)),
        ClusterState({desired.key: LiveJob(desired.key, 10, known_digest=desired.digest,
                                           deployment=healthy)}),
        SyncPolicy(promote=True), now=0.0,
    )  # fmt: skip
    assert plan.actions[0].kind is ActionKind.PROMOTE


class _OneDeployment:
    def __init__(self, body: dict[str, Any]) -> None:
        self.deployment = parse_deployment(body)
        self.promoted: list[str] = []

    async def read_latest_deployment(self, job_id: str, *, namespace: str) -> Deployment | None:
        return self.deployment

    async def promote_deployment(self, deployment_id: str, *, namespace: str) -> dict[str, Any]:
        self.promoted.append(deployment_id)
        return {}


async def test_the_follower_does_not_promote_it_either() -> None:
    api = _OneDeployment(ONE_HEALTHY_ONE_UNHEALTHY)
    rollout = await follow_deployment(
        api, ("default", "web"), job_modify_index=10, timeout_s=0.05, promote=True,  # type: ignore[arg-type]
        poll_s=0.01,
    )  # fmt: skip
    assert api.promoted == [] and rollout.status == "timeout"
    healthy = _OneDeployment(canary_deployment())
    await follow_deployment(
        healthy, ("default", "web"), job_modify_index=10, timeout_s=0.05, promote=True,  # type: ignore[arg-type]
        poll_s=0.01,
    )  # fmt: skip
    assert healthy.promoted == ["d-7"]


def test_the_daemons_promotion_policy_agrees() -> None:
    update = RolloutTracker().observe(
        ("default", "web"), parse_deployment(ONE_HEALTHY_ONE_UNHEALTHY), now=0.0, soak=0.0)
    assert not update.promote and update.reason == "canaries not all healthy"
    update = RolloutTracker().observe(
        ("default", "web"), parse_deployment(canary_deployment()), now=0.0, soak=0.0)
    assert update.promote


def test_recorded_deployments_parse_to_what_nomad_said(golden: Path) -> None:
    """Every deployment a real Nomad 1.0.18 returned in the recordings reads back field for field."""
    bodies = []
    for path in sorted((golden / "api").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            body = json.loads(line).get("response", {}).get("body")
            for item in body if isinstance(body, list) else [body]:
                if isinstance(item, dict) and "JobSpecModifyIndex" in item:
                    bodies.append(item)
    assert len(bodies) > 10
    for body in bodies:
        dep = parse_deployment(body)
        assert (dep.id, dep.status_text, dep.description) == (
            body["ID"], body["Status"], body["StatusDescription"])
        assert dep.status is not DeploymentStatus.UNKNOWN
        assert (dep.job_version, dep.job_spec_modify_index) == (
            body["JobVersion"], body["JobSpecModifyIndex"])
        for group in dep.groups:
            state = body["TaskGroups"][group.name]
            assert (group.desired_canaries, group.placed_canaries, group.healthy_allocs,
                    group.unhealthy_allocs, group.promoted, group.desired_total) == (
                state["DesiredCanaries"], tuple(state["PlacedCanaries"] or ()),
                state["HealthyAllocs"], state["UnhealthyAllocs"], state["Promoted"],
                state["DesiredTotal"])  # fmt: skip


def test_event_stream_deployment_frames_arrive_parsed(golden: Path) -> None:
    """A Deployment event of real Nomad 1.0.18's stream carries its parsed deployment."""
    events = [
        event
        for line in (golden / "api" / "07-event-stream.ndjson").read_bytes().splitlines()
        if (frame := decode_frame(line)) is not None
        for event in frame.events
    ]
    deployments = [e for e in events if e.topic == "Deployment"]
    assert deployments
    for event in deployments:
        assert event.deployment == parse_deployment(event.payload["Deployment"])
        assert event.deployment is not None and event.deployment.job_id == "rec-07-events"
    assert all(e.deployment is None for e in events if e.topic != "Deployment")
