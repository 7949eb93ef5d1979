"""The reconcile engine against an in-memory Nomad: requests made, writes, holds, conflicts."""

from __future__ import annotations

import copy

from reconciler.core.diff import DriftState
from reconciler.core.plan import ActionKind, SyncPolicy
from reconciler.model import Diagnostic
from reconciler.sync.engine import Reconciler
from reconciler.sync.outcome import Result
from tests.support.jobs import make_job, snapshot
from tests.support.memory_nomad import MemoryNomad


def results(result) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {o.key[1]: o.result.value for o in result.outcomes}


async def test_first_sync_creates_everything_then_a_noop_costs_one_list() -> None:
    nomad = MemoryNomad()
    jobs = [make_job(f"j{i}") for i in range(5)]
    engine = Reconciler(nomad, SyncPolicy())
    first = await engine.reconcile(snapshot(*jobs))
    assert set(results(first).values()) == {"created"}
    assert nomad.count("register") == 5
    stored = nomad.jobs[("default", "j0")]["Meta"]
    assert stored == {"gitops.source": "j0.nomad", "gitops.digest": jobs[0].digest}
    # The next pass reads back each job this process wrote, once (trust, but verify) ...
    nomad.calls.clear()
    verified = await engine.reconcile(snapshot(*jobs))
    assert set(results(verified).values()) == {"unchanged"}
    assert nomad.count("read") == 5 and nomad.count("plan") == 0 and not nomad.writes()
    # ... and from then on a no-op pass is one list.
    nomad.calls.clear()
    again = await engine.reconcile(snapshot(*jobs))
    assert set(results(again).values()) == {"unchanged"}
    assert nomad.calls == [("list", "*")]


async def test_fresh_process_reads_each_job_on_old_nomad_but_trusts_listed_meta_on_new() -> None:
    for version, expected_reads in (((1, 0, 18), 3), ((1, 6, 0), 0)):
        nomad = MemoryNomad(version=version)
        jobs = [make_job(f"j{i}") for i in range(3)]
        await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(*jobs))
        nomad.calls.clear()
        result = await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(*jobs))
        assert set(results(result).values()) == {"unchanged"}
        assert nomad.count("list") == 1 and nomad.count("read") == expected_reads
        assert not nomad.writes()


async def test_one_changed_job_is_the_only_one_written_with_few_requests() -> None:
    nomad = MemoryNomad()
    jobs = [make_job(f"j{i}") for i in range(4)]
    engine = Reconciler(nomad, SyncPolicy())
    await engine.reconcile(snapshot(*jobs))
    await engine.reconcile(snapshot(*jobs))  # the read-back of our own writes
    nomad.calls.clear()
    jobs[2] = make_job("j2", count=3)
    result = await engine.reconcile(snapshot(*jobs))
    assert results(result) == {
        "j0": "unchanged",
        "j1": "unchanged",
        "j2": "updated",
        "j3": "unchanged",
    }
    per_job = [c for c in nomad.calls if c[1] == "j2"]
    # one Nomad plan: the arbiter's answer also gives the register's annotations
    assert [v for v, _ in per_job] == ["plan", "deployment", "register"]
    assert nomad.jobs[("default", "j2")]["TaskGroups"][0]["Count"] == 3


async def test_out_of_band_scale_and_stop_show_as_drift_and_are_repaired() -> None:
    nomad = MemoryNomad()
    job = make_job("web")
    engine = Reconciler(nomad, SyncPolicy())
    await engine.reconcile(snapshot(job))
    scaled = copy.deepcopy(nomad.jobs[("default", "web")])
    scaled["TaskGroups"][0]["Count"] = 5
    nomad.put(scaled)
    plan = await engine.plan(snapshot(job))
    [action] = plan.actions
    assert action.drift.state is DriftState.MODIFIED and action.kind is ActionKind.REGISTER
    stopped = copy.deepcopy(nomad.jobs[("default", "web")])
    stopped["Stop"] = True
    nomad.put(stopped)
    plan = await engine.plan(snapshot(job))
    assert plan.actions[0].drift.reason == "stopped"
    result = await engine.reconcile(snapshot(job))
    assert results(result) == {"web": "updated"}
    assert nomad.jobs[("default", "web")]["Stop"] is False
    assert nomad.jobs[("default", "web")]["TaskGroups"][0]["Count"] == 1


async def test_out_of_band_delete_is_recreated() -> None:
    nomad = MemoryNomad()
    job = make_job("web")
    engine = Reconciler(nomad, SyncPolicy())
    await engine.reconcile(snapshot(job))
    del nomad.jobs[("default", "web")]
    result = await engine.reconcile(snapshot(job))
    assert results(result) == {"web": "created"}


async def test_unowned_matching_job_is_adopted_without_a_write() -> None:
    nomad = MemoryNomad()
    job = make_job("web")
    nomad.put(copy.deepcopy(job.job))  # someone ran `nomad job run` with the same file
    result = await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(job))
    assert results(result) == {"web": "unchanged"}
    assert not nomad.writes()
    assert result.plan.actions[0].drift.state is DriftState.IN_SYNC


async def test_concurrent_change_triggers_one_replan_then_succeeds() -> None:
    nomad = MemoryNomad()
    job = make_job("web")
    engine = Reconciler(nomad, SyncPolicy())
    await engine.reconcile(snapshot(job))

    def meddle(api: MemoryNomad) -> None:
        other = copy.deepcopy(api.jobs[("default", "web")])
        other["Priority"] = 77
        api.put(other)

    nomad.before_register = meddle
    changed = make_job("web", count=2)
    result = await engine.reconcile(snapshot(changed))
    [outcome] = result.outcomes
    assert outcome.result is Result.UPDATED and outcome.conflict_retried
    assert nomad.count("register") == 3  # first sync, the conflicting try, the retry
    assert nomad.jobs[("default", "web")]["Priority"] == 50


async def test_repeated_conflict_is_reported_not_forced() -> None:
    nomad = MemoryNomad()
    job = make_job("web")
    engine = Reconciler(nomad, SyncPolicy())
    await engine.reconcile(snapshot(job))

    def meddle(api: MemoryNomad) -> None:
        other = copy.deepcopy(api.jobs[("default", "web")])
        other["Priority"] = other["Priority"] + 1
        api.put(other)
        api.before_register = meddle  # and again on the retry

    nomad.before_register = meddle
    result = await engine.reconcile(snapshot(make_job("web", count=2)))
    [outcome] = result.outcomes
    assert outcome.result is Result.FAILED and "changed in Nomad while syncing" in outcome.message
    assert "web.nomad" in outcome.message
    assert result.failed


async def test_failed_rollout_is_held_and_not_retried() -> None:
    nomad = MemoryNomad()
    good = make_job("web")
    engine = Reconciler(nomad, SyncPolicy())
    await engine.reconcile(snapshot(good))
    bad = make_job("web", count=2, Priority=60)
    await engine.reconcile(snapshot(bad))
    # Nomad fails the deployment and auto-reverts: the good spec comes back as a new version.
    nomad.fail_and_revert("web")
    nomad.calls.clear()
    result = await engine.reconcile(snapshot(bad))
    assert results(result) == {"web": "held"}
    assert "rolling back" in result.outcomes[0].message
    assert not nomad.writes()
    # A fresh process finds the failed digest in the job's versions.
    fresh = await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(bad))
    assert results(fresh) == {"web": "held"} and nomad.count("versions") == 1
    fixed = make_job("web", count=2, Priority=61)
    assert results(await engine.reconcile(snapshot(fixed))) == {"web": "updated"}


async def test_prune_only_with_flag_and_never_from_a_broken_checkout() -> None:
    nomad = MemoryNomad()
    keep, gone = make_job("keep"), make_job("gone")
    await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(keep, gone))
    result = await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(keep))
    assert results(result)["gone"] == "unchanged" and not nomad.writes()[2:]
    broken = snapshot(keep, errors=(Diagnostic(path="x.nomad", message="bad", line=1),))
    policy = SyncPolicy(prune=True, max_prune=1.0)
    result = await Reconciler(nomad, policy).reconcile(broken)
    assert results(result)["gone"] == "held" and result.failed
    assert nomad.count("deregister") == 0
    result = await Reconciler(nomad, policy).reconcile(snapshot())
    assert results(result) == {"keep": "held", "gone": "held"}
    assert result.failed and "declares no job" in result.plan.refusals[0]
    result = await Reconciler(nomad, policy).reconcile(snapshot(keep))
    assert results(result) == {"keep": "unchanged", "gone": "pruned"}
    assert nomad.jobs[("default", "gone")]["Stop"] is True


async def test_waves_register_in_order() -> None:
    nomad = MemoryNomad()
    jobs = [
        make_job("web", meta={"gitops.wave": "2"}),
        make_job("db", meta={"gitops.wave": "-1"}),
        make_job("api", meta={"gitops.wave": "0"}),
    ]
    await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(*jobs))
    assert [j for v, j in nomad.calls if v == "register"] == ["db", "api", "web"]


async def test_dry_run_writes_nothing_but_asks_nomads_plan() -> None:
    nomad = MemoryNomad()
    result = await Reconciler(nomad, SyncPolicy()).reconcile(
        snapshot(make_job("web")), dry_run=True
    )
    assert results(result) == {"web": "planned"}
    assert not nomad.writes() and nomad.count("plan") == 1
    assert result.outcomes[0].annotations == {"app": {"Place": 1, "DestructiveUpdate": 0}}


async def test_promotion_under_policy() -> None:
    nomad = MemoryNomad()
    job = make_job("web")
    await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(job))
    nomad.deployments[("default", "web")] = {
        "ID": "dep-9", "Status": "running", "JobSpecModifyIndex": 0,
        "StatusDescription": "Deployment is running but requires manual promotion",
        "TaskGroups": {"app": {"DesiredCanaries": 1, "HealthyAllocs": 1, "Promoted": False}},
    }  # fmt: skip
    without = await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(job))
    assert results(without) == {"web": "unchanged"} and nomad.count("promote") == 0
    assert nomad.count("deployment") == 0  # nothing could be promoted: not even asked
    promoted = await Reconciler(nomad, SyncPolicy(promote=True)).reconcile(snapshot(job))
    assert results(promoted) == {"web": "promoted"} and nomad.count("promote") == 1


def test_failed_version_digest_from_history() -> None:
    from reconciler.deployment import Deployment
    from reconciler.nomad.objects import JobVersion, parse_deployment, parse_job_version
    from reconciler.sync.failed_rollouts import failed_version_digest

    def v(n: int, stable: bool, digest: str | None) -> JobVersion:
        meta = {"gitops.source": "w.nomad", "gitops.digest": digest} if digest else None
        return parse_job_version({"Version": n, "Stable": stable, "Meta": meta})

    def dep(version: int, status: str) -> Deployment:
        return parse_deployment({"JobVersion": version, "Status": status})

    failed_1 = [dep(2, "successful"), dep(1, "failed"), dep(0, "successful")]
    reverted = [v(2, False, "good"), v(1, False, "bad"), v(0, True, "good")]
    assert failed_version_digest(reverted, failed_1) == "bad"
    reverted_marked_stable = [v(2, True, "good"), v(1, False, "bad"), v(0, True, "good")]
    assert failed_version_digest(reverted_marked_stable, failed_1) == "bad"
    not_reverted = [v(1, False, "bad"), v(0, True, "good")]
    assert failed_version_digest(not_reverted, [dep(1, "running")]) is None
    unowned = [v(2, False, None), v(1, False, None), v(0, True, None)]
    assert failed_version_digest(unowned, failed_1) is None
    # Replaced while its deployment still ran (changed out of band): superseded, not failed.
    superseded = [dep(2, "running"), dep(1, "cancelled"), dep(0, "successful")]
    assert failed_version_digest(reverted, superseded) is None
    # A failure older than a later stable version is history, not a hold.
    fixed_since = [v(3, True, "next"), v(2, True, "good"), v(1, False, "bad"), v(0, True, "good")]
    assert failed_version_digest(fixed_since, failed_1) is None


async def test_a_version_superseded_during_our_rollout_is_healed_not_held() -> None:
    """Someone edits the job by hand while our rollout runs: self-healing must go on."""
    nomad = MemoryNomad()
    engine = Reconciler(nomad, SyncPolicy(supersede_active=True))
    await engine.reconcile(snapshot(make_job("web")))
    ours = make_job("web", count=2)
    await engine.reconcile(snapshot(ours))
    ours_index = nomad.jobs[("default", "web")]["JobModifyIndex"]
    # Out of band (keeps our ownership stamp): a new version; Nomad cancels our deployment.
    edited = copy.deepcopy(nomad.jobs[("default", "web")])
    edited["TaskGroups"][0]["Count"] = 5
    nomad.put(edited)
    nomad.past_deployments[("default", "web")] = [{
        "ID": "dep-1", "Status": "cancelled", "JobSpecModifyIndex": ours_index, "JobVersion": 1,
        "StatusDescription": "Cancelled due to newer version of job",
    }]  # fmt: skip
    nomad.deployments[("default", "web")] = {
        "ID": "dep-2", "Status": "running", "JobSpecModifyIndex": nomad.index, "JobVersion": 2,
        "StatusDescription": "Deployment is running", "TaskGroups": {},
    }  # fmt: skip
    for fresh in (False, True):  # this process, and one restarted meanwhile
        runner = Reconciler(nomad, SyncPolicy(supersede_active=True)) if fresh else engine
        if fresh:
            edited = copy.deepcopy(nomad.jobs[("default", "web")])
            edited["TaskGroups"][0]["Count"] = 5
            nomad.put(edited)
        result = await runner.reconcile(snapshot(ours))
        assert results(result) == {"web": "updated"}, result.outcomes[0].message
        assert nomad.jobs[("default", "web")]["TaskGroups"][0]["Count"] == 2


async def test_a_job_that_cannot_be_read_is_an_error_of_its_own() -> None:
    nomad = MemoryNomad()
    jobs = [make_job("a"), make_job("b")]
    await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(*jobs))
    nomad.failing_reads.add("a")
    changed = [make_job("a", count=2), make_job("b", count=2)]
    result = await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(*changed))
    assert results(result) == {"a": "unchanged", "b": "updated"}
    [a] = [x for x in result.plan.actions if x.key[1] == "a"]
    assert a.drift.state is DriftState.ERROR and "connection reset" in a.reason
    assert result.failed


async def test_a_plan_nomad_refuses_fails_that_job_only_in_a_dry_run() -> None:
    nomad = MemoryNomad(failing_plans={"bad"})
    result = await Reconciler(nomad, SyncPolicy()).reconcile(
        snapshot(make_job("bad"), make_job("good")), dry_run=True
    )
    assert results(result) == {"bad": "failed", "good": "planned"}
    [bad] = [o for o in result.outcomes if o.key[1] == "bad"]
    assert bad.message.startswith("bad.nomad") and "Missing task driver" in bad.message


async def test_a_failed_write_keeps_its_typed_error_for_retry_decisions() -> None:
    from reconciler.errors import NomadJobRejectedError, NomadUnavailableError

    nomad = MemoryNomad(failing_registers={
        "refused": NomadJobRejectedError("1 error occurred: bad driver", status=500),
        "flaky": NomadUnavailableError("connection refused", endpoint="/v1/jobs"),
    })  # fmt: skip
    jobs = [make_job("refused"), make_job("flaky"), make_job("fine")]
    result = await Reconciler(nomad, SyncPolicy(), annotate=False).reconcile(snapshot(*jobs))
    by_job = {o.key[1]: o for o in result.outcomes}
    assert results(result) == {"refused": "failed", "flaky": "failed", "fine": "created"}
    refused, flaky = by_job["refused"].error, by_job["flaky"].error
    assert isinstance(refused, NomadJobRejectedError) and not refused.retryable
    assert isinstance(flaky, NomadUnavailableError) and flaky.retryable
    assert "bad driver" in by_job["refused"].message  # the text for people stays
    assert by_job["fine"].error is None
