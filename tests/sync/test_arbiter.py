"""Nomad is the arbiter of drift: the engine against an in-memory Nomad that knows more.

The memory Nomad can store defaults the local canonical form does not know
(``server_defaults``, as Nomad ≥ 1.6 stores ``NodePool``), and can refuse to
converge (``unstable``).  Over HTTP the same rules are tested against the fake
at several versions and a real agent (``test_no_spurious_drift.py``).
"""

from __future__ import annotations

import copy

from reconciler.core.diff import DriftState
from reconciler.core.plan import ActionKind, HoldReason, SyncPolicy
from reconciler.errors import NomadPermissionDeniedError, NomadUnavailableError
from reconciler.sync.engine import Reconciler
from reconciler.sync.outcome import Result
from tests.support.jobs import make_job, snapshot
from tests.support.memory_nomad import MemoryNomad


def results(result) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {o.key[1]: o.result.value for o in result.outcomes}


async def test_defaults_the_local_model_does_not_know_are_not_drift_and_not_asked_twice() -> None:
    nomad = MemoryNomad(server_defaults={"NodePool": "default"})
    jobs = [make_job(f"j{i}") for i in range(3)]
    await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(*jobs))
    nomad.calls.clear()
    mismatches: list[tuple[tuple[str, str], tuple[str, ...]]] = []
    engine = Reconciler(nomad, SyncPolicy(), on_mismatch=lambda k, f: mismatches.append((k, f)))
    result = await engine.reconcile(snapshot(*jobs))
    assert set(results(result).values()) == {"unchanged"}
    assert {a.drift.state for a in result.plan.actions} == {DriftState.IN_SYNC}
    assert not nomad.writes() and nomad.count("plan") == 3
    assert sorted(mismatches) == [(("default", f"j{i}"), ("NodePool",)) for i in range(3)]

    # The verdict holds for (job, JobModifyIndex, digest): not asked again ...
    nomad.calls.clear()
    again = await engine.reconcile(snapshot(*jobs))
    assert set(results(again).values()) == {"unchanged"} and nomad.count("plan") == 0
    # ... until the file moves: then Nomad is asked, and the real change is written.
    jobs[1] = make_job("j1", count=2)
    nomad.calls.clear()
    changed = await engine.reconcile(snapshot(*jobs))
    assert results(changed)["j1"] == "updated" and nomad.writes() == [("register", "j1")]
    assert nomad.count("plan") == 1


async def test_a_refresh_asks_nomad_but_keeps_the_verdict_of_the_same_index() -> None:
    nomad = MemoryNomad(server_defaults={"NodePool": "default"})
    job = make_job("web")
    await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(job))
    engine = Reconciler(nomad, SyncPolicy(), refresh=True)
    plan = await engine.plan(snapshot(job))
    assert plan.actions[0].drift.state is DriftState.IN_SYNC and not plan.has_changes


async def test_adopting_a_job_nomad_filled_in_never_stamps_it() -> None:
    nomad = MemoryNomad(server_defaults={"NodePool": "default"})
    job = make_job("web")
    nomad.put(copy.deepcopy(job.job))  # `nomad job run` of the same file, no stamp
    result = await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(job))
    assert results(result) == {"web": "unchanged"} and not nomad.writes()
    assert "gitops.digest" not in (nomad.jobs[("default", "web")].get("Meta") or {})


async def test_a_real_change_nomad_confirms_is_written_once_with_its_annotations() -> None:
    nomad = MemoryNomad(server_defaults={"NodePool": "default"})
    job = make_job("web")
    engine = Reconciler(nomad, SyncPolicy())
    await engine.reconcile(snapshot(job))
    scaled = copy.deepcopy(nomad.jobs[("default", "web")])
    scaled["TaskGroups"][0]["Count"] = 4  # a hand `nomad job scale`
    nomad.put(scaled)
    nomad.calls.clear()
    result = await engine.reconcile(snapshot(job))
    [outcome] = result.outcomes
    assert outcome.result is Result.UPDATED and outcome.annotations
    assert nomad.count("plan") == 1 and nomad.writes() == [("register", "web")]


async def test_a_job_that_never_converges_is_written_at_most_once_more_then_held() -> None:
    nomad = MemoryNomad(unstable={"web"})
    job = make_job("web")
    engine = Reconciler(nomad, SyncPolicy())
    first = await engine.reconcile(snapshot(job))
    assert results(first) == {"web": "created"}
    for _ in range(3):
        later = await engine.reconcile(snapshot(job))
        [action] = later.plan.actions
        assert action.kind is ActionKind.HOLD
        assert action.hold_reason is HoldReason.NOT_CONVERGING
        assert "Nomad still reports changes in" in action.reason
    assert nomad.writes() == [("register", "web")]

    # A new file releases the hold: it is a new spec, worth one try.
    changed = make_job("web", count=2)
    released = await engine.reconcile(snapshot(changed))
    assert results(released) == {"web": "updated"}


async def test_without_the_plan_capability_the_local_verdict_stands() -> None:
    nomad = MemoryNomad(server_defaults={"NodePool": "default"})
    job = make_job("web")
    await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(job))

    async def denied(_job):  # type: ignore[no-untyped-def]
        raise NomadPermissionDeniedError("Permission denied", status=403)

    nomad.plan_job = denied  # type: ignore[method-assign]
    plan = await Reconciler(nomad, SyncPolicy()).plan(snapshot(job))
    assert plan.actions[0].drift.state is DriftState.MODIFIED


async def test_a_failing_plan_makes_that_job_unknown_for_the_pass_never_a_write() -> None:
    nomad = MemoryNomad(server_defaults={"NodePool": "default"})
    jobs = [make_job("a"), make_job("b")]
    await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(*jobs))
    real_plan = nomad.plan_job

    async def flaky(job):  # type: ignore[no-untyped-def]
        if job["ID"] == "a":
            raise NomadUnavailableError("connection reset", endpoint="/v1/job/:id/plan")
        return await real_plan(job)

    nomad.plan_job = flaky  # type: ignore[method-assign]
    nomad.calls.clear()
    result = await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(*jobs))
    states = {a.key[1]: a.drift.state for a in result.plan.actions}
    assert states == {"a": DriftState.ERROR, "b": DriftState.IN_SYNC}
    assert not nomad.writes()


async def test_list_stubs_without_a_namespace_take_the_namespace_listed() -> None:
    # Nomad 1.0.x: GET /v1/jobs?namespace=platform returns stubs with no Namespace field.
    nomad = MemoryNomad()
    job = make_job("api", Namespace="platform")
    await Reconciler(nomad, SyncPolicy()).reconcile(snapshot(job))
    real_list = nomad.list_jobs

    async def old_stubs(*, namespace: str, meta: bool):  # type: ignore[no-untyped-def]
        stubs = await real_list(namespace=namespace, meta=meta)
        return [{k: v for k, v in s.items() if k != "Namespace"} for s in stubs
                if namespace in ("*", s.get("Namespace"))]  # fmt: skip

    nomad.list_jobs = old_stubs  # type: ignore[method-assign]
    nomad.calls.clear()
    policy = SyncPolicy(namespaces=frozenset({"platform"}))
    result = await Reconciler(nomad, policy).reconcile(snapshot(job))
    assert results(result) == {"api": "unchanged"} and not nomad.writes()
