"""The failed deployment's analysis window: when Nomad failed it.

Evaluations are shaped as ``GET /v1/job/:id/evaluations`` lists them (Nomad
v1.0.18: the deployment watcher writes one with every failure, in the same
Raft entry, so its ``CreateIndex`` is the failed deployment's ``ModifyIndex``; the
scheduler then rewrites its ``DeploymentID`` to the job's latest deployment).
"""

from __future__ import annotations

from typing import Any

from reconciler.core.failed_analysis import failed_at
from reconciler.deployment import Deployment, DeploymentStatus

DEP = Deployment(id="d-2", status=DeploymentStatus.FAILED, job_version=1, modify_index=40)


def evaluation(index: int, *, at_s: float, dep: str = "d-2", by: str = "deployment-watcher") -> dict[str, Any]:
    return {"ID": f"e-{index}", "DeploymentID": dep, "TriggeredBy": by, "CreateIndex": index,
            "CreateTime": int(at_s * 1e9), "Status": "complete"}  # fmt: skip


def test_the_failure_is_dated_by_the_watcher_evaluation_written_with_it() -> None:
    evals = [
        evaluation(12, at_s=1000.0, by="job-register"),  # the register: no deployment yet
        evaluation(30, at_s=1010.0),  # a health update of the same deployment
        # the failure: the scheduler named the rollback's deployment when it completed it
        evaluation(40, at_s=1016.5, dep="d-3"),
        evaluation(41, at_s=1017.0, dep="d-3"),  # the rollback's deployment
    ]
    assert failed_at(evals, DEP) == 1016.5


def test_no_date_when_nomad_forgot_the_evaluation_or_nothing_failed() -> None:
    assert failed_at([], DEP) is None
    # only an earlier evaluation of the deployment is left: not a date (it could hide the
    # measurement that failed it)
    assert failed_at([evaluation(30, at_s=1010.0)], DEP) is None
    assert failed_at([evaluation(40, at_s=1016.5, by="job-register")], DEP) is None
    assert failed_at([{**evaluation(40, at_s=0.0), "CreateTime": 0}], DEP) is None
    running = Deployment(id="d-2", status=DeploymentStatus.RUNNING, job_version=1, modify_index=40)
    assert failed_at([evaluation(40, at_s=1016.5)], running) is None

