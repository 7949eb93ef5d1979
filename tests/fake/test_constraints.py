"""Constraints in the fake: a job no node satisfies is not placed; it stays
``pending`` with queued allocations and a blocked evaluation naming the
constraint, and its plan says so (as Nomad 1.0.18 answers, scheduler/feasible.go)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad

WINDOWS = {"LTarget": "${attr.kernel.name}", "RTarget": "windows", "Operand": "="}
LINUX = {"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="}


def _job(job_id: str, *, job_constraints: Any = None, task_constraints: Any = None) -> dict[str, Any]:
    return {"Job": {
        "ID": job_id, "Name": job_id, "Type": "service", "Datacenters": ["dc1"], "Constraints": job_constraints,
        "TaskGroups": [{"Name": "app", "Count": 2, "Tasks": [
            {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/sleep", "args": ["60"]},
             "Constraints": task_constraints},
        ]}],
    }}


@pytest.fixture
def fake() -> Iterator[FakeNomad]:
    with FakeNomad() as f:
        yield f


@pytest.mark.parametrize("where", ["job", "task"])
def test_an_unsatisfiable_constraint_leaves_the_job_pending_and_queued(fake: FakeNomad, where: str) -> None:
    spec = _job("win", job_constraints=[WINDOWS]) if where == "job" else _job("win", task_constraints=[WINDOWS])
    with httpx.Client(base_url=fake.address, timeout=10) as c:
        plan = c.post("/v1/job/win/plan", json=spec).json()
        assert plan["FailedTGAllocs"]["app"]["ConstraintFiltered"] == {"${attr.kernel.name} = windows": 1}
        eval_id = c.put("/v1/jobs", json=spec).json()["EvalID"]
        assert fake.wait_for(lambda: fake.state.evals[eval_id]["Status"] == "complete")
        evaluation = c.get(f"/v1/evaluation/{eval_id}").json()
        assert evaluation["QueuedAllocations"] == {"app": 2}
        assert evaluation["FailedTGAllocs"]["app"]["ConstraintFiltered"] == {"${attr.kernel.name} = windows": 1}
        assert evaluation["FailedTGAllocs"]["app"]["CoalescedFailures"] == 1
        blocked = c.get(f"/v1/evaluation/{evaluation['BlockedEval']}").json()
        assert (blocked["Status"], blocked["TriggeredBy"]) == ("blocked", "queued-allocs")
        assert c.get("/v1/job/win/allocations").json() == []
        assert c.get("/v1/job/win").json()["Status"] == "pending"
        assert c.get("/v1/job/win/summary").json()["Summary"]["app"]["Queued"] == 2


def test_a_satisfied_constraint_places_as_usual(fake: FakeNomad) -> None:
    spec = _job("lin", job_constraints=[LINUX], task_constraints=[{"LTarget": "${node.datacenter}", "RTarget": "dc1", "Operand": "="}])
    with httpx.Client(base_url=fake.address, timeout=10) as c:
        assert c.post("/v1/job/lin/plan", json=spec).json()["FailedTGAllocs"] is None
        c.put("/v1/jobs", json=spec)
        assert fake.wait_for(lambda: sum(1 for a in fake.state.allocs.values() if a.job_id == "lin") == 2)
        assert c.get("/v1/job/lin").json()["Status"] == "running"
