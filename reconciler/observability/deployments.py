"""What the metrics show of one Nomad deployment: a pure summary of its API JSON.

Responsibility: turn a ``Deployment`` object as Nomad returns it
(``GET /v1/deployment/:id``, ``GET /v1/job/:id/deployment``) into the few
numbers the per-job deployment series carry.  Pure: no clock, no I/O; it does
not decide anything about promotion (that is the daemon's rollout policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.observability.labels import DeploymentStatus


@dataclass(frozen=True)
class DeploymentView:
    """One deployment as the metrics see it; canary counts are summed over task groups."""

    deployment_id: str | None
    status: DeploymentStatus
    canaries_desired: int = 0
    canaries_placed: int = 0
    canaries_healthy: int = 0
    canaries_unhealthy: int = 0
    awaiting_promotion: bool = False


def summarize_deployment(deployment: Mapping[str, Any]) -> DeploymentView:
    """Summarize Nomad's deployment JSON.

    Canary health: before promotion every allocation of a canary group in the
    deployment is a canary, so ``HealthyAllocs``/``UnhealthyAllocs`` count
    canaries; after promotion they also count the replaced allocations, so
    they are capped at the number of placed canaries.  A deployment awaits
    promotion while it runs and a group with canaries is not yet promoted,
    whether promotion is manual or automatic (auto-promotion waits for health
    and can stall just the same).
    """
    status = DeploymentStatus.parse(str(deployment.get("Status") or ""))
    desired = placed = healthy = unhealthy = 0
    awaiting = False
    groups = deployment.get("TaskGroups") or {}
    for group in groups.values():
        group_desired = int(group.get("DesiredCanaries") or 0)
        if group_desired <= 0:
            continue
        group_placed = len(group.get("PlacedCanaries") or ())
        desired += group_desired
        placed += group_placed
        healthy += min(int(group.get("HealthyAllocs") or 0), group_placed)
        unhealthy += min(int(group.get("UnhealthyAllocs") or 0), group_placed)
        if not group.get("Promoted"):
            awaiting = True
    deployment_id = deployment.get("ID")
    return DeploymentView(
        deployment_id=str(deployment_id) if deployment_id else None,
        status=status,
        canaries_desired=desired,
        canaries_placed=placed,
        canaries_healthy=healthy,
        canaries_unhealthy=unhealthy,
        awaiting_promotion=awaiting and status is DeploymentStatus.RUNNING,
    )
