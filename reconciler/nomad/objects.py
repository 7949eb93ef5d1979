"""Nomad's JSON bodies, typed where they arrive: the one reader of Nomad's field names.

Responsibility: turn the bodies the reconciler reads for decisions into
typed values, once, inside ``reconciler.nomad``: a deployment into the frozen
``reconciler.deployment.Deployment`` (``parse_deployment``), and the other
bodies into ``TypedDict`` views of the fields the code reads (a job list stub,
an allocation stub, an evaluation and its placement metrics).  Field names
and meanings follow ``nomad/structs/structs.go`` (v1.0.18) and the recorded
bodies in ``tests/golden/api/``.  Pure: no I/O.

Parsing is lenient the way Nomad's own Go client is: a missing or ``null``
field reads as its zero value, so a body from a newer or older Nomad never
crashes a caller; a body that is not an object at all is a ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from reconciler.deployment import Deployment, DeploymentGroup, DeploymentStatus


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def parse_deployment_group(name: str, body: Mapping[str, Any]) -> DeploymentGroup:
    """One ``DeploymentState`` (a value of a deployment's ``TaskGroups``)."""
    return DeploymentGroup(
        name=name,
        desired_total=_int(body.get("DesiredTotal")),
        placed_allocs=_int(body.get("PlacedAllocs")),
        healthy_allocs=_int(body.get("HealthyAllocs")),
        unhealthy_allocs=_int(body.get("UnhealthyAllocs")),
        desired_canaries=_int(body.get("DesiredCanaries")),
        placed_canaries=tuple(str(a) for a in body.get("PlacedCanaries") or ()),
        promoted=bool(body.get("Promoted")),
        auto_revert=bool(body.get("AutoRevert")),
        auto_promote=bool(body.get("AutoPromote")),
    )


def parse_deployment(body: Mapping[str, Any]) -> Deployment:
    """``GET /v1/deployment/:id``, ``/v1/job/:id/deployment(s)``, a Deployment event's payload."""
    if not isinstance(body, Mapping):
        raise ValueError(f"a deployment must be a JSON object, not {type(body).__name__}")
    groups = body.get("TaskGroups") or {}
    status = str(body.get("Status") or "")
    version = body.get("JobVersion")
    return Deployment(
        id=str(body.get("ID") or ""),
        status=DeploymentStatus.parse(status),
        status_text=status,
        description=str(body.get("StatusDescription") or ""),
        namespace=str(body.get("Namespace") or "default"),
        job_id=str(body.get("JobID") or ""),
        job_version=version if isinstance(version, int) else None,
        job_modify_index=_int(body.get("JobModifyIndex")),
        job_spec_modify_index=_int(body.get("JobSpecModifyIndex")),
        job_create_index=_int(body.get("JobCreateIndex")),
        groups=tuple(
            parse_deployment_group(str(name), state or {})
            for name, state in sorted(groups.items())
        ),
        create_index=_int(body.get("CreateIndex")),
        modify_index=_int(body.get("ModifyIndex")),
    )


class JobSummary(TypedDict, total=False):
    """A list stub's ``JobSummary``: per group, allocation counts by client state."""

    JobID: str
    Namespace: str
    Summary: dict[str, dict[str, int]]  # group → {"Queued": n, "Starting": n, "Running": n, ...}


class JobStub(TypedDict, total=False):
    """One entry of ``GET /v1/jobs`` (``JobListStub``); ``Meta`` only with ``meta=true`` (>= 1.3)."""

    ID: str
    ParentID: str
    Name: str
    Namespace: str  # absent on Nomad 1.0.x outside ``namespace=*``
    Type: str
    Status: str
    Stop: bool
    Version: int
    JobModifyIndex: int
    ModifyIndex: int
    CreateIndex: int
    JobSummary: JobSummary
    Meta: dict[str, str] | None


class AllocDeploymentStatus(TypedDict, total=False):
    Healthy: bool | None
    Canary: bool
    Timestamp: str
    ModifyIndex: int


class AllocationStub(TypedDict, total=False):
    """One entry of ``GET /v1/deployment/allocations/:id`` or ``/v1/job/:id/allocations``."""

    ID: str
    Namespace: str
    JobID: str
    JobVersion: int
    TaskGroup: str
    ClientStatus: str
    DesiredStatus: str
    DeploymentStatus: AllocDeploymentStatus | None


class AllocMetric(TypedDict, total=False):
    """Why allocations of a group could not be placed (``AllocMetric``, an evaluation's ``FailedTGAllocs``)."""

    NodesEvaluated: int
    NodesFiltered: int
    NodesAvailable: dict[str, int]
    ClassFiltered: dict[str, int]
    ConstraintFiltered: dict[str, int]
    NodesExhausted: int
    ClassExhausted: dict[str, int]
    DimensionExhausted: dict[str, int]
    QuotaExhausted: list[str]
    CoalescedFailures: int


EVALUATION_SETTLED = frozenset({"complete", "failed", "canceled", "blocked"})
"""Evaluation statuses after which its ``FailedTGAllocs`` are final (structs.go, v1.0.18)."""


class Evaluation(TypedDict, total=False):
    """``GET /v1/evaluation/:id``, or an Evaluation event's payload."""

    ID: str
    Namespace: str
    JobID: str
    Type: str
    TriggeredBy: str
    Status: str
    StatusDescription: str
    DeploymentID: str
    BlockedEval: str
    FailedTGAllocs: dict[str, AllocMetric] | None
    CreateTime: int
