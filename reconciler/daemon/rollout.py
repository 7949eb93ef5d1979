"""Rollout tracking: the daemon's memory of the deployments it follows.  Pure.

Responsible for following every deployment the daemon starts to its end
(running, awaiting promotion, promoted, successful, failed, cancelled or
superseded) and for holding a spec whose rollout failed.  It remembers, per
job, only what Nomad cannot tell it: when all canaries were first seen healthy
(the soak clock), the canary analysis' verdict, whether the daemon promoted the
deployment, and which digest failed: a ``RolloutMemory`` per job, kept in the
daemon's one record per job (``memory.JobRecord``).  It never calls Nomad.

The promotion policy itself is ``reconciler.core.promotion``: the tracker asks
it when a deployment may be promoted, and hands the same facts
(``PromotionFacts``) to the engine, whose plan decides the ``PROMOTE``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.core.promotion import (
    NO_ANALYSIS,
    NOT_JUDGED,
    Analysis,
    PromotionFacts,
    decide_promotion,
    promotion_soak,
)
from reconciler.deployment import Deployment, DeploymentStatus
from reconciler.model import JobKey

__all__ = ["FollowedDeployment", "RolloutMemory", "RolloutPhase", "RolloutStore",
           "RolloutTracker", "RolloutUpdate", "classify_deployment", "promotion_soak"]


class RolloutPhase(enum.StrEnum):
    RUNNING = "running"
    AWAITING_PROMOTION = "awaiting_promotion"
    PROMOTED = "promoted"
    PAUSED = "paused"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"

    @property
    def terminal(self) -> bool:
        return self in (
            RolloutPhase.SUCCESSFUL, RolloutPhase.FAILED,
            RolloutPhase.CANCELLED, RolloutPhase.SUPERSEDED,
        )  # fmt: skip


def classify_deployment(deployment: Deployment) -> RolloutPhase:
    """The phase of a deployment: its status, and its canary groups' promotion."""
    status = deployment.status
    if status is DeploymentStatus.SUCCESSFUL:
        return RolloutPhase.SUCCESSFUL
    if status is DeploymentStatus.FAILED:
        return RolloutPhase.FAILED
    if status is DeploymentStatus.CANCELLED:
        return RolloutPhase.SUPERSEDED if deployment.superseded else RolloutPhase.CANCELLED
    if status is DeploymentStatus.PAUSED:
        return RolloutPhase.PAUSED
    if deployment.awaiting_promotion:
        return RolloutPhase.AWAITING_PROMOTION
    if deployment.canary_groups and all(g.promoted for g in deployment.canary_groups):
        return RolloutPhase.PROMOTED
    return RolloutPhase.RUNNING


@dataclass(frozen=True)
class RolloutUpdate:
    """What one observation of a job's latest deployment means."""

    key: JobKey
    deployment_id: str
    phase: RolloutPhase
    description: str
    changed: bool  # the phase differs from the last observation (log it)
    promote: bool = False  # the loop should promote now
    recheck_in: float | None = None  # seconds until the decision may change (soak running)
    superseded: str | None = None  # an earlier tracked deployment that never finished
    reason: str = ""


@dataclass
class FollowedDeployment:
    """The job's latest deployment as the tracker last saw it."""

    deployment_id: str
    phase: RolloutPhase
    healthy_since: float | None = None
    digest: str | None = None
    analysis: Analysis = NOT_JUDGED
    promoted: bool = False  # the daemon's promote of this deployment went through

    def facts(self) -> PromotionFacts:
        return PromotionFacts(
            self.deployment_id, self.healthy_since, self.analysis, self.promoted
        )


@dataclass
class RolloutMemory:
    """One job's rollout memory: the deployment followed, and a failed digest held."""

    followed: FollowedDeployment | None = None
    failed: tuple[str, str] | None = None  # digest, reason


class RolloutStore(Protocol):
    """Where the per-job rollout memory lives (the daemon: its ``JobMemory`` records)."""

    def rollout_of(self, key: JobKey) -> RolloutMemory:
        """The job's rollout memory, created when missing."""
        ...

    def find_rollout(self, key: JobKey) -> RolloutMemory | None: ...

    def all_rollouts(self) -> Iterator[tuple[JobKey, RolloutMemory]]: ...


@dataclass
class _OwnStore:
    """A tracker's own store, when it is used alone (tests, one-shot callers)."""

    rollouts: dict[JobKey, RolloutMemory] = field(default_factory=dict)

    def rollout_of(self, key: JobKey) -> RolloutMemory:
        return self.rollouts.setdefault(key, RolloutMemory())

    def find_rollout(self, key: JobKey) -> RolloutMemory | None:
        return self.rollouts.get(key)

    def all_rollouts(self) -> Iterator[tuple[JobKey, RolloutMemory]]:
        return iter(self.rollouts.items())


class RolloutTracker:
    """The rules over each job's latest deployment, the soak clock and failed-digest holds.

    It keeps nothing itself: the memory is each job's ``RolloutMemory`` in ``store``.
    """

    def __init__(self, store: RolloutStore | None = None) -> None:
        self._store: RolloutStore = store if store is not None else _OwnStore()

    def observe(
        self,
        key: JobKey,
        deployment: Deployment,
        *,
        now: float,
        soak: float | None,
        digest: str | None = None,
    ) -> RolloutUpdate:
        """Record the job's latest deployment; say whether the soak policy lets it be
        promoted now (before its analysis: ``set_analysis``); hold a failed digest.

        ``digest`` is the desired spec's digest when this deployment rolls it
        out (the loop knows: it registered it or the live job carries it).
        ``now`` is on the engine's clock: the plan reads the soak clock too.
        """
        memory = self._store.rollout_of(key)
        dep_id = deployment.id
        phase = classify_deployment(deployment)
        description = deployment.description
        previous = memory.followed
        superseded = None
        if previous is not None and previous.deployment_id != dep_id:
            if not previous.phase.terminal:
                superseded = previous.deployment_id
            previous = None
        changed = previous is None or previous.phase is not phase
        tracked = previous or FollowedDeployment(deployment_id=dep_id, phase=phase, digest=digest)
        tracked.phase = phase
        if digest is not None:
            tracked.digest = digest
        memory.followed = tracked

        if phase is RolloutPhase.FAILED and tracked.digest is not None and (
            (memory.failed or ("",))[0] != tracked.digest  # keep an analysis' own reason
        ):
            memory.failed = (tracked.digest, description or "deployment failed")
        if phase is not RolloutPhase.AWAITING_PROMOTION:
            tracked.healthy_since = None
            return RolloutUpdate(key, dep_id, phase, description, changed, superseded=superseded)

        if not deployment.canaries_healthy:
            tracked.healthy_since = None
        elif tracked.healthy_since is None:
            tracked.healthy_since = now
        decision = decide_promotion(
            deployment, soak=soak, healthy_since=tracked.healthy_since, now=now,
            analysis=NO_ANALYSIS, promoted=tracked.promoted,
        )  # fmt: skip
        return RolloutUpdate(
            key, dep_id, phase, description, changed, promote=decision.promote,
            superseded=superseded, recheck_in=decision.recheck_in, reason=decision.reason,
        )  # fmt: skip

    def _followed(self, key: JobKey, deployment_id: str) -> FollowedDeployment | None:
        memory = self._store.find_rollout(key)
        tracked = memory.followed if memory is not None else None
        return tracked if tracked is not None and tracked.deployment_id == deployment_id else None

    def set_analysis(self, key: JobKey, deployment_id: str, analysis: Analysis) -> None:
        """The canary analysis' verdict on the job's deployment (the loop runs it)."""
        tracked = self._followed(key, deployment_id)
        if tracked is not None:
            tracked.analysis = analysis

    def mark_promoted(self, key: JobKey, deployment_id: str) -> None:
        """The engine promoted this deployment: never ask for it again."""
        tracked = self._followed(key, deployment_id)
        if tracked is not None:
            tracked.promoted = True

    def promotion_facts(self) -> dict[JobKey, PromotionFacts]:
        """What the engine's plan needs to decide promotions (``core/promotion.py``)."""
        return {key: memory.followed.facts() for key, memory in self._store.all_rollouts()
                if memory.followed is not None}  # fmt: skip

    def phase(self, key: JobKey) -> RolloutPhase | None:
        memory = self._store.find_rollout(key)
        tracked = memory.followed if memory is not None else None
        return None if tracked is None else tracked.phase

    def hold_for(self, key: JobKey, digest: str) -> str | None:
        """The hold reason when ``digest`` is the job's failed spec; a new digest releases it."""
        memory = self._store.find_rollout(key)
        held = memory.failed if memory is not None else None
        if memory is None or held is None:
            return None
        if held[0] != digest:
            memory.failed = None
            return None
        return held[1]

    def hold(self, key: JobKey, digest: str, reason: str) -> None:
        """Hold ``digest`` with ``reason`` (a canary analysis failed it) until the spec changes."""
        self._store.rollout_of(key).failed = (digest, reason)
