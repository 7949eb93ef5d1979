"""The canary promotion policy.  Pure: a deployment, the time and what the caller remembers in; a decision out.

Who may promote (ARCHITECTURE.md, "Safety rules"): nobody by default.  A job
opts in through Meta ``gitops.auto-promote`` (true/false) and
``gitops.promote-after`` (seconds or a duration such as ``"2m"``); the daemon's
``--promote-after`` opts every job in; ``sync --promote`` promotes every job's
canaries as soon as they are healthy.

When: only a deployment awaiting promotion whose canaries are healthy by the
one health rule (``Deployment.canaries_healthy``), after they have stayed
healthy for the whole soak (the caller keeps the clock: ``healthy_since``),
once the canary analysis has passed when the job runs one (its verdict is
passed in as a value: ``Analysis``), and only once per deployment (the caller
remembers the deployment it promoted).  The plan (``core/plan.py``) asks
``decide_promotion`` and plans a ``PROMOTE``; the daemon's rollout follower
asks the same function when to look again.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.config.values import parse_duration
from reconciler.deployment import Deployment
from reconciler.errors import ConfigError
from reconciler.model import META_PREFIX

AUTO_PROMOTE = "auto-promote"
PROMOTE_AFTER = "promote-after"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


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
            raise ConfigError(
                f"Meta {META_PREFIX + AUTO_PROMOTE}: expected true or false, got {auto_raw!r}"
            )
    if auto is False:
        return None
    after_raw = meta.get(META_PREFIX + PROMOTE_AFTER)
    if after_raw is not None and str(after_raw).strip() != "":
        return parse_duration(str(after_raw).strip(), name=f"Meta {META_PREFIX + PROMOTE_AFTER}")
    if auto is True:
        return default if default is not None else 0.0
    return default


def soak_or_none(meta: Mapping[str, Any] | None, *, default: float | None) -> float | None:
    """``promotion_soak``, with a Meta value it cannot read meaning "never promote"
    (the rollout follower reports the bad value against the file)."""
    try:
        return promotion_soak(meta, default=default)
    except ConfigError:
        return None


def expects_canaries(canonical: Mapping[str, Any]) -> bool:
    """Does the job (canonical API JSON) roll out through canaries in some group?"""
    return any(
        int(((g.get("Update") or canonical.get("Update") or {}).get("Canary")) or 0) > 0
        for g in canonical.get("TaskGroups") or ()
    )


class AnalysisState(enum.StrEnum):
    """The canary analysis of one deployment, as far as promotion cares."""

    NONE = "none"  # the job runs no analysis on these canaries
    PASSED = "passed"
    WAITING = "waiting"  # not judged yet, pending, inconclusive, blocked or failed


@dataclass(frozen=True)
class Analysis:
    state: AnalysisState
    reason: str = ""

    @property
    def allows(self) -> bool:
        return self.state in (AnalysisState.NONE, AnalysisState.PASSED)


NOT_JUDGED = Analysis(AnalysisState.WAITING, "canary analysis not judged yet")
NO_ANALYSIS = Analysis(AnalysisState.NONE)


@dataclass(frozen=True)
class PromotionFacts:
    """What a long-running caller remembers of a job's deployment (the daemon's memory).

    ``healthy_since``: when its canaries were first seen all healthy (on the
    plan's clock), None while they are not; ``promoted``: a promote request for
    this deployment went through already.
    """

    deployment_id: str
    healthy_since: float | None = None
    analysis: Analysis = NOT_JUDGED
    promoted: bool = False


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    recheck_in: float | None = None  # seconds until the decision may change (soak running)


def decide_promotion(
    deployment: Deployment,
    *,
    soak: float | None,
    healthy_since: float | None,
    now: float,
    analysis: Analysis = NO_ANALYSIS,
    promoted: bool = False,
) -> PromotionDecision:
    """Promote ``deployment`` now?  ``soak`` None: no promotion policy for the job."""
    if not deployment.awaiting_promotion:
        return PromotionDecision(False, "")
    if promoted:
        return PromotionDecision(False, "promotion already requested")
    if not deployment.canaries_healthy:
        return PromotionDecision(False, "canaries not all healthy")
    if soak is None:
        return PromotionDecision(False, "awaiting promotion: no promotion policy for this job")
    since = now if healthy_since is None else healthy_since
    remaining = since + soak - now
    if remaining > 0:
        return PromotionDecision(
            False, f"canaries healthy, soaking {remaining:.1f}s more", recheck_in=remaining
        )
    if not analysis.allows:
        return PromotionDecision(False, analysis.reason or "canary analysis has not passed")
    return PromotionDecision(True, f"canaries healthy for {now - since:.1f}s")
