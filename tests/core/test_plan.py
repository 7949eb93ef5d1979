"""The planner's decisions, as tables over small snapshots and cluster states."""

from __future__ import annotations

import copy

import pytest

from reconciler.core.diff import DriftState
from reconciler.core.plan import (
    ActionKind,
    ClusterState,
    HoldReason,
    LiveJob,
    Plan,
    SyncPolicy,
    compute_plan,
)
from reconciler.model import DesiredJob, Diagnostic, Snapshot
from reconciler.nomad.objects import parse_deployment
from tests.support.jobs import corpus_job, desired, live_from


def job(job_id: str, *, wave: int | None = None, count: int = 1, **meta: str) -> DesiredJob:
    spec = copy.deepcopy(corpus_job("01-minimal-service"))
    spec["ID"] = spec["Name"] = job_id
    spec["TaskGroups"][0]["Count"] = count
    m = dict(meta)
    if wave is not None:
        m["gitops.wave"] = str(wave)
    spec["Meta"] = m or None
    return desired(spec, path=f"{job_id}.nomad")


def live(
    d: DesiredJob,
    *,
    owned: bool = True,
    deployment: dict | None = None,
    failed_digest: str | None = None,
    **changes: object,
) -> LiveJob:
    full = live_from(d, owned=owned, **changes)
    return LiveJob(
        key=d.key, job_modify_index=full["JobModifyIndex"], stop=bool(full.get("Stop")),
        status=full["Status"], meta=full.get("Meta"), job=full, version=full["Version"],
        deployment=parse_deployment(deployment) if deployment is not None else None,
        failed_digest=failed_digest,
    )  # fmt: skip


def plan(
    jobs: list[DesiredJob],
    cluster: list[LiveJob],
    *,
    errors: tuple[Diagnostic, ...] = (),
    **policy: object,
) -> Plan:
    snapshot = Snapshot(root="/jobs", jobs=tuple(jobs), errors=errors)
    state = ClusterState(jobs={lj.key: lj for lj in cluster})
    return compute_plan(snapshot, state, SyncPolicy(**policy), now=1000.0)  # type: ignore[arg-type]


def kinds(p: Plan) -> dict[str, str]:
    return {a.key[1]: a.label for a in p.actions}


def test_create_update_and_noop() -> None:
    a, b, c = job("a"), job("b"), job("c")
    b_live = live(b, Priority=70)
    p = plan([a, b, c], [b_live, live(c)])
    assert kinds(p) == {"a": "create", "b": "update", "c": "none"}
    [create] = [x for x in p.actions if x.key[1] == "a"]
    [update] = [x for x in p.actions if x.key[1] == "b"]
    assert create.enforce_index == 0
    assert update.enforce_index == b_live.job_modify_index
    assert p.has_changes and not p.has_errors


def test_in_sync_plan_has_no_changes() -> None:
    a = job("a")
    p = plan([a], [live(a)])
    assert not p.has_changes and kinds(p) == {"a": "none"}


def test_known_digest_without_read_is_in_sync_and_unknown_is_an_error() -> None:
    a = job("a")
    trusted = LiveJob(
        key=a.key, job_modify_index=5, meta={"gitops.source": "a.nomad"}, known_digest=a.digest
    )
    assert plan([a], [trusted]).actions[0].drift.state is DriftState.IN_SYNC
    stale = LiveJob(key=a.key, job_modify_index=5, known_digest="other")
    assert plan([a], [stale]).actions[0].drift.state is DriftState.ERROR


def test_prune_is_off_by_default_and_only_touches_owned_jobs() -> None:
    a, gone, foreign = job("a"), job("gone"), job("foreign")
    cluster = [live(a), live(gone), live(foreign, owned=False)]
    p = plan([a], cluster)
    assert kinds(p) == {"a": "none", "gone": "none"}
    assert p.unmanaged == 1 and p.unmanaged_keys == (foreign.key,)  # named: metrics count them
    [orphan] = [x for x in p.actions if x.key[1] == "gone"]
    assert orphan.drift.state is DriftState.ORPHANED and "--prune" in orphan.reason
    p = plan([a], cluster, prune=True)
    assert kinds(p) == {"a": "none", "gone": "prune"}
    p = plan([a], cluster, prune=True, purge=True)
    assert kinds(p)["gone"] == "purge"


def test_prune_refused_when_a_file_failed_to_load() -> None:
    a, gone = job("a"), job("gone")
    err = Diagnostic(path="x.nomad", message="syntax", line=3)
    p = plan([a], [live(a), live(gone)], errors=(err,), prune=True)
    assert kinds(p)["gone"] == "hold"
    assert "failed to load" in p.refusals[0]
    assert p.has_errors


def test_job_of_a_broken_file_is_an_error_not_an_orphan() -> None:
    a, broken = job("a"), job("broken")
    err = Diagnostic(path="broken.nomad", message="syntax", line=3)
    p = plan([a], [live(a), live(broken)], errors=(err,), prune=True)
    [action] = [x for x in p.actions if x.key[1] == "broken"]
    assert action.kind is ActionKind.NONE and action.drift.state is DriftState.ERROR


def test_empty_checkout_never_prunes() -> None:
    a = job("a")
    p = plan([], [live(a)], prune=True, max_prune=1.0)
    assert kinds(p) == {"a": "hold"}
    assert "declares no job" in p.refusals[0]


@pytest.mark.parametrize(("max_prune", "expected"), [(0.5, "hold"), (0.75, "prune")])
def test_max_prune_fraction(max_prune: float, expected: str) -> None:
    keep = job("keep")
    gone = [job(f"g{i}") for i in range(3)]
    p = plan([keep], [live(keep), *(live(g) for g in gone)], prune=True, max_prune=max_prune)
    assert {kinds(p)[g.job_id] for g in gone} == {expected}
    assert bool(p.refusals) == (expected == "hold")


def test_already_stopped_orphan_is_left_alone_unless_purge() -> None:
    a, gone = job("a"), job("gone")
    stopped = live(gone, Stop=True)
    assert kinds(plan([a], [live(a), stopped], prune=True))["gone"] == "none"
    assert kinds(plan([a], [live(a), stopped], prune=True, purge=True))["gone"] == "purge"


RUNNING = {
    "ID": "d-1234567890",
    "Status": "running",
    "StatusDescription": "Deployment is running",
    "TaskGroups": {"app": {"DesiredCanaries": 0, "HealthyAllocs": 0}},
}


def test_active_deployment_holds_unless_superseding_allowed() -> None:
    a = job("a", count=2)
    busy = live(a, deployment=RUNNING, Priority=70)
    held = plan([a], [busy])
    assert kinds(held) == {"a": "hold"}
    assert "d-123456" in held.actions[0].reason and held.actions[0].drift.state is DriftState.HELD
    assert kinds(plan([a], [busy], supersede_active=True)) == {"a": "update"}


def test_failed_digest_is_held_until_the_file_changes() -> None:
    a = job("a")
    failed = {
        "ID": "d-1",
        "Status": "failed",
        "StatusDescription": "Failed due to progress deadline - rolling back to job version 0",
    }
    reverted = live(a, deployment=failed, failed_digest=a.digest, Priority=70)
    p = plan([a], [reverted])
    assert kinds(p) == {"a": "hold"} and "rolling back" in p.actions[0].reason
    assert kinds(plan([a], [reverted], retry_failed=True)) == {"a": "update"}
    fixed = job("a", count=3)  # a new commit: new digest
    assert kinds(plan([fixed], [reverted])) == {"a": "update"}


CANARY = {
    "ID": "d-2",
    "Status": "running",
    "StatusDescription": "Deployment is running but requires manual promotion",
    "TaskGroups": {"app": {"DesiredCanaries": 1, "HealthyAllocs": 1, "Promoted": False}},
}


def test_promotion_only_under_policy_and_with_healthy_canaries() -> None:
    a = job("a")
    assert kinds(plan([a], [live(a, deployment=CANARY)])) == {"a": "none"}
    p = plan([a], [live(a, deployment=CANARY)], promote=True)
    assert kinds(p) == {"a": "promote"} and p.actions[0].deployment_id == "d-2"
    opted = job("a", **{"gitops.auto-promote": "true"})
    assert kinds(plan([opted], [live(opted, deployment=CANARY)])) == {"a": "promote"}
    unhealthy = copy.deepcopy(CANARY)
    unhealthy["TaskGroups"]["app"]["HealthyAllocs"] = 0
    p = plan([a], [live(a, deployment=unhealthy)], promote=True)
    assert kinds(p) == {"a": "none"} and "not yet healthy" in p.actions[0].reason


def test_waves_order_registrations() -> None:
    db, api, web = job("db", wave=-1), job("api"), job("web", wave=2)
    p = plan([web, api, db], [])
    assert [(w, [a.key[1] for a in acts]) for w, acts in p.waves()] == [
        (-1, ["db"]),
        (0, ["api"]),
        (2, ["web"]),
    ]


def test_bad_wave_is_an_error_for_that_job_only() -> None:
    bad, ok = job("bad", **{"gitops.wave": "soon"}), job("ok")
    p = plan([bad, ok], [])
    assert kinds(p) == {"bad": "none", "ok": "create"}
    assert p.errors[0].path == "bad.nomad" and "integer" in p.errors[0].message


def test_deployment_cap_holds_the_excess_without_wait() -> None:
    jobs = [job(n) for n in ("a", "b", "c")]
    busy = job("busy")
    cluster = [live(busy, deployment=RUNNING)]
    p = plan([*jobs, busy], cluster, max_concurrent_deployments=2)
    assert kinds(p) == {"a": "create", "b": "hold", "c": "hold", "busy": "none"}
    p = plan([*jobs, busy], cluster, max_concurrent_deployments=2, wait=True)
    assert kinds(p)["c"] == "create"


def test_namespace_filter() -> None:
    a = job("a")
    other = desired(dict(corpus_job("01-minimal-service"), ID="o", Name="o", Namespace="prod"))
    p = plan([a, other], [], namespaces=frozenset({"prod"}))
    assert [x.key for x in p.actions] == [("prod", "o")]


def test_targeted_plan_keeps_the_guards_of_the_whole_snapshot() -> None:
    jobs = [job(f"j{i}") for i in range(4)]
    gone = job("gone")
    cluster = [live(gone)]  # a targeted read: only the job being looked at
    snapshot = Snapshot(root="/jobs", jobs=tuple(jobs))
    state = ClusterState(jobs={lj.key: lj for lj in cluster})
    policy = SyncPolicy(prune=True)
    p = compute_plan(snapshot, state, policy, now=0, only={gone.key})
    assert kinds(p) == {"gone": "prune"}  # 1 of 5 managed jobs, not 1 of 1
    p = compute_plan(snapshot, state, policy, now=0, only={jobs[0].key})
    assert kinds(p) == {"j0": "create"}
    empty = compute_plan(Snapshot(root="/jobs", jobs=()), state, policy, now=0, only={gone.key})
    assert kinds(empty) == {"gone": "hold"}


def test_every_hold_names_its_rule() -> None:
    """One reason per hold (the metrics' ``reason`` label), whatever rule held it."""
    a = job("a", count=2)
    failed = {"ID": "d-1", "Status": "failed", "StatusDescription": "rolling back"}
    cases = {
        HoldReason.FAILED_ROLLOUT: plan([a], [live(a, deployment=failed, failed_digest=a.digest,
                                                    Priority=70)]),
        HoldReason.ACTIVE_DEPLOYMENT: plan([a], [live(a, deployment=RUNNING, Priority=70)]),
        HoldReason.DEPLOYMENT_CAP: plan([a, job("busy")], [live(job("busy"), deployment=RUNNING)],
                                        max_concurrent_deployments=1),
        HoldReason.GUARD: plan([a], [live(a), live(job("gone"))], prune=True,
                               errors=(Diagnostic(path="b.nomad", message="broken"),)),
    }
    for why, p in cases.items():
        holds = [x for x in p.actions if x.kind is ActionKind.HOLD]
        assert holds and all(x.hold_reason is why for x in holds), (why, p.actions)
        assert all(x.hold_reason is None for x in p.actions if x.kind is not ActionKind.HOLD)
