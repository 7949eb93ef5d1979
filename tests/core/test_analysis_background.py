"""Background analysis of rolling updates without canaries, the pure part
(``core.analysis_background``): which groups are analysed, which allocations fill
``{{alloc_ids}}``, and when the analysis starts (Nomad's health timestamps)."""

from __future__ import annotations

from typing import Any

from reconciler.core.analysis import unix_time
from reconciler.core.analysis_background import (
    background_groups,
    group_allocations,
    has_background_analysis,
)
from reconciler.nomad.objects import parse_deployment
from tests.support.jobs import make_job


def _deployment(status: str = "running", **groups: dict[str, Any]) -> Any:
    return parse_deployment({"ID": "d1", "JobVersion": 3, "Status": status, "TaskGroups": groups})


def _job(**group_meta: dict[str, str] | None) -> Any:
    job = make_job("web", meta={"gitops.analysis": "http"}).job
    template = job["TaskGroups"][0]
    job["TaskGroups"] = [dict(template, Name=name, Meta=meta) for name, meta in group_meta.items()]
    return job


def test_groups_without_canaries_that_opt_in_are_analysed_while_the_deployment_is_active() -> None:
    job = _job(app={}, admin={"gitops.analysis": "slow"}, quiet={"gitops.analysis": ""}, canary={})
    dep = _deployment(app={"DesiredTotal": 3}, admin={"DesiredTotal": 1}, quiet={"DesiredTotal": 1},
                      canary={"DesiredCanaries": 1, "PlacedCanaries": ["c1"]})  # fmt: skip
    # the job's key for app, the group's own for admin; quiet opts out; canary groups are gated instead
    assert background_groups(job, dep, prefix="gitops.") == {"app": ("http",), "admin": ("slow",)}
    for status in ("successful", "failed", "cancelled"):
        assert background_groups(job, _deployment(status, app={"DesiredTotal": 3}), prefix="gitops.") == {}
    assert background_groups(job, _deployment("paused", app={"DesiredTotal": 3}), prefix="gitops.") == {
        "app": ("http",)
    }
    # a group Nomad does not roll out (not in the deployment) has nothing to analyse
    assert background_groups(job, _deployment(admin={"DesiredTotal": 1}), prefix="gitops.") == {"admin": ("slow",)}


def test_no_opt_in_means_no_background_analysis() -> None:
    job = make_job("web").job
    dep = parse_deployment({"ID": "d1", "Status": "running", "TaskGroups": {job["TaskGroups"][0]["Name"]: {}}})
    assert background_groups(job, dep, prefix="gitops.") == {}


def _stub(alloc_id: str, *, group: str = "app", version: int = 3, healthy: bool | None = None,
          at: str = "") -> dict[str, Any]:  # fmt: skip
    status = None if healthy is None else {"Healthy": healthy, "Timestamp": at}
    return {"ID": alloc_id, "TaskGroup": group, "JobVersion": version, "DeploymentStatus": status}


def test_the_new_allocations_of_the_group_fill_alloc_ids_and_the_first_healthy_one_starts_it() -> None:
    dep = _deployment(app={"DesiredTotal": 3})
    (group,) = dep.groups
    stubs = [
        _stub("b2", healthy=True, at="2026-01-01T10:00:20.123456789Z"),
        _stub("a1", healthy=True, at="2026-01-01T10:00:05Z"),
        _stub("c3"),  # placed, not judged yet: analysed, does not start it
        _stub("d4", healthy=False, at="2026-01-01T09:59:00Z"),  # unhealthy: never the start
        _stub("x9", group="other", healthy=True, at="2026-01-01T09:00:00Z"),
        _stub("o1", version=2, healthy=True, at="2026-01-01T08:00:00Z"),  # the old version's
    ]
    found = group_allocations(dep, group, stubs)
    assert found.alloc_ids == ("a1", "b2", "c3", "d4")
    assert found.first_healthy_at == unix_time("2026-01-01T10:00:05Z")


def test_before_any_new_allocation_is_healthy_there_is_no_start() -> None:
    dep = _deployment(app={"DesiredTotal": 3})
    (group,) = dep.groups
    found = group_allocations(dep, group, [_stub("a1"), _stub("b2", healthy=None)])
    assert (found.alloc_ids, found.first_healthy_at) == (("a1", "b2"), None)
    assert group_allocations(dep, group, []).alloc_ids == ()


def test_a_job_has_background_analysis_when_a_group_without_canaries_opts_in() -> None:
    job = _job(app={})
    job["TaskGroups"][0]["Update"] = {"Canary": 0, "MaxParallel": 1}
    assert has_background_analysis(job, prefix="gitops.")
    job["TaskGroups"][0]["Update"] = {"Canary": 1, "MaxParallel": 1}  # canary analysis instead
    assert not has_background_analysis(job, prefix="gitops.")
    job["TaskGroups"][0]["Update"] = None
    job["Update"] = {"Canary": 2}  # the job's update block applies
    assert not has_background_analysis(job, prefix="gitops.")
    job["TaskGroups"][0]["Meta"] = {"gitops.analysis": ""}
    job["Update"] = {"Canary": 0}
    assert not has_background_analysis(job, prefix="gitops.")  # opted out
