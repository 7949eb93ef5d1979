"""The promotion policy (core/promotion.py) and the plan's PROMOTE from a caller's memory."""

from __future__ import annotations

import copy

import pytest

from reconciler.config.settings import load_settings
from reconciler.core.cluster_state import LiveJob
from reconciler.core.plan import ClusterState, SyncPolicy, compute_plan
from reconciler.core.policy import daemon_policy
from reconciler.core.promotion import (
    NO_ANALYSIS,
    NOT_JUDGED,
    Analysis,
    AnalysisState,
    PromotionFacts,
    decide_promotion,
)
from reconciler.model import DesiredJob, Snapshot
from reconciler.nomad.objects import parse_deployment
from tests.support.jobs import corpus_job, desired, live_from

CANARY = {
    "ID": "d-2", "Status": "running", "JobSpecModifyIndex": 42,
    "StatusDescription": "Deployment is running but requires manual promotion",
    "TaskGroups": {"app": {"DesiredCanaries": 1, "HealthyAllocs": 1, "Promoted": False}},
}  # fmt: skip
KEY = ("default", "a")


def job(**meta: str) -> DesiredJob:
    spec = copy.deepcopy(corpus_job("01-minimal-service"))
    spec["ID"] = spec["Name"] = "a"
    spec["Meta"] = dict(meta) or None
    return desired(spec, path="a.nomad")


def live(d: DesiredJob, deployment: dict | None = None, **changes: object) -> LiveJob:
    full = live_from(d, **changes)
    return LiveJob(
        key=d.key, job_modify_index=full["JobModifyIndex"], status=full["Status"],
        meta=full.get("Meta"), job=full, version=full["Version"],
        deployment=parse_deployment(deployment) if deployment is not None else None,
    )  # fmt: skip


def test_soak_then_analysis_then_once() -> None:
    dep = parse_deployment(CANARY)
    waiting = decide_promotion(dep, soak=10.0, healthy_since=100.0, now=105.0)
    assert not waiting.promote and waiting.recheck_in == pytest.approx(5.0)
    blocked = Analysis(AnalysisState.WAITING, "error_rate: 1 of 3 measurements")
    said = decide_promotion(dep, soak=10.0, healthy_since=100.0, now=111.0, analysis=blocked)
    assert not said.promote and said.reason == blocked.reason
    assert not decide_promotion(dep, soak=0.0, healthy_since=1.0, now=1.0,
                                analysis=NOT_JUDGED).promote  # never before it is judged
    passed = Analysis(AnalysisState.PASSED)
    assert decide_promotion(dep, soak=10.0, healthy_since=100.0, now=111.0, analysis=passed).promote
    assert not decide_promotion(dep, soak=10.0, healthy_since=100.0, now=111.0,
                                analysis=passed, promoted=True).promote
    assert not decide_promotion(dep, soak=None, healthy_since=0.0, now=1e9).promote


def test_the_daemons_plan_promotes_from_its_memory_of_the_deployment() -> None:
    a = job(**{"gitops.promote-after": "10s"})
    snapshot = Snapshot(root="/jobs", jobs=(a,))
    cluster = ClusterState(jobs={KEY: live(a, CANARY)})
    policy = SyncPolicy(soak_promotion=True)

    def kind(facts: PromotionFacts | None, now: float = 1000.0) -> str:
        promotions = {KEY: facts} if facts is not None else {}
        p = compute_plan(snapshot, cluster, policy, now=now, promotions=promotions)
        return p.actions[0].label

    assert kind(None) == "none"  # a rollout the caller does not follow is not promoted
    assert kind(PromotionFacts("d-2", healthy_since=995.0, analysis=NO_ANALYSIS)) == "none"
    assert kind(PromotionFacts("d-2", healthy_since=990.0, analysis=NO_ANALYSIS)) == "promote"
    assert kind(PromotionFacts("d-2", healthy_since=990.0)) == "none"  # analysis not judged
    assert kind(PromotionFacts("d-1", healthy_since=990.0, analysis=NO_ANALYSIS)) == "none"
    done = PromotionFacts("d-2", healthy_since=990.0, analysis=NO_ANALYSIS, promoted=True)
    assert kind(done) == "none"  # one promote request per deployment


def test_without_heal_only_changes_from_git_are_applied() -> None:
    a = job()
    snapshot = Snapshot(root="/jobs", jobs=(a,))
    by_hand = ClusterState(jobs={KEY: live(a, Priority=70)})  # stamped with a's digest
    p = compute_plan(snapshot, by_hand, SyncPolicy(heal=False), now=0.0)
    assert p.actions[0].label == "none" and p.actions[0].unhealed
    assert p.actions[0].drift.state.value == "modified"
    changed = SyncPolicy(heal=False, supersede_only=frozenset({KEY}))  # its file changed
    assert compute_plan(snapshot, by_hand, changed, now=0.0).actions[0].label == "update"
    assert compute_plan(snapshot, by_hand, SyncPolicy(), now=0.0).actions[0].label == "update"


def test_the_daemon_policy_is_built_from_its_settings() -> None:
    settings = load_settings({"jobs_dir": "/jobs", "promote_after": "30s", "self_heal": False}, {})
    policy = daemon_policy(settings)
    assert policy.soak_promotion and policy.promote_after == 30.0 and not policy.promote
    assert policy.heal  # the pass's input (the status page plans with this policy)
