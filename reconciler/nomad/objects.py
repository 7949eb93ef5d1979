"""Nomad's JSON bodies, typed where they arrive: the one reader of Nomad's field names.

Responsibility: turn the bodies the reconciler reads for decisions into
typed values, once, inside ``reconciler.nomad``: a deployment into the frozen
``reconciler.deployment.Deployment`` (``parse_deployment``), a plan's and a
write's answers into ``reconciler.job_plan``'s ``JobPlan`` and ``JobWrite``, a
job's versions into ``JobVersion``s, a Job event's job into ``EventJob``, and
the other bodies into ``TypedDict`` views of the fields the code reads (a job
list stub, an allocation stub, an evaluation and its placement metrics).  Field names
and meanings follow ``nomad/structs/structs.go`` (v1.0.18) and the recorded
bodies in ``tests/golden/api/``.  Pure: no I/O.

Parsing is lenient the way Nomad's own Go client is: a missing or ``null``
field reads as its zero value, so a body from a newer or older Nomad never
crashes a caller; a body that is not an object at all is a ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from reconciler.deployment import Deployment, DeploymentGroup, DeploymentStatus
from reconciler.job_plan import (
    NO_CHANGE,
    FieldDiff,
    JobDiff,
    JobPlan,
    JobWrite,
    ObjectDiff,
    TaskGroupDiff,
)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _object(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ValueError(f"{what} must be a JSON object, not {type(body).__name__}")
    return body


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """A JSON array's objects (``null`` or anything else: none)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


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
    _object(body, "a deployment")
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


class Namespace(TypedDict, total=False):
    """One entry of ``GET /v1/namespaces`` (api/namespace.go: the same fields at v1.0.18 and v2.0.0)."""

    Name: str
    Description: str


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
    CreateIndex: int
    CreateTime: int  # Unix nanoseconds (Nomad's clock)


def parse_evaluation(body: Mapping[str, Any]) -> Evaluation:
    """An evaluation (``GET /v1/evaluation/:id``, an Evaluation event's payload), checked to be an object."""
    evaluation: Evaluation = dict(_object(body, "an evaluation"))  # type: ignore[assignment]
    return evaluation


def parse_evaluations(body: Any) -> list[Evaluation]:
    """``GET /v1/job/:id/evaluations``: the job's evaluations (``null``: none)."""
    return [parse_evaluation(e) for e in _objects(body)]


# ---------------------------------------------------------------- jobs

def parse_job_write(body: Any) -> JobWrite:
    """``PUT /v1/jobs`` (``JobRegisterResponse``) or ``DELETE /v1/job/:id`` (``JobDeregisterResponse``).

    Both are ``EvalID``, ``EvalCreateIndex``, ``JobModifyIndex`` (api/jobs.go,
    v1.0.18 to v2.0.0); only a register has ``Warnings``.  An empty body reads
    as no evaluation.
    """
    body = _object({} if body is None else body, "a job write's answer")
    return JobWrite(
        eval_id=str(body.get("EvalID") or "") or None,
        eval_create_index=_int(body.get("EvalCreateIndex")),
        job_modify_index=_int(body.get("JobModifyIndex")),
        warnings=str(body.get("Warnings") or ""),
    )


def _field_diffs(value: Any) -> tuple[FieldDiff, ...]:
    return tuple(
        FieldDiff(
            type=str(f.get("Type") or NO_CHANGE),
            name=str(f.get("Name") or ""),
            old=str(f.get("Old") or ""),
            new=str(f.get("New") or ""),
        )
        for f in _objects(value)
    )


def parse_object_diff(body: Mapping[str, Any]) -> ObjectDiff:
    """An ``ObjectDiff`` or a ``TaskDiff`` (a missing ``Type`` is no change)."""
    return ObjectDiff(
        type=str(body.get("Type") or NO_CHANGE),
        name=str(body.get("Name") or ""),
        fields=_field_diffs(body.get("Fields")),
        objects=tuple(parse_object_diff(o) for o in _objects(body.get("Objects"))),
    )


def parse_job_diff(body: Any) -> JobDiff | None:
    """A plan's ``Diff``, or ``None`` when there is none (no object, or no ``Type``)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("Type"), str):
        return None
    top = parse_object_diff(body)
    groups = tuple(
        TaskGroupDiff(
            type=inner.type, name=inner.name, fields=inner.fields, objects=inner.objects,
            tasks=tuple(parse_object_diff(t) for t in _objects(group.get("Tasks"))),
        )
        for group in _objects(body.get("TaskGroups"))
        for inner in (parse_object_diff(group),)
    )
    return JobDiff(
        type=top.type, id=str(body.get("ID") or ""), fields=top.fields, objects=top.objects,
        task_groups=groups,
    )


def parse_job_plan(body: Any) -> JobPlan:
    """``PUT /v1/job/:id/plan`` (``JobPlanResponse``, api/jobs.go, v1.0.18 to v2.0.0).

    ``Annotations.DesiredTGUpdates`` is kept per group as Nomad's counts
    (``DesiredUpdates``); ``FailedTGAllocs`` as its group names.
    """
    body = _object({} if body is None else body, "a plan's answer")
    annotations = (body.get("Annotations") or {}).get("DesiredTGUpdates") or None
    failed = body.get("FailedTGAllocs") or {}
    return JobPlan(
        job_modify_index=_int(body.get("JobModifyIndex")),
        diff=parse_job_diff(body.get("Diff")),
        annotations={
            str(group): {str(k): _int(n) for k, n in (counts or {}).items()}
            for group, counts in annotations.items()
        } if isinstance(annotations, Mapping) else None,
        failed_groups=tuple(sorted(str(g) for g in failed)) if isinstance(failed, Mapping) else (),
        warnings=str(body.get("Warnings") or ""),
    )


@dataclass(frozen=True)
class JobVersion:
    """One entry of ``GET /v1/job/:id/versions``' ``Versions`` (a whole ``Job``, api/jobs.go).

    The fields the failed-rollout rule reads: ``Version``, ``Stable`` (set
    once the version's deployment succeeded) and ``Meta`` (the ownership
    stamp); ``job`` is the version as Nomad sent it.
    """

    version: int
    stable: bool
    meta: Mapping[str, Any] | None
    job: Mapping[str, Any] = field(repr=False, compare=False)


def parse_job_version(body: Mapping[str, Any]) -> JobVersion:
    body = _object(body, "a job version")
    meta = body.get("Meta")
    return JobVersion(
        version=_int(body.get("Version")),
        stable=bool(body.get("Stable")),
        meta=meta if isinstance(meta, Mapping) else None,
        job=body,
    )


def parse_job_versions(body: Any) -> list[JobVersion]:
    """``GET /v1/job/:id/versions`` (``JobVersionsResponse``): its ``Versions``, newest first."""
    body = _object({} if body is None else body, "a job's versions")
    return [parse_job_version(v) for v in _objects(body.get("Versions"))]


@dataclass(frozen=True)
class EventJob:
    """The job of a Job-topic event (``Payload.Job``, a whole ``Job``): what the watch decides on.

    ``namespace`` is ``""`` when the payload has none; ``job_modify_index`` is
    0 when unknown.
    """

    id: str
    namespace: str
    job_modify_index: int
    meta: Mapping[str, Any] | None


def parse_event_job(body: Mapping[str, Any]) -> EventJob:
    body = _object(body, "an event's job")
    meta = body.get("Meta")
    return EventJob(
        id=str(body.get("ID") or ""),
        namespace=str(body.get("Namespace") or ""),
        job_modify_index=_int(body.get("JobModifyIndex")),
        meta=meta if isinstance(meta, Mapping) else None,
    )
