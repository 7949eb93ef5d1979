"""The fake's placement decisions (pure ``plan_group``), as Nomad's plan annotations show them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reconciler.testing.fake_nomad.jobs import to_struct_job
from reconciler.testing.fake_nomad.scheduler import Alloc, Deployment, GroupState, plan_group


def _job(*, count: int = 2, args: str = "1", version: int = 0, canary: int = 0, max_parallel: int = 1) -> dict[str, Any]:
    job = to_struct_job({
        "ID": "web", "Type": "service", "Datacenters": ["dc1"],
        "Update": {"MaxParallel": max_parallel, "Canary": canary},
        "TaskGroups": [{"Name": "app", "Count": count, "Tasks": [
            {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/sleep", "args": [args]}},
        ]}],
    }, namespace="default", region="global")
    job["Version"] = version
    return job


def _allocs(job: dict[str, Any], n: int, **fields: Any) -> list[Alloc]:
    base: dict[str, Any] = {"deployment_id": None, **fields}
    return [
        Alloc(id=f"a{i}", namespace="default", job_id="web", group="app", index=i, job=copy.deepcopy(job),
              eval_id="e", create_index=1, create_time=0, **base)
        for i in range(n)
    ]


def _ann(plan: Any) -> dict[str, int]:
    return {k: v for k, v in plan.annotations().items() if v}


@pytest.mark.parametrize(
    ("case", "new", "expected"),
    [
        ("unchanged", _job(), {"Ignore": 2}),
        ("count up is in place plus placements", _job(count=3, version=1), {"InPlaceUpdate": 2, "Place": 1}),
        ("count down stops the extra ones", _job(count=1, version=1), {"InPlaceUpdate": 1, "Stop": 1}),
        ("destructive within max_parallel", _job(args="2", version=1), {"DestructiveUpdate": 1, "Ignore": 1}),
        ("placements use up the max_parallel budget", _job(count=4, args="2", version=1), {"Place": 2, "Ignore": 2}),
        ("canaries leave old allocations alone", _job(args="2", version=1, canary=1), {"Canary": 1, "Ignore": 2}),
        ("max_parallel 0 replaces everything", _job(args="2", version=1, max_parallel=0), {"DestructiveUpdate": 2}),
    ],
)
def test_plan_annotations(case: str, new: dict[str, Any], expected: dict[str, int]) -> None:
    allocs = _allocs(_job(), 2, client_status="running")
    assert _ann(plan_group(new, "app", allocs, deployment=None)) == expected, case


def test_new_job_places_everything() -> None:
    assert _ann(plan_group(_job(count=3), "app", [], deployment=None)) == {"Place": 3}


def test_stopped_job_stops_all() -> None:
    job = _job(version=1)
    job["Stop"] = True
    assert _ann(plan_group(job, "app", _allocs(_job(), 2), deployment=None)) == {"Stop": 2}


def test_unhealthy_in_flight_allocation_holds_the_next_replacement() -> None:
    new = _job(args="2", version=1)
    dep = Deployment(id="d", namespace="default", job_id="web", job_version=1, job_modify_index=2,
                     job_create_index=1, groups={"app": GroupState(False, False, 0, 2, 0)}, create_index=2, modify_index=2)
    old = _allocs(_job(), 1)
    fresh = _allocs(new, 1, deployment_id="d")
    fresh[0].id, fresh[0].index = "n0", 1
    assert _ann(plan_group(new, "app", old + fresh, deployment=dep)) == {"Ignore": 2}
    fresh[0].healthy = True
    assert _ann(plan_group(new, "app", old + fresh, deployment=dep)) == {"DestructiveUpdate": 1, "Ignore": 1}


def test_updates_map_uses_nomad_keys() -> None:
    plan = plan_group(_job(count=3, version=1), "app", _allocs(_job(), 2), deployment=None)
    assert plan.updates() == {"create": 1, "in-place update": 2}
