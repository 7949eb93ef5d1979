"""A Nomad deployment as a typed value, and the one place its state is judged.

Responsibility: what a deployment *is* (status, per-group canary counts,
promotion) and the rules every layer shares: which statuses are active and
which terminal, whether a deployment awaits promotion, and whether its
canaries are healthy.  Pure, frozen data; it knows nothing of JSON (Nomad's
field names are read in ``reconciler/nomad/objects.py``, the only parser) and
does no I/O, so the pure core may import it.

Grounded in Nomad's source: ``nomad/structs/structs.go`` at v1.0.18
(``Deployment``, ``DeploymentState``, ``Deployment.Active``,
``Deployment.RequiresPromotion``, ``Deployment.HasAutoPromote``) and
``nomad/structs/deployment.go`` at v2.0.0 (the same, plus the
``initializing`` status).  The health rule follows how Nomad itself decides
a promotion: ``autoPromoteDeployment`` in
``nomad/deploymentwatcher/deployment_watcher.go`` (v1.0.18) promotes only when
every placed canary is healthy; ``UpdateDeploymentPromotion`` in
``nomad/state/state_store.go`` (v1.0.18) refuses a promotion with fewer healthy
canaries than desired.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DeploymentStatus(enum.StrEnum):
    """Nomad's ``Deployment.Status`` values (1.0 → 2.0), plus ``unknown``.

    ``unknown`` absorbs a status a newer Nomad may add: it is neither active
    nor terminal, so it is followed until it becomes one of the known ones,
    and a server upgrade never crashes a caller nor grows a label set.
    """

    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    SUCCESSFUL = "successful"
    CANCELLED = "cancelled"
    INITIALIZING = "initializing"  # since Nomad 1.6 (not in 1.0.18): active, not started
    PENDING = "pending"
    BLOCKED = "blocked"
    UNBLOCKING = "unblocking"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: str) -> DeploymentStatus:
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


ACTIVE_STATUSES: frozenset[DeploymentStatus] = frozenset({
    DeploymentStatus.RUNNING, DeploymentStatus.PAUSED, DeploymentStatus.BLOCKED,
    DeploymentStatus.UNBLOCKING, DeploymentStatus.INITIALIZING, DeploymentStatus.PENDING,
})  # fmt: skip
"""Nomad's ``Deployment.Active()`` (v2.0.0; v1.0.18: the same without ``initializing``)."""

TERMINAL_STATUSES: tuple[DeploymentStatus, ...] = (
    DeploymentStatus.SUCCESSFUL,
    DeploymentStatus.FAILED,
    DeploymentStatus.CANCELLED,
)
"""The statuses a deployment never leaves: every known status that is not active."""

# Nomad's DeploymentStatusDescriptionNewerJob (structs.go): a newer job version
# cancelled the deployment; it did not fail.
_NEWER_VERSION = "newer version"


@dataclass(frozen=True)
class DeploymentGroup:
    """One task group of a deployment: Nomad's ``DeploymentState``."""

    name: str
    desired_total: int = 0
    placed_allocs: int = 0
    healthy_allocs: int = 0
    unhealthy_allocs: int = 0
    desired_canaries: int = 0
    placed_canaries: tuple[str, ...] = ()  # allocation IDs
    promoted: bool = False
    auto_revert: bool = False
    auto_promote: bool = False

    @property
    def has_canaries(self) -> bool:
        return self.desired_canaries > 0

    @property
    def awaiting_promotion(self) -> bool:
        """A canary group not promoted yet (``RequiresPromotion``'s per-group test)."""
        return self.has_canaries and not self.promoted

    @property
    def canaries_healthy(self) -> bool:
        """THE canary health rule: as many healthy canaries as desired, and none unhealthy.

        Before promotion every allocation of a canary group in the deployment
        is a canary, so ``HealthyAllocs``/``UnhealthyAllocs`` count canaries.
        Nomad's own auto-promotion waits until every placed canary is healthy
        (``autoPromoteDeployment``): one unhealthy canary means not healthy,
        however many others are.  (The promote endpoint alone checks less: as
        many healthy canaries as desired.)
        """
        return self.healthy_allocs >= self.desired_canaries and self.unhealthy_allocs == 0


@dataclass(frozen=True)
class Deployment:
    """A Nomad deployment, parsed once where its JSON arrives (``reconciler.nomad``)."""

    id: str
    status: DeploymentStatus
    description: str = ""
    namespace: str = "default"
    job_id: str = ""
    job_version: int | None = None
    job_modify_index: int = 0
    job_spec_modify_index: int = 0  # the JobModifyIndex of the job version it rolls out
    job_create_index: int = 0
    groups: tuple[DeploymentGroup, ...] = ()  # sorted by name
    create_index: int = 0
    modify_index: int = 0
    # Nomad's status string as sent: equal to ``status`` except for a status
    # this code does not know (``status`` is then ``unknown``); for display only.
    status_text: str = ""

    def __post_init__(self) -> None:
        if not self.status_text:
            object.__setattr__(self, "status_text", self.status.value)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def successful(self) -> bool:
        return self.status is DeploymentStatus.SUCCESSFUL

    @property
    def failed(self) -> bool:
        return self.status is DeploymentStatus.FAILED

    @property
    def superseded(self) -> bool:
        """Cancelled because a newer job version was registered (it did not fail)."""
        return self.status is DeploymentStatus.CANCELLED and _NEWER_VERSION in self.description

    @property
    def canary_groups(self) -> tuple[DeploymentGroup, ...]:
        return tuple(g for g in self.groups if g.has_canaries)

    @property
    def awaiting_promotion(self) -> bool:
        """Nomad's ``RequiresPromotion``: running, and a canary group is not promoted yet.

        True whether promotion is manual or automatic: auto-promotion waits for
        health too and can stall just the same.
        """
        return self.status is DeploymentStatus.RUNNING and any(
            g.awaiting_promotion for g in self.groups
        )

    @property
    def promoted(self) -> bool:
        """It has canaries and every canary group has been promoted."""
        canaries = self.canary_groups
        return bool(canaries) and all(g.promoted for g in canaries)

    @property
    def canaries_healthy(self) -> bool:
        """Some canary group awaits promotion and every such group's canaries are healthy.

        The one health rule (``DeploymentGroup.canaries_healthy``): what the
        plan, the one-shot follower and the daemon's promotion policy all ask.
        """
        pending = [g for g in self.groups if g.awaiting_promotion]
        return bool(pending) and all(g.canaries_healthy for g in pending)

    @property
    def auto_promote(self) -> bool:
        """Nomad's ``HasAutoPromote``: running and every canary group has ``auto_promote``."""
        return (
            self.status is DeploymentStatus.RUNNING
            and bool(self.groups)
            and all(g.auto_promote for g in self.canary_groups)
        )

    @property
    def auto_revert(self) -> bool:
        """Some group reverts the job on failure (``update { auto_revert = true }``)."""
        return any(g.auto_revert for g in self.groups)

    def group(self, name: str) -> DeploymentGroup | None:
        return next((g for g in self.groups if g.name == name), None)
