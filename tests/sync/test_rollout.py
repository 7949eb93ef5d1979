"""Following a deployment: scripted answers, no clock but the follower's own bound."""

from __future__ import annotations

from typing import Any

from reconciler.deployment import Deployment
from reconciler.nomad.objects import parse_deployment
from reconciler.sync.rollout import expects_deployment, follow_deployment
from tests.support.jobs import make_job


class Script:
    """Answers ``read_latest_deployment`` from a list, repeating the last; records promotions."""

    def __init__(self, *deployments: dict[str, Any] | None) -> None:
        self.deployments = list(deployments)
        self.promoted: list[str] = []
        self.reads = 0

    async def read_latest_deployment(self, job_id: str, *, namespace: str) -> Deployment | None:
        self.reads += 1
        body = self.deployments.pop(0) if len(self.deployments) > 1 else self.deployments[0]
        return parse_deployment(body) if body is not None else None

    async def promote_deployment(self, deployment_id: str, *, namespace: str) -> dict[str, Any]:
        self.promoted.append(deployment_id)
        return {}


def dep(status: str, index: int = 10, **group: Any) -> dict[str, Any]:
    state = {"DesiredTotal": 2, "PlacedAllocs": 2, "HealthyAllocs": 0, "UnhealthyAllocs": 0} | group
    return {"ID": f"d-{index}", "Status": status, "JobSpecModifyIndex": index,
            "StatusDescription": status, "TaskGroups": {"app": state}}  # fmt: skip


async def follow(api: Script, *, promote: bool = False, timeout_s: float = 5.0) -> Any:
    seen: list[str] = []
    rollout = await follow_deployment(
        api, ("default", "web"), job_modify_index=10, timeout_s=timeout_s, promote=promote,  # type: ignore[arg-type]
        poll_s=0, on_progress=lambda key, r: seen.append(r.status),
    )  # fmt: skip
    return rollout, seen


async def test_waits_for_our_deployment_and_reports_progress_per_group() -> None:
    api = Script(None, dep("running", index=5), dep("running"), dep("successful", HealthyAllocs=2))
    rollout, seen = await follow(api)
    assert rollout.status == "successful" and rollout.ok
    assert seen == ["running", "successful"]  # the older deployment (index 5) is not ours
    [group] = rollout.groups
    assert (group.name, group.desired, group.placed, group.healthy) == ("app", 2, 2, 2)


async def test_failed_and_superseded_are_not_ok() -> None:
    rollout, _ = await follow(Script(dep("failed")))
    assert rollout.status == "failed" and not rollout.ok
    rollout, _ = await follow(Script(dep("running"), dep("running", index=11)))
    assert rollout.status == "superseded" and not rollout.ok


async def test_canaries_promoted_only_when_allowed_and_healthy() -> None:
    waiting = dep("running", DesiredCanaries=1, HealthyAllocs=0, Promoted=False)
    healthy = dep("running", DesiredCanaries=1, HealthyAllocs=1, Promoted=False)
    done = dep("successful", DesiredCanaries=1, HealthyAllocs=2, Promoted=True)
    api = Script(waiting, healthy, done)
    rollout, _ = await follow(api, promote=True)
    assert api.promoted == ["d-10"] and rollout.promoted and rollout.status == "successful"
    api = Script(waiting, healthy)
    rollout, _ = await follow(api, promote=False, timeout_s=0.05)
    assert api.promoted == [] and rollout.status == "timeout"


async def test_no_deployment_before_the_timeout() -> None:
    rollout, _ = await follow(Script(None), timeout_s=0.02)
    assert rollout.status == "none" and rollout.deployment_id is None


def test_which_jobs_get_deployments() -> None:
    service = make_job("web").canonical
    assert expects_deployment(service)
    batch = dict(service, Type="batch")
    assert not expects_deployment(batch)
    no_update = dict(
        service, TaskGroups=[dict(g, Update=None) for g in service["TaskGroups"]], Update=None
    )
    assert not expects_deployment(no_update)
