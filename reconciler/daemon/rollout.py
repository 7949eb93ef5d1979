"""Rollout tracking: the daemon's memory of the deployments it follows.  Pure.

Responsible for following every deployment the daemon starts to its end
(running, awaiting promotion, promoted, successful, failed, cancelled or
superseded) and for holding a spec whose rollout failed.  It remembers, per
job, only what Nomad cannot tell it: when all canaries were first seen healthy
(the soak clock), the canary analysis' verdict, whether the daemon promoted the
deployment, and which digest failed.  It never calls Nomad.

The promotion policy itself is ``reconciler.core.promotion``: the tracker asks
it when a deployment may be promoted, and hands the same facts
(``PromotionFacts``) to the engine, whose plan decides the ``PROMOTE``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

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

__all__ = ["RolloutPhase", "RolloutTracker", "RolloutUpdate", "classify_deployment",
           "promotion_soak"]


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
class _Tracked:
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
class RolloutTracker:
    """Per-job memory of the latest deployment, the soak clock and failed-digest holds."""

    _tracked: dict[JobKey, _Tracked] = field(default_factory=dict)
    _held: dict[JobKey, tuple[str, str]] = field(default_factory=dict)  # digest, reason

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
        dep_id = deployment.id
        phase = classify_deployment(deployment)
        description = deployment.description
        previous = self._tracked.get(key)
        superseded = None
        if previous is not None and previous.deployment_id != dep_id:
            if not previous.phase.terminal:
                superseded = previous.deployment_id
            previous = None
        changed = previous is None or previous.phase is not phase
        tracked = previous or _Tracked(deployment_id=dep_id, phase=phase, digest=digest)
        tracked.phase = phase
        if digest is not None:
            tracked.digest = digest
        self._tracked[key] = tracked

        if phase is RolloutPhase.FAILED and tracked.digest is not None and (
            self._held.get(key, ("",))[0] != tracked.digest  # keep an analysis' own reason
        ):
            self._held[key] = (tracked.digest, description or "deployment failed")
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

    def set_analysis(self, key: JobKey, deployment_id: str, analysis: Analysis) -> None:
        """The canary analysis' verdict on the job's deployment (the loop runs it)."""
        tracked = self._tracked.get(key)
        if tracked is not None and tracked.deployment_id == deployment_id:
            tracked.analysis = analysis

    def mark_promoted(self, key: JobKey, deployment_id: str) -> None:
        """The engine promoted this deployment: never ask for it again."""
        tracked = self._tracked.get(key)
        if tracked is not None and tracked.deployment_id == deployment_id:
            tracked.promoted = True

    def promotion_facts(self) -> dict[JobKey, PromotionFacts]:
        """What the engine's plan needs to decide promotions (``core/promotion.py``)."""
        return {key: tracked.facts() for key, tracked in self._tracked.items()}

    def phase(self, key: JobKey) -> RolloutPhase | None:
        tracked = self._tracked.get(key)
        return None if tracked is None else tracked.phase

    def hold_for(self, key: JobKey, digest: str) -> str | None:
        """The hold reason when ``digest`` is the job's failed spec; a new digest releases it."""
        held = self._held.get(key)
        if held is None:
            return None
        if held[0] != digest:
            del self._held[key]
            return None
        return held[1]

    def hold(self, key: JobKey, digest: str, reason: str) -> None:
        """Hold ``digest`` with ``reason`` (a canary analysis failed it) until the spec changes."""
        self._held[key] = (digest, reason)

    def forget(self, key: JobKey) -> None:
        self._tracked.pop(key, None)
        self._held.pop(key, None)
