"""View models of a deployment: group progress, its phase in words, the rollout timeline.

Pure functions from a ``Deployment`` (and ``now``) to frozen values the
templates lay out; see ``views`` for the job rows and the overview.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.deployment import Deployment, DeploymentStatus
from reconciler.statuspage.text import format_age
from reconciler.sync.outcome import GroupProgress as GroupCounts


@dataclass(frozen=True)
class GroupProgress(GroupCounts):
    """A group's counts, as ``sync``'s rollout reports them, and its healthy canaries."""

    healthy_canaries: int = 0

    @property
    def text(self) -> str:
        if self.desired_canaries > 0 and not self.promoted:
            return (f"{self.name}: canaries {self.placed_canaries}/{self.desired_canaries} placed, "
                    f"{self.healthy_canaries} healthy"
                    + (f", {self.unhealthy} unhealthy" if self.unhealthy else ""))  # fmt: skip
        return (f"{self.name}: {self.healthy}/{self.desired} healthy"
                + (f", {self.unhealthy} unhealthy" if self.unhealthy else ""))  # fmt: skip


def group_progress(deployment: Deployment) -> list[GroupProgress]:
    """Per task group counts of a deployment, by group name."""
    return [
        GroupProgress(
            **dataclasses.asdict(GroupCounts.of(g)),
            # Before promotion, every healthy allocation of the deployment is a canary.
            healthy_canaries=min(g.healthy_allocs, len(g.placed_canaries))
            if g.desired_canaries else 0,
        )
        for g in sorted(deployment.groups, key=lambda g: g.name)
    ]


def phase_of(deployment: Deployment) -> str:
    """The rollout phase a person reads (the daemon's ``RolloutPhase`` values)."""
    if deployment.successful:
        return "successful"
    if deployment.failed:
        return "failed"
    if deployment.status is DeploymentStatus.CANCELLED:
        return "superseded" if deployment.superseded else "cancelled"
    if deployment.status is DeploymentStatus.PAUSED:
        return "paused"
    if deployment.awaiting_promotion:
        return "awaiting_promotion"
    if deployment.promoted:
        return "promoted"
    return "running"


@dataclass(frozen=True)
class DeploymentSummary:
    id: str
    short_id: str
    status: str  # Nomad's Status
    phase: str  # RolloutPhase value
    description: str
    groups: tuple[GroupProgress, ...]
    awaiting_for: str | None  # "12s" while awaiting promotion

    @property
    def tone(self) -> str:
        return {"successful": "ok", "failed": "bad", "running": "info",
                "awaiting_promotion": "warn", "promoted": "info", "paused": "warn"}.get(
            self.phase, "idle")  # fmt: skip

    @property
    def label(self) -> str:
        return self.phase.replace("_", " ")

    @property
    def progress(self) -> str:
        return "; ".join(g.text for g in self.groups)


def summarize_deployment(
    deployment: Deployment | None, *, awaiting_since: float | None, now: float
) -> DeploymentSummary | None:
    if deployment is None:
        return None
    phase = phase_of(deployment)
    awaiting = phase == "awaiting_promotion"
    return DeploymentSummary(
        id=deployment.id, short_id=deployment.id[:8], status=deployment.status_text,
        phase=phase, description=deployment.description,
        groups=tuple(group_progress(deployment)),
        awaiting_for=(
            format_age(now - awaiting_since) if awaiting and awaiting_since is not None
            else ("just now" if awaiting else None)
        ),
    )  # fmt: skip


# -- the rollout timeline -------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str  # registered, canaries_healthy, promoted, successful, failed, reverted, ...
    label: str
    status: str  # done, current, pending, failed
    at: float | None  # wall time first seen, when the page saw it happen

    @property
    def tone(self) -> str:
        return {"done": "ok", "current": "info", "failed": "bad"}.get(self.status, "idle")


def steps_reached(deployment: Deployment) -> list[str]:
    """The timeline steps a deployment has reached, in order (for recording when first seen)."""
    canary = [g for g in group_progress(deployment) if g.desired_canaries > 0]
    status = deployment.status.value
    reached = ["registered"]
    if canary and all(g.promoted or g.healthy_canaries >= g.desired_canaries for g in canary):
        reached.append("canaries_healthy")
    if canary and all(g.promoted for g in canary):
        reached.append("promoted")
    if status in ("successful", "failed", "cancelled"):
        reached.append(status)
    if deployment.failed and "rolling back" in deployment.description.lower():
        reached.append("reverted")
    return reached


def rollout_timeline(
    deployment: Deployment | None, *, version: int | None, seen: Mapping[str, float]
) -> list[Step]:
    """registered → canaries healthy → promoted → successful / failed → reverted.

    Steps that do not apply are left out (no canaries: no promotion steps; a
    revert only after a failure).  ``seen`` holds the times the page first
    saw each step; a step reached before the daemon started has no time.
    """
    if deployment is None:
        return []
    has_canaries = bool(deployment.canary_groups)
    reached = steps_reached(deployment)
    status = deployment.status.value
    registered = f"version {version} registered" if version is not None else "registered"
    plan: list[tuple[str, str]] = [("registered", registered)]
    if has_canaries:
        plan += [("canaries_healthy", "canaries healthy"), ("promoted", "promoted")]
    if status == "failed":
        plan.append(("failed", "failed"))
        if "reverted" in reached:
            plan.append(("reverted", "reverted to the previous version"))
    elif status == "cancelled":
        plan.append(("cancelled", "cancelled (a newer version replaced it)"))
    else:
        plan.append(("successful", "successful"))
    steps: list[Step] = []
    current_given = False
    for name, label in plan:
        if name in reached:
            state = "failed" if name == "failed" else "done"
        elif deployment.active and not current_given:
            state, current_given = "current", True
            if name == "promoted" and "canaries_healthy" in reached:
                label = "awaiting promotion"
            elif name == "successful":
                label = "rolling out"
        else:
            state = "pending"
        steps.append(Step(name=name, label=label, status=state, at=seen.get(name)))
    return steps
