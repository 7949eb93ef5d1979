"""Rollout tracking and the canary promotion policy.  Pure: deployments and times in, decisions out.

Responsible for following every deployment the daemon starts to its end
(running, awaiting promotion, promoted, successful, failed, cancelled or
superseded), for deciding when a canary deployment may be promoted, and for
holding a spec whose rollout failed.  It remembers, per job, only what Nomad
cannot tell it: when all canaries were first seen healthy (the soak clock)
and which digest failed.  It never calls Nomad: the loop reads deployments,
passes them in with ``now``, and performs the promotions it is told to.

Promotion policy (off by default, ARCHITECTURE.md): per job through Meta
``gitops.auto-promote`` (true/false) and ``gitops.promote-after`` (seconds or
a duration such as ``"2m"``), or globally with ``--promote-after``.  A
deployment is promoted only once every canary of every unpromoted group has
been healthy (placed and healthy >= desired, none unhealthy) for the whole
soak time; any unhealthy canary resets the clock and blocks promotion.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.config.values import parse_duration
from reconciler.errors import ConfigError
from reconciler.model import META_PREFIX, JobKey

AUTO_PROMOTE = "auto-promote"
PROMOTE_AFTER = "promote-after"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


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


def _canary_groups(deployment: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    groups = deployment.get("TaskGroups") or {}
    return [g for g in groups.values() if int(g.get("DesiredCanaries") or 0) > 0]


def classify_deployment(deployment: Mapping[str, Any]) -> RolloutPhase:
    """The phase of a deployment from Nomad's JSON (``Status`` and canary groups)."""
    status = deployment.get("Status")
    if status == "successful":
        return RolloutPhase.SUCCESSFUL
    if status == "failed":
        return RolloutPhase.FAILED
    if status == "cancelled":
        description = str(deployment.get("StatusDescription") or "")
        if "newer version" in description:
            return RolloutPhase.SUPERSEDED
        return RolloutPhase.CANCELLED
    if status == "paused":
        return RolloutPhase.PAUSED
    canaries = _canary_groups(deployment)
    if status == "running" and any(not g.get("Promoted") for g in canaries):
        return RolloutPhase.AWAITING_PROMOTION
    if canaries and all(g.get("Promoted") for g in canaries):
        return RolloutPhase.PROMOTED
    return RolloutPhase.RUNNING


def canaries_all_healthy(deployment: Mapping[str, Any]) -> bool:
    """Every unpromoted canary group has its canaries placed and healthy, none unhealthy."""
    pending = [g for g in _canary_groups(deployment) if not g.get("Promoted")]
    if not pending:
        return False
    for g in pending:
        want = int(g.get("DesiredCanaries") or 0)
        placed = len(g.get("PlacedCanaries") or ())
        if placed < want or int(g.get("HealthyAllocs") or 0) < want:
            return False
        if int(g.get("UnhealthyAllocs") or 0) > 0:
            return False
    return True


def promotion_soak(meta: Mapping[str, Any] | None, *, default: float | None) -> float | None:
    """Seconds all canaries must stay healthy before promotion; None: never promote.

    ``gitops.auto-promote = "false"`` opts a job out even when a global soak is
    set; ``gitops.promote-after`` sets the job's own soak (and opts it in);
    ``gitops.auto-promote = "true"`` alone uses the global soak, or 0.
    Raises ConfigError naming the Meta key on a value it cannot read.
    """
    meta = meta or {}
    auto_raw = meta.get(META_PREFIX + AUTO_PROMOTE)
    auto: bool | None = None
    if auto_raw is not None:
        lowered = str(auto_raw).strip().lower()
        if lowered in _TRUE:
            auto = True
        elif lowered in _FALSE:
            auto = False
        else:
            raise ConfigError(f"Meta {META_PREFIX + AUTO_PROMOTE}: expected true or false, got {auto_raw!r}")
    if auto is False:
        return None
    after_raw = meta.get(META_PREFIX + PROMOTE_AFTER)
    if after_raw is not None and str(after_raw).strip() != "":
        return parse_duration(str(after_raw).strip(), name=f"Meta {META_PREFIX + PROMOTE_AFTER}")
    if auto is True:
        return default if default is not None else 0.0
    return default


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


@dataclass
class RolloutTracker:
    """Per-job memory of the latest deployment, the soak clock and failed-digest holds."""

    _tracked: dict[JobKey, _Tracked] = field(default_factory=dict)
    _held: dict[JobKey, tuple[str, str]] = field(default_factory=dict)  # digest, reason

    def observe(
        self,
        key: JobKey,
        deployment: Mapping[str, Any],
        *,
        now: float,
        soak: float | None,
        digest: str | None = None,
    ) -> RolloutUpdate:
        """Record the job's latest deployment; decide promotion; hold a failed digest.

        ``digest`` is the desired spec's digest when this deployment rolls it
        out (the loop knows: it registered it or the live job carries it).
        """
        dep_id = str(deployment.get("ID") or "")
        phase = classify_deployment(deployment)
        description = str(deployment.get("StatusDescription") or "")
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

        if not canaries_all_healthy(deployment):
            tracked.healthy_since = None
            return RolloutUpdate(
                key, dep_id, phase, description, changed, superseded=superseded,
                reason="canaries not all healthy",
            )  # fmt: skip
        if tracked.healthy_since is None:
            tracked.healthy_since = now
        if soak is None:
            return RolloutUpdate(
                key, dep_id, phase, description, changed, superseded=superseded,
                reason="awaiting promotion: no promotion policy for this job",
            )  # fmt: skip
        remaining = tracked.healthy_since + soak - now
        if remaining > 0:
            return RolloutUpdate(
                key, dep_id, phase, description, changed, superseded=superseded,
                recheck_in=remaining, reason=f"canaries healthy, soaking {remaining:.1f}s more",
            )  # fmt: skip
        return RolloutUpdate(
            key, dep_id, phase, description, changed, promote=True, superseded=superseded,
            reason=f"canaries healthy for {now - tracked.healthy_since:.1f}s",
        )  # fmt: skip

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
