"""Rollout phases, the promotion policy and failed-digest holds (pure tables)."""

from __future__ import annotations

import pytest

from reconciler.daemon.rollout import (
    RolloutPhase,
    RolloutTracker,
    classify_deployment,
    promotion_soak,
)
from reconciler.deployment import Deployment
from reconciler.errors import ConfigError
from reconciler.nomad.objects import parse_deployment

KEY = ("default", "web")


def dep(
    status: str = "running",
    *,
    desired: int = 1,
    placed: int = 1,
    healthy: int = 0,
    unhealthy: int = 0,
    promoted: bool = False,
    dep_id: str = "d1",
    description: str = "",
) -> Deployment:
    return parse_deployment({
        "ID": dep_id,
        "Status": status,
        "StatusDescription": description,
        "TaskGroups": {
            "web": {
                "DesiredCanaries": desired,
                "PlacedCanaries": [f"a{i}" for i in range(placed)],
                "HealthyAllocs": healthy,
                "UnhealthyAllocs": unhealthy,
                "Promoted": promoted,
                "DesiredTotal": 3,
            }
        },
    })


@pytest.mark.parametrize(
    ("deployment", "phase"),
    [
        (dep(desired=0, placed=0), RolloutPhase.RUNNING),
        (dep(), RolloutPhase.AWAITING_PROMOTION),
        (dep(promoted=True), RolloutPhase.PROMOTED),
        (dep("successful", promoted=True), RolloutPhase.SUCCESSFUL),
        (dep("failed", description="Failed due to progress deadline - rolling back to job version 0"),
         RolloutPhase.FAILED),
        (dep("cancelled", description="Cancelled because job is stopped"), RolloutPhase.CANCELLED),
        (dep("cancelled", description="Cancelled due to newer version of job"),
         RolloutPhase.SUPERSEDED),
        (dep("paused"), RolloutPhase.PAUSED),
        (dep("pending", desired=0, placed=0), RolloutPhase.RUNNING),
    ],
)
def test_classify_deployment(deployment: Deployment, phase: RolloutPhase) -> None:
    assert classify_deployment(deployment) is phase


@pytest.mark.parametrize(
    ("deployment", "healthy"),
    [
        (dep(healthy=1), True),
        (dep(healthy=0), False),
        (dep(placed=0, healthy=0), False),
        (dep(healthy=1, unhealthy=1), False),  # never with an unhealthy canary
        (dep(desired=2, placed=2, healthy=1), False),
        (dep(desired=0, placed=0, healthy=3), False),  # no canaries: nothing to promote
    ],
)
def test_canaries_all_healthy(deployment: Deployment, healthy: bool) -> None:
    assert deployment.canaries_healthy is healthy


@pytest.mark.parametrize(
    ("meta", "default", "soak"),
    [
        (None, None, None),  # off by default
        ({}, 30.0, 30.0),  # global policy
        ({"gitops.auto-promote": "true"}, None, 0.0),
        ({"gitops.auto-promote": "true"}, 30.0, 30.0),
        ({"gitops.auto-promote": "false"}, 30.0, None),  # per-job opt-out beats global
        ({"gitops.promote-after": "2m"}, None, 120.0),
        ({"gitops.promote-after": "15"}, 30.0, 15.0),
        ({"gitops.auto-promote": "true", "gitops.promote-after": "5s"}, None, 5.0),
    ],
)
def test_promotion_soak(meta: dict[str, str] | None, default: float | None, soak: float | None) -> None:
    assert promotion_soak(meta, default=default) == soak


def test_promotion_soak_rejects_bad_meta() -> None:
    with pytest.raises(ConfigError, match=r"gitops\.auto-promote"):
        promotion_soak({"gitops.auto-promote": "maybe"}, default=None)
    with pytest.raises(ConfigError, match=r"gitops\.promote-after"):
        promotion_soak({"gitops.promote-after": "soon"}, default=None)


def test_promotes_only_after_canaries_stay_healthy_for_the_soak() -> None:
    tracker = RolloutTracker()
    u = tracker.observe(KEY, dep(healthy=0), now=0.0, soak=10.0)
    assert u.phase is RolloutPhase.AWAITING_PROMOTION and u.changed and not u.promote
    u = tracker.observe(KEY, dep(healthy=1), now=5.0, soak=10.0)  # soak clock starts
    assert not u.promote and u.recheck_in == pytest.approx(10.0)
    assert not u.changed
    u = tracker.observe(KEY, dep(healthy=1), now=14.9, soak=10.0)
    assert not u.promote and u.recheck_in == pytest.approx(0.1)
    u = tracker.observe(KEY, dep(healthy=1), now=15.0, soak=10.0)
    assert u.promote


def test_an_unhealthy_canary_resets_the_soak_and_blocks_promotion() -> None:
    tracker = RolloutTracker()
    tracker.observe(KEY, dep(healthy=1), now=0.0, soak=10.0)
    u = tracker.observe(KEY, dep(healthy=1, unhealthy=1), now=11.0, soak=10.0)
    assert not u.promote
    u = tracker.observe(KEY, dep(healthy=1), now=12.0, soak=10.0)  # clock restarted at 12
    assert not u.promote and u.recheck_in == pytest.approx(10.0)


def test_no_policy_reports_awaiting_promotion_and_never_promotes() -> None:
    tracker = RolloutTracker()
    for now in (0.0, 1000.0, 10_000.0):
        u = tracker.observe(KEY, dep(healthy=1), now=now, soak=None)
        assert u.phase is RolloutPhase.AWAITING_PROMOTION and not u.promote
        assert "awaiting promotion" in u.reason


def test_failed_rollout_holds_its_digest_until_the_spec_changes() -> None:
    tracker = RolloutTracker()
    tracker.observe(KEY, dep(healthy=0), now=0.0, soak=None, digest="bad")
    desc = "Failed due to progress deadline - rolling back to job version 0"
    u = tracker.observe(KEY, dep("failed", description=desc), now=1.0, soak=None)
    assert u.phase is RolloutPhase.FAILED and u.changed and u.description == desc
    assert tracker.hold_for(KEY, "bad") == desc
    assert tracker.hold_for(KEY, "bad") == desc  # still held: no resubmission loop
    assert tracker.hold_for(KEY, "fixed") is None  # a new commit releases the hold
    assert tracker.hold_for(KEY, "bad") is None  # released for good


def test_a_newer_deployment_supersedes_an_unfinished_one() -> None:
    tracker = RolloutTracker()
    tracker.observe(KEY, dep(dep_id="d1"), now=0.0, soak=None)
    u = tracker.observe(KEY, dep(dep_id="d2"), now=1.0, soak=None)
    assert u.superseded == "d1" and u.changed
    tracker.observe(KEY, dep("successful", dep_id="d2", promoted=True), now=2.0, soak=None)
    u = tracker.observe(KEY, dep(dep_id="d3"), now=3.0, soak=None)
    assert u.superseded is None  # d2 had finished


def test_a_hold_set_by_a_failed_analysis_keeps_its_reason_when_nomad_reports_the_failure() -> None:
    tracker = RolloutTracker()
    tracker.observe(KEY, dep(healthy=1), now=0.0, soak=None, digest="bad")
    reason = "analysis: http/error-rate = 0.5, wanted < 0.05"
    tracker.hold(KEY, "bad", reason)
    tracker.observe(KEY, dep("failed", description="Deployment marked as failed"), now=1.0, soak=None)
    assert tracker.hold_for(KEY, "bad") == reason
