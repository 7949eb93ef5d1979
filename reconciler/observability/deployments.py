"""What the metrics show of one Nomad deployment: a pure summary of a ``Deployment``.

Responsibility: turn a deployment (``reconciler.deployment.Deployment``, as
the client parsed it) into the few numbers the per-job deployment series
carry.  Pure: no clock, no I/O; it decides nothing (awaiting promotion is the
deployment's own rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.deployment import Deployment, DeploymentStatus


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


def summarize_deployment(deployment: Deployment) -> DeploymentView:
    """Summarize a deployment for the per-job series.

    Canary health: before promotion every allocation of a canary group in the
    deployment is a canary, so its healthy/unhealthy counts count canaries;
    after promotion they also count the replaced allocations, so they are
    capped at the number of placed canaries.
    """
    desired = placed = healthy = unhealthy = 0
    for group in deployment.canary_groups:
        group_placed = len(group.placed_canaries)
        desired += group.desired_canaries
        placed += group_placed
        healthy += min(group.healthy_allocs, group_placed)
        unhealthy += min(group.unhealthy_allocs, group_placed)
    return DeploymentView(
        deployment_id=deployment.id or None,
        status=deployment.status,
        canaries_desired=desired,
        canaries_placed=placed,
        canaries_healthy=healthy,
        canaries_unhealthy=unhealthy,
        awaiting_promotion=deployment.awaiting_promotion,
    )
