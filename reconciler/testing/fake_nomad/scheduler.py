"""Simulated scheduling: allocations and deployments of service jobs.

Responsible for what Nomad's scheduler and deployment watcher decide:
per group how many allocations to place, stop, update in place or replace
(``max_parallel`` rolling updates, canaries), and the deployment state
machine (health over time, promotion, auto-promote, progress deadline,
auto-revert, cancellation).  ``plan_group`` is pure and also feeds plan
annotations; ``Alloc``/``Deployment`` are the records the store keeps.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.testing.fake_nomad.diff import tasks_updated

Job = dict[str, Any]

DESC_RUNNING = "Deployment is running"
DESC_MANUAL = "Deployment is running but requires manual promotion"
DESC_AUTO = "Deployment is running pending automatic promotion"
DESC_SUCCESS = "Deployment completed successfully"
DESC_PAUSED = "Deployment is paused"
DESC_STOPPED_JOB = "Cancelled because job is stopped"
DESC_NEWER_JOB = "Cancelled due to newer version of job"
DESC_FAILED_ALLOCS = "Failed due to unhealthy allocations"
DESC_PROGRESS = "Failed due to progress deadline"
DESC_BY_USER = "Deployment marked as failed"


def rfc3339(ns: int) -> str:
    """Go's RFC3339Nano for a UTC time in nanoseconds (trailing zeros trimmed)."""
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


@dataclass
class Alloc:
    id: str
    namespace: str
    job_id: str
    group: str
    index: int
    job: Job
    eval_id: str
    deployment_id: str | None
    create_index: int
    create_time: int
    modify_index: int = 0
    modify_time: int = 0
    client_status: str = "pending"
    client_description: str = ""
    desired_status: str = "run"
    desired_description: str = ""
    canary: bool = False
    healthy: bool | None = None
    health_index: int = 0
    health_time: int = 0
    # simulation timers on the fake's clock (seconds)
    start_at: float = 0.0
    healthy_at: float | None = None
    unhealthy_at: float | None = None
    stop_at: float | None = None
    fails: bool = False
    complete_at: float | None = None  # batch work that finishes (health mode "complete")
    followup_eval_id: str = ""
    reschedule: bool | None = None
    reschedule_at: float | None = None  # the fake's clock
    reschedule_delay_ns: int = 0
    reschedule_events: list[dict[str, Any]] = field(default_factory=list)  # of this allocation's tracker
    next_allocation: str = ""
    previous_allocation: str = ""

    @property
    def job_version(self) -> int:
        return int(self.job.get("Version", 0))

    @property
    def name(self) -> str:
        return f"{self.job_id}.{self.group}[{self.index}]"

    @property
    def terminal(self) -> bool:
        return self.desired_status != "run" or self.client_status in ("complete", "failed", "lost")

    @property
    def occupies_slot(self) -> bool:
        """Still counted by the scheduler: a failed allocation keeps its place until its
        reschedule (after the reschedule policy's delay) replaces it."""
        if self.desired_status != "run" or self.next_allocation or self.client_status == "lost":
            return False
        # A batch allocation that completed is done, not missing: it is never re-placed.
        return self.client_status != "complete" or self.job.get("Type") in ("batch", "sysbatch")

    def deployment_status(self) -> dict[str, Any] | None:
        if self.deployment_id is None or (self.healthy is None and not self.canary):
            return None
        return {
            "Canary": self.canary, "Healthy": self.healthy, "ModifyIndex": self.health_index,
            "Timestamp": rfc3339(self.health_time) if self.health_time else "0001-01-01T00:00:00Z",
        }

    def task_states(self) -> dict[str, Any]:
        state = {"pending": "pending", "running": "running"}.get(self.client_status, "dead")
        started = rfc3339(self.modify_time) if self.client_status != "pending" else None
        return {
            task["Name"]: {
                "Events": [], "Failed": self.client_status == "failed", "FinishedAt": None if state != "dead" else started,
                "LastRestart": None, "Restarts": 0, "StartedAt": started, "State": state,
            }
            for task in self._group_tasks()
        }

    def _group_tasks(self) -> list[dict[str, Any]]:
        for group in self.job.get("TaskGroups") or []:
            if group["Name"] == self.group:
                return list(group.get("Tasks") or [])
        return []

    def stub(self) -> dict[str, Any]:
        return {
            "ClientDescription": self.client_description, "ClientStatus": self.client_status,
            "CreateIndex": self.create_index, "CreateTime": self.create_time,
            "DeploymentStatus": self.deployment_status(), "DesiredDescription": self.desired_description,
            "DesiredStatus": self.desired_status,
            "DesiredTransition": {"ForceReschedule": None, "Migrate": None, "Reschedule": self.reschedule},
            "EvalID": self.eval_id, "FollowupEvalID": self.followup_eval_id, "ID": self.id, "JobID": self.job_id,
            "JobType": self.job.get("Type"), "JobVersion": self.job_version, "ModifyIndex": self.modify_index,
            "ModifyTime": self.modify_time, "Name": self.name, "Namespace": self.namespace,
            "NodeID": NODE_ID, "NodeName": NODE_NAME, "PreemptedAllocations": None,
            "PreemptedByAllocation": "",
            "RescheduleTracker": {"Events": list(self.reschedule_events)} if self.reschedule_events else None,
            "TaskGroup": self.group,
            "TaskStates": self.task_states(),
        }

    def full(self, *, with_job: bool = False) -> dict[str, Any]:
        """The Allocation struct (``GET /v1/allocation/:id``; the stream strips ``Job``)."""
        stub = self.stub()
        tasks = self._group_tasks()
        group: dict[str, Any] = next((g for g in self.job.get("TaskGroups") or [] if g["Name"] == self.group), {})
        disk = int((group.get("EphemeralDisk") or {}).get("SizeMB") or 0)
        per_task = {
            t["Name"]: {
                "CPU": (t.get("Resources") or {}).get("CPU", 0), "MemoryMB": (t.get("Resources") or {}).get("MemoryMB", 0),
                "DiskMB": 0, "IOPS": 0, "Networks": None, "Devices": None,
            }
            for t in tasks
        }
        return {
            "ID": self.id, "Namespace": self.namespace, "EvalID": self.eval_id, "Name": self.name,
            "NodeID": NODE_ID, "NodeName": NODE_NAME, "JobID": self.job_id, "Job": self.job if with_job else None,
            "TaskGroup": self.group,
            "Resources": {
                "CPU": sum(r["CPU"] for r in per_task.values()), "MemoryMB": sum(r["MemoryMB"] for r in per_task.values()),
                "DiskMB": disk, "IOPS": 0, "Networks": None, "Devices": None,
            },
            "SharedResources": {"CPU": 0, "MemoryMB": 0, "DiskMB": disk, "IOPS": 0, "Networks": None, "Devices": None},
            "TaskResources": per_task,
            "AllocatedResources": {
                "Tasks": {
                    name: {"Cpu": {"CpuShares": r["CPU"]}, "Memory": {"MemoryMB": r["MemoryMB"]}, "Networks": None, "Devices": None}
                    for name, r in per_task.items()
                },
                "TaskLifecycles": {t["Name"]: t.get("Lifecycle") for t in tasks},
                "Shared": {"Networks": None, "DiskMB": disk, "Ports": None},
            },
            "Metrics": {
                "NodesEvaluated": 1, "NodesFiltered": 0, "NodesAvailable": {"dc1": 1}, "ClassFiltered": None,
                "ConstraintFiltered": None, "NodesExhausted": 0, "ClassExhausted": None, "DimensionExhausted": None,
                "QuotaExhausted": None, "Scores": None, "ScoreMetaData": None, "AllocationTime": 10000, "CoalescedFailures": 0,
            },
            "DesiredStatus": self.desired_status, "DesiredDescription": self.desired_description,
            "DesiredTransition": stub["DesiredTransition"], "ClientStatus": self.client_status,
            "ClientDescription": self.client_description, "TaskStates": stub["TaskStates"], "AllocStates": None,
            "PreviousAllocation": self.previous_allocation, "NextAllocation": self.next_allocation,
            "DeploymentID": self.deployment_id or "", "DeploymentStatus": stub["DeploymentStatus"],
            "RescheduleTracker": stub["RescheduleTracker"],
            "NetworkStatus": {"InterfaceName": "", "Address": "", "DNS": None},
            "FollowupEvalID": self.followup_eval_id, "PreemptedAllocations": None, "PreemptedByAllocation": "",
            "CreateIndex": self.create_index, "ModifyIndex": self.modify_index, "AllocModifyIndex": self.create_index,
            "CreateTime": self.create_time, "ModifyTime": self.modify_time,
        }


NODE_ID = "c0628419-7eb7-7caa-24be-89acb0b83fed"
NODE_NAME = "fake-node"


@dataclass
class GroupState:
    auto_promote: bool
    auto_revert: bool
    desired_canaries: int
    desired_total: int
    progress_deadline: int
    promoted: bool = False
    placed_canaries: list[str] = field(default_factory=list)
    require_progress_by: int | None = None  # wall-clock ns
    deadline_at: float | None = None  # the fake's clock


@dataclass
class Deployment:
    id: str
    namespace: str
    job_id: str
    job_version: int
    job_modify_index: int
    job_create_index: int
    groups: dict[str, GroupState]
    create_index: int
    modify_index: int
    status: str = "running"
    description: str = DESC_RUNNING
    success_at: float | None = None
    # [healthy, placed, unhealthy] per group, counted as Nomad's state store does: on each
    # placement into the deployment and each health report, never recomputed from the
    # allocations later (nomad/state/state_store.go updateDeploymentWithAlloc, v1.0.18).
    counters: dict[str, list[int]] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status in ("running", "paused")

    def requires_promotion(self) -> bool:
        return any(g.desired_canaries > 0 and not g.promoted for g in self.groups.values())

    def running_description(self) -> str:
        waiting = [g for g in self.groups.values() if g.desired_canaries > 0 and not g.promoted]
        if not waiting:
            return DESC_RUNNING
        return DESC_AUTO if all(g.auto_promote for g in waiting) else DESC_MANUAL

    def count_placed(self, group: str) -> None:
        self.counters.setdefault(group, [0, 0, 0])[1] += 1

    def count_health(self, group: str, healthy: bool) -> None:
        self.counters.setdefault(group, [0, 0, 0])[0 if healthy else 2] += 1

    def to_json(self, allocs: list[Alloc]) -> dict[str, Any]:
        groups = {}
        for name, g in self.groups.items():
            healthy, placed, unhealthy = self.counters.get(name, [0, 0, 0])
            groups[name] = {
                "AutoPromote": g.auto_promote, "AutoRevert": g.auto_revert,
                "DesiredCanaries": g.desired_canaries, "DesiredTotal": g.desired_total,
                "HealthyAllocs": healthy,
                "PlacedAllocs": placed, "PlacedCanaries": list(g.placed_canaries) or None,
                "ProgressDeadline": g.progress_deadline, "Promoted": g.promoted,
                "RequireProgressBy": rfc3339(g.require_progress_by) if g.require_progress_by else None,
                "UnhealthyAllocs": unhealthy,
            }
        return {
            "CreateIndex": self.create_index, "ID": self.id, "IsMultiregion": False,
            "JobCreateIndex": self.job_create_index, "JobID": self.job_id,
            "JobModifyIndex": self.job_modify_index, "JobSpecModifyIndex": self.job_modify_index,
            "JobVersion": self.job_version, "ModifyIndex": self.modify_index, "Namespace": self.namespace,
            "Status": self.status, "StatusDescription": self.description, "TaskGroups": groups,
        }


@dataclass
class GroupPlan:
    """What the scheduler would do for one group (also the plan annotations)."""

    place: int = 0
    canary: int = 0
    stop: list[Alloc] = field(default_factory=list)
    in_place: list[Alloc] = field(default_factory=list)
    destructive: list[Alloc] = field(default_factory=list)
    ignore: int = 0

    def annotations(self) -> dict[str, int]:
        return {
            "Canary": self.canary, "DestructiveUpdate": len(self.destructive), "Ignore": self.ignore,
            "InPlaceUpdate": len(self.in_place), "Migrate": 0, "Place": self.place, "Preemptions": 0,
            "Stop": len(self.stop),
        }

    def updates(self) -> dict[str, int]:
        pairs = (
            ("ignore", self.ignore), ("create", self.place), ("destroy", len(self.stop)),
            ("in-place update", len(self.in_place)), ("create/destroy update", len(self.destructive)),
            ("canary", self.canary),
        )
        return {k: v for k, v in pairs if v}


def group_of(job: Job, name: str) -> dict[str, Any] | None:
    return next((g for g in job.get("TaskGroups") or [] if g["Name"] == name), None)


def plan_group(
    job: Job,
    group_name: str,
    allocs: list[Alloc],
    *,
    deployment: Deployment | None,
    halted: bool = False,
) -> GroupPlan:
    """Decide the changes for one group of ``job`` given its live allocations (pure).

    ``allocs`` are the group's non-terminal allocations; ``job`` carries the
    Version the allocations will be moved to.  Destructive replacements are
    limited by ``max_parallel`` minus the new placements and the allocations
    of this deployment that are not healthy yet; with canaries, the old
    allocations are left alone until the deployment is promoted.  As in
    Nomad's ``computeLimit`` (scheduler/reconcile.go, v1.0.18), nothing is
    replaced while an allocation of the deployment is unhealthy, nor when this
    version's deployment failed or is paused (``halted``).
    """
    plan = GroupPlan()
    group = group_of(job, group_name)
    if group is None or job.get("Stop"):
        plan.stop = list(allocs)
        return plan
    version = job.get("Version", 0)
    current = [a for a in allocs if a.job_version == version and not tasks_updated(a.job, job, group_name)]
    others = [a for a in allocs if a not in current]
    taken = {a.index for a in current}
    # Old allocations whose name a new one (a canary) already took go first.
    destructive = sorted(
        (a for a in others if tasks_updated(a.job, job, group_name)), key=lambda a: (a.index not in taken, a.index)
    )
    in_place = [a for a in others if a not in destructive]
    update = group.get("Update") or {}
    count = int(group.get("Count") or 0)
    gstate = deployment.groups.get(group_name) if deployment else None
    canaries_wanted = int(update.get("Canary") or 0)
    promoted = bool(gstate and gstate.promoted)
    if canaries_wanted and destructive and not promoted:
        placed = sum(1 for a in current if a.canary)
        plan.canary = max(0, canaries_wanted - placed)
        plan.in_place = in_place
        plan.ignore = len(current) + len(destructive)
        return plan
    excess = len(current) + len(others) - count
    if excess > 0:
        # Scale down: old-version allocations go first, then the highest indexes.
        order = destructive + in_place + sorted(current, key=lambda a: -a.index)
        plan.stop = order[:excess]
        destructive = [a for a in destructive if a not in plan.stop]
        in_place = [a for a in in_place if a not in plan.stop]
        current = [a for a in current if a not in plan.stop]
    plan.in_place = in_place
    plan.place = max(0, count - len(current) - len(in_place) - len(destructive))
    max_parallel = int(update.get("MaxParallel") or 0)
    if max_parallel <= 0:
        plan.destructive = destructive
    elif halted or any(deployment is not None and a.deployment_id == deployment.id and a.healthy is False for a in current):
        plan.destructive = []
    else:
        unhealthy_in_flight = sum(
            1 for a in current if deployment is not None and a.deployment_id == deployment.id and a.healthy is None
        )
        budget = max(0, max_parallel - plan.place - unhealthy_in_flight)
        plan.destructive = destructive[:budget]
    plan.ignore = len(current) + len(destructive) - len(plan.destructive)
    return plan


def new_deployment(job: Job, *, index: int, create_index: int) -> Deployment | None:
    """The deployment Nomad creates for a new service-job version (None when it would not)."""
    if job.get("Type") != "service" or job.get("Stop"):
        return None
    groups: dict[str, GroupState] = {}
    for group in job.get("TaskGroups") or []:
        update = group.get("Update")
        if not update or not update.get("MaxParallel"):
            continue
        groups[group["Name"]] = GroupState(
            auto_promote=bool(update.get("AutoPromote")), auto_revert=bool(update.get("AutoRevert")),
            desired_canaries=0, desired_total=int(group.get("Count") or 0),
            progress_deadline=int(update.get("ProgressDeadline") or 0),
        )
    if not groups:
        return None
    return Deployment(
        id=str(uuid.uuid4()), namespace=job["Namespace"], job_id=job["ID"], job_version=int(job.get("Version", 0)),
        job_modify_index=int(job["JobModifyIndex"]), job_create_index=int(job["CreateIndex"]),
        groups=groups, create_index=index, modify_index=index,
    )
