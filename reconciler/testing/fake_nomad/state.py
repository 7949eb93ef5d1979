"""The fake cluster's state store: jobs and their versions, evaluations,
allocations, deployments, namespaces, ACLs and the Raft-like index.

Responsible for every state change and its bookkeeping (indexes per table,
job Status, versions, Stable flags, scale events, events for the stream)
and for waking blocking queries.  One lock guards everything; the HTTP
layer calls these methods and renders their results.  Decisions about
placements come from ``scheduler``; job shaping and validation from ``jobs``.
"""

from __future__ import annotations

import base64
import copy
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.testing.fake_nomad import jobs as jobspec
from reconciler.testing.fake_nomad import later, versions
from reconciler.testing.fake_nomad.acl import ACLStore
from reconciler.testing.fake_nomad.events import EventBroker
from reconciler.testing.fake_nomad.job_validation import multierror
from reconciler.testing.fake_nomad.plan import compute_plan
from reconciler.testing.fake_nomad.scheduler import (
    DESC_BY_USER,
    DESC_FAILED_ALLOCS,
    DESC_NEWER_JOB,
    DESC_PAUSED,
    DESC_PROGRESS,
    DESC_STOPPED_JOB,
    DESC_SUCCESS,
    NODE_ID,
    NODE_NAME,
    Alloc,
    Deployment,
    GroupPlan,
    group_of,
    new_deployment,
    plan_group,
    rfc3339,
)

Job = dict[str, Any]
Key = tuple[str, str]

AVAILABLE_DRIVERS = frozenset({"raw_exec", "exec", "mock_driver"})
HEALTH_MODES = ("healthy", "unhealthy", "never", "complete")


_EVAL_STREAM_ZEROS: dict[str, Any] = {
    "NodeID": "", "NodeModifyIndex": 0, "DeploymentID": "", "StatusDescription": "", "Wait": 0,
    "WaitUntil": "0001-01-01T00:00:00Z", "NextEval": "", "PreviousEval": "", "BlockedEval": "",
    "FailedTGAllocs": None, "ClassEligibility": None, "QuotaLimitReached": "", "EscapedComputedClass": False,
    "AnnotatePlan": False, "QueuedAllocations": None, "LeaderACL": "", "SnapshotIndex": 0,
}


def eval_answer(evaluation: dict[str, Any]) -> dict[str, Any]:
    """An evaluation as the HTTP API writes it: every field of structs.Evaluation is
    ``omitempty`` (v1.0.18 and v2.0.x), so zero values are left out, e.g. a job's
    evaluation without a deployment has no ``DeploymentID``, the deployment watcher's
    no ``JobModifyIndex``.  The event stream's encoder writes them all."""
    zero_time = _EVAL_STREAM_ZEROS["WaitUntil"]
    return {k: v for k, v in evaluation.items() if v not in ("", 0, False, None, {}, [], zero_time)}


def eval_list_order(evaluations: list[dict[str, Any]], *, version: tuple[int, int, int], prefix: str) -> list[dict[str, Any]]:
    """``GET /v1/evaluations`` order: memdb's ``id`` index (by ID) with a prefix, and in
    1.0.x to 1.2.x always; from 1.3.0 the ``namespace_create`` index (CreateIndex, then ID)
    (nomad/eval_endpoint.go List)."""
    if prefix or version < (1, 3, 0):
        return sorted(evaluations, key=lambda e: e["ID"])
    return sorted(evaluations, key=lambda e: (e["CreateIndex"], e["ID"]))


def job_eval_order(evaluations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``GET /v1/job/:id/evaluations`` order: the ``job`` index (Namespace, JobID, Status)
    then ID, so by Status then ID (state_store.go EvalsByJob, v1.0.18 to v2.0.x)."""
    return sorted(evaluations, key=lambda e: (e["Status"], e["ID"]))


class APIError(Exception):
    """An error answer: HTTP status plus Nomad's plain-text body."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


@dataclass(frozen=True)
class HealthModel:
    """How allocations of jobs without a ``set_health`` override behave over time.

    ``after_s`` None means the group's ``min_healthy_time`` (times ``time_scale``);
    ``time_scale`` also scales progress deadlines, so tests can run Nomad's own
    timings faster without changing the job.
    """

    mode: str = "healthy"
    after_s: float | None = None
    schedule_delay_s: float = 0.01
    start_delay_s: float = 0.05
    stop_delay_s: float = 0.1
    success_delay_s: float = 0.05
    time_scale: float = 1.0


def is_parent(job: Job) -> bool:
    """A periodic or parameterized job that is a template for child jobs (a dispatched
    child keeps its parent's ParameterizedJob but is not one: structs.Job.IsParameterized)."""
    return bool(job.get("Periodic")) or (bool(job.get("ParameterizedJob")) and not job.get("Dispatched"))


def runs_until_stopped(job: Job) -> bool:
    """System jobs and parents read ``running`` from their registration until stopped,
    whatever their allocations (state_store.go getJobStatus, v1.0.18 to v2.0.x)."""
    return job.get("Type") == "system" or is_parent(job)


DISPATCH_PAYLOAD_LIMIT = 16 * 1024  # nomad/job_endpoint.go DispatchPayloadSizeLimit (v1.0.18)


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


def _node_value(target: str, datacenter: str) -> str | None:
    """A constraint target as the fake's one client node resolves it (None: not set)."""
    if not (target.startswith("${") and target.endswith("}")):
        return target  # a literal
    name = target[2:-1]
    known = {
        "attr.kernel.name": "linux", "attr.cpu.arch": "amd64", "node.datacenter": datacenter,
        "node.unique.name": NODE_NAME, "node.unique.id": NODE_ID, "node.class": "", "node.region": "global",
        "attr.nomad.version": "1.0.18", "attr.driver.raw_exec": "1", "attr.driver.exec": "1",
    }
    return known.get(name)


def unmet_constraint(constraints: list[dict[str, Any]], datacenter: str) -> str | None:
    """The first constraint the fake's node does not satisfy, as Nomad names it in
    ``ConstraintFiltered`` ("LTarget Operand RTarget"); operators per scheduler/feasible.go
    checkConstraint (v1.0.18), the ones the fake cannot judge count as satisfied."""
    for c in constraints:
        ltarget, operand, rtarget = c.get("LTarget") or "", c.get("Operand") or "=", c.get("RTarget") or ""
        left, right = _node_value(ltarget, datacenter), _node_value(rtarget, datacenter)
        if operand in ("=", "==", "is"):
            ok = left is not None and right is not None and left == right
        elif operand in ("!=", "not"):
            ok = left != right
        elif operand == "regexp":
            ok = left is not None and right is not None and re.search(right, left) is not None
        elif operand == "is_set":
            ok = left is not None
        elif operand == "is_not_set":
            ok = left is None
        elif operand in ("set_contains", "set_contains_all"):
            ok = left is not None and set(x.strip() for x in (right or "").split(",")) <= set(x.strip() for x in left.split(","))
        else:
            ok = True
        if not ok:
            return f"{ltarget} {operand} {rtarget}"
    return None


def _runs_false(group: dict[str, Any]) -> bool:
    """A task whose command is ``false`` exits at once on a real client: its
    allocations never become healthy (recording 06 deploys ``/bin/false``)."""
    for task in group.get("Tasks") or []:
        command = str((task.get("Config") or {}).get("command") or "")
        if command.rsplit("/", 1)[-1] == "false":
            return True
    return False


@dataclass
class JobRecord:
    row: Job  # the live job row (GET /v1/job/:id)
    versions: list[Job]  # stored copies, oldest first
    scale_events: dict[str, list[dict[str, Any]]]
    submissions: dict[int, dict[str, Any]] = field(default_factory=dict)  # by version (Nomad >= 1.6)
    # The job summary's own ModifyIndex: Nomad writes the summary only when a count in it
    # changes (a new group, an allocation's client status, queued allocations, a child's
    # status), never for a stop or a scale (nomad/state/state_store.go, v1.0.18).
    summary_index: int = 0


class State:
    """All of the fake's state behind one re-entrant lock and condition."""

    def __init__(
        self,
        *,
        region: str,
        datacenters: tuple[str, ...],
        acl: bool,
        health: HealthModel,
        clock: Callable[[], float],
        broker: EventBroker,
        drivers: frozenset[str] = AVAILABLE_DRIVERS,
    ) -> None:
        self.lock = threading.RLock()
        self.drivers = drivers
        self.cond = threading.Condition(self.lock)
        self.region = region
        self.datacenters = datacenters
        self.health = health
        self.clock = clock
        self.broker = broker
        self.acl = ACLStore(acl)
        self.index = 1
        self.tables: dict[str, int] = {"namespaces": 1}
        self.namespaces: dict[str, dict[str, Any]] = {
            "default": {"CreateIndex": 1, "Description": "Default shared namespace", "ModifyIndex": 1, "Name": "default", "Quota": ""}
        }
        self.jobs: dict[Key, JobRecord] = {}
        self.evals: dict[str, dict[str, Any]] = {}
        self.allocs: dict[str, Alloc] = {}
        self.deployments: dict[str, Deployment] = {}
        self.health_overrides: dict[tuple[str, str, int | None], tuple[str, float | None]] = {}
        self.pending_evals: list[tuple[float, Key, dict[str, Any]]] = []
        self.wakeup = threading.Event()  # set when the scheduler worker has work
        # Version-dependent event details: a purge emits a Job event from 1.7.5, flagged Deleted from 1.11.3.
        self.purge_job_event = False
        self.purge_deleted_flag = False
        # What the stored job looks like: the configured release's read-back, plus test extras.
        self.nomad_version: versions.V = (1, 0, 18)
        self.readback_extras = versions.Extras()
        self.admission_nonce: set[Key] = set()  # jobs whose every submission is altered

    # --- bookkeeping -------------------------------------------------------------
    def bump(self, *tables: str) -> int:
        self.index += 1
        for table in tables:
            self.tables[table] = self.index
        self.cond.notify_all()
        return self.index

    def table_index(self, *tables: str) -> int:
        return max([self.tables.get(t, 0) for t in tables] + [1])

    def wait(self, current: Callable[[], int], min_index: int, timeout: float) -> None:
        """Block until ``current() > min_index`` or ``timeout`` (a blocking query)."""
        if min_index <= 0 or timeout <= 0:
            return
        with self.cond:
            self.cond.wait_for(lambda: current() > min_index, timeout)

    def publish(self, index: int, events: list[dict[str, Any]]) -> None:
        self.broker.publish(index, events)

    @staticmethod
    def now_ns() -> int:
        return time.time_ns()

    # --- namespaces ----------------------------------------------------------------
    def upsert_namespace(self, name: str, description: str) -> int:
        with self.lock:
            index = self.bump("namespaces")
            existing = self.namespaces.get(name)
            self.namespaces[name] = {
                "CreateIndex": existing["CreateIndex"] if existing else index, "Description": description,
                "ModifyIndex": index, "Name": name, "Quota": "",
            }
            return index

    def delete_namespace(self, name: str) -> int:
        with self.lock:
            if name == "default":
                raise APIError(500, "default namespace can not be deleted")
            live = [k for k, r in self.jobs.items() if k[0] == name and r.row["Status"] != "dead"]
            if live:
                raise APIError(500, multierror([f'namespace "{name}" has non-terminal jobs in regions: [{self.region}]']))
            self.namespaces.pop(name, None)
            return self.bump("namespaces")

    # --- jobs ------------------------------------------------------------------------
    def get_record(self, namespace: str, job_id: str) -> JobRecord | None:
        return self.jobs.get((namespace, job_id))

    def _job_status(self, rec: JobRecord) -> str:
        if runs_until_stopped(rec.row):
            return "dead" if rec.row.get("Stop") else "running"
        key = (rec.row["Namespace"], rec.row["ID"])
        allocs = [a for a in self.allocs.values() if (a.namespace, a.job_id) == key]
        if any(not a.terminal for a in allocs):
            return "running"
        if rec.row.get("Stop"):
            return "dead"
        if any(e["Status"] in ("pending", "blocked") for e in self.evals.values() if (e["Namespace"], e["JobID"]) == key):
            return "pending"
        if allocs:
            return "dead"
        return "pending"

    def _refresh_status(self, rec: JobRecord, index: int) -> bool:
        status = self._job_status(rec)
        if status == rec.row["Status"]:
            return False
        rec.row["Status"] = status
        rec.row["ModifyIndex"] = index
        self.tables["jobs"] = index
        if rec.row.get("ParentID"):
            self._touch_summary((rec.row["Namespace"], rec.row["ParentID"]), index)  # its Children counts
        return True

    def _touch_summary(self, key: Key, index: int) -> None:
        """A count in the job's summary changed at ``index``."""
        rec = self.jobs.get(key)
        if rec is not None:
            rec.summary_index = index
            self.tables["job_summary"] = index

    def register(
        self,
        api_job: Job,
        *,
        namespace: str,
        enforce_index: bool,
        job_modify_index: int,
        preserve_counts: bool,
        token_accessor: str,
        submission: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            job_id = api_job["ID"]
            if namespace not in self.namespaces:
                raise APIError(500, f'job "{job_id}" is in nonexistent namespace "{namespace}"')
            struct = self._struct(api_job, namespace)
            struct["NomadTokenID"] = token_accessor
            rec = self.jobs.get((namespace, job_id))
            if enforce_index:
                if rec is None and job_modify_index != 0:
                    raise APIError(500, f"Enforcing job modify index {job_modify_index}: job does not exist")
                if rec is not None and job_modify_index == 0:
                    raise APIError(500, "Enforcing job modify index 0: job already exists")
                if rec is not None and rec.row["JobModifyIndex"] != job_modify_index:
                    raise APIError(
                        500,
                        f"Enforcing job modify index {job_modify_index}: job exists with conflicting job modify index: {rec.row['JobModifyIndex']}",
                    )
            if rec is not None and rec.row.get("Type") != struct["Type"]:
                raise APIError(500, f'cannot update job from type "{rec.row["Type"]}" to "{struct["Type"]}"')
            if rec is not None and preserve_counts:
                for group in struct["TaskGroups"]:
                    live = group_of(rec.row, group["Name"])
                    if live is not None:
                        group["Count"] = live["Count"]
            if rec is not None and not jobspec.spec_changed(rec.row, struct) and is_parent(rec.row):
                return self._register_reply(None, self.index, rec.row["JobModifyIndex"])
            if rec is not None and not jobspec.spec_changed(rec.row, struct):
                return self._register_unchanged(rec)
            index = self.bump("jobs", "evals")
            rec = self._store_version(rec, struct, index)
            if submission is not None:
                # Stored only with a new version (an unchanged spec writes nothing).
                rec.submissions[rec.row["Version"]] = {
                    "Format": submission.get("Format") or "", "JobID": rec.row["ID"], "JobModifyIndex": index,
                    "Namespace": rec.row["Namespace"], "Source": submission.get("Source") or "",
                    "VariableFlags": submission.get("VariableFlags"), "Variables": submission.get("Variables") or "",
                    "Version": rec.row["Version"],
                }
            if is_parent(rec.row):
                # A periodic or parameterized parent is only a template: no evaluation, no placements.
                self._refresh_status(rec, index)
                self.publish(index, [self._job_event("JobRegistered", rec.row)])
                return self._register_reply(None, index, index)
            evaluation = self._new_eval(rec.row, index, "job-register")
            self.publish(index, [self._eval_event("JobRegistered", evaluation), self._job_event("JobRegistered", rec.row)])
            self._enqueue(rec, evaluation)
            return self._register_reply(evaluation, index, index)

    def _struct(self, api_job: Job, namespace: str) -> Job:
        """The job as this release stores it; a plan fills the same, so a resubmission diffs as None."""
        struct = jobspec.to_struct_job(api_job, namespace=namespace, region=self.region)
        later.keep_submitted(struct, api_job, self.nomad_version)
        versions.store_for_version(struct, self.nomad_version)
        self.readback_extras.apply(struct)
        if (namespace, api_job["ID"]) in self.admission_nonce:
            # A mutating admission step (as a policy engine in front of Nomad might
            # add): every submission gets a new Meta value, so it never converges.
            struct["Meta"] = {**(struct.get("Meta") or {}), "admission-nonce": str(self.index + 1)}
        return struct

    def _store_version(self, rec: JobRecord | None, struct: Job, index: int) -> JobRecord:
        now = self.now_ns()
        struct.update(
            CreateIndex=rec.row["CreateIndex"] if rec else index, ModifyIndex=index, JobModifyIndex=index,
            SubmitTime=now, Version=(rec.row["Version"] + 1) if rec else 0, Stable=False,
            Status="pending" if rec is None else rec.row["Status"], StatusDescription="",
        )
        if runs_until_stopped(struct):
            struct["Status"] = "dead" if struct.get("Stop") else "running"  # set with the write itself
        if rec is None:
            rec = JobRecord(row=struct, versions=[], scale_events={})
            self.jobs[(struct["Namespace"], struct["ID"])] = rec
            self._touch_summary((struct["Namespace"], struct["ID"]), index)  # the summary is created
        else:
            known = {g["Name"] for v in [rec.row, *rec.versions] for g in v.get("TaskGroups") or []}
            rec.row = struct
            if any(g["Name"] not in known for g in struct.get("TaskGroups") or []):
                self._touch_summary((struct["Namespace"], struct["ID"]), index)  # a group to count
        rec.versions.append(copy.deepcopy(struct))
        del rec.versions[:-6]  # job_tracked_versions
        return rec

    def _register_unchanged(self, rec: JobRecord) -> dict[str, Any]:
        """An unchanged spec: no new version, but Nomad still creates an evaluation."""
        index = self.bump("evals")
        evaluation = self._new_eval(rec.row, index, "job-register")
        self._enqueue(rec, evaluation)
        return self._register_reply(evaluation, index, rec.row["JobModifyIndex"])

    @staticmethod
    def _register_reply(evaluation: dict[str, Any] | None, index: int, job_modify_index: int) -> dict[str, Any]:
        return {
            "EvalCreateIndex": evaluation["CreateIndex"] if evaluation else 0,
            "EvalID": evaluation["ID"] if evaluation else "", "Index": index,
            "JobModifyIndex": job_modify_index, "KnownLeader": False, "LastContact": 0, "Warnings": "",
        }

    def _new_eval(self, job: Job, index: int, triggered_by: str) -> dict[str, Any]:
        now = self.now_ns()
        evaluation = {
            "CreateIndex": index, "CreateTime": now, "DeploymentID": "", "ID": str(uuid.uuid4()),
            "JobID": job["ID"], "JobModifyIndex": job["JobModifyIndex"], "ModifyIndex": index, "ModifyTime": now,
            "Namespace": job["Namespace"], "Priority": job.get("Priority", 50), "QueuedAllocations": None,
            "SnapshotIndex": index, "Status": "pending", "TriggeredBy": triggered_by, "Type": job.get("Type"),
        }
        self.evals[evaluation["ID"]] = evaluation
        return evaluation

    def deregister(self, namespace: str, job_id: str, *, purge: bool) -> dict[str, Any]:
        with self.lock:
            rec = self.jobs.get((namespace, job_id))
            if rec is None and self.nomad_version >= (1, 6, 0):
                # Nothing to deregister: an empty answer, no evaluation (nomad/job_endpoint.go
                # Deregister returns early from v1.6.0).
                return self._deregister_reply({"CreateIndex": 0, "ID": ""}, 0)
            # A purge deletes the job's summary; a stop leaves it as it is.
            index = self.bump("jobs", "evals", *(("job_summary",) if purge else ()))
            stub = {"ID": job_id, "Namespace": namespace, "JobModifyIndex": index, "Priority": 50, "Type": "service"}
            if rec is None:
                # Nomad 1.0.18 answers 200 and still creates an evaluation.
                evaluation = self._new_eval(stub, index, "job-deregister")
                evaluation["Status"] = "complete"
                return self._deregister_reply(evaluation, index)
            parent = is_parent(rec.row)
            if purge:
                del self.jobs[(namespace, job_id)]  # its children live on (Nomad does not cascade)
                row = rec.row
            else:
                stopped = copy.deepcopy(rec.row)
                stopped["Stop"] = True
                stable, submitted = rec.row["Stable"], rec.row["SubmitTime"]
                rec = self._store_version(rec, stopped, index)
                # A copy of the current version with Stop set (nomad/fsm.go handleJobDeregister,
                # v1.0.18): its Stable flag and SubmitTime are the current version's.
                rec.row["Stable"] = rec.versions[-1]["Stable"] = stable
                rec.row["SubmitTime"] = rec.versions[-1]["SubmitTime"] = submitted
                row = rec.row
            if parent:
                # No evaluation for a periodic or parameterized parent (nomad/job_endpoint.go
                # Deregister, v1.0.18): the reply's EvalID is empty.
                job_events = [self._job_event("JobDeregistered", row)] if not purge or self.purge_job_event else []
                self.publish(index, job_events)
                if not purge:
                    self._refresh_status(rec, index)
                # Still answers the write's index as EvalCreateIndex (checked on 1.0.18).
                return self._deregister_reply({"CreateIndex": index, "ID": ""}, index)
            # Nomad types every deregistration's evaluation "service", whatever the job's type
            # (nomad/job_endpoint.go Deregister, v1.0.18 and v2.0.x).
            evaluation = self._new_eval({**row, "JobModifyIndex": index, "Type": "service"}, index, "job-deregister")
            events = [self._eval_event("JobDeregistered", evaluation)]
            if not purge or self.purge_job_event:
                job_event = self._job_event("JobDeregistered", row)
                if purge and self.purge_deleted_flag:
                    job_event["Payload"]["Deleted"] = True
                events.append(job_event)
            self.publish(index, events)
            self._stop_job_allocs(namespace, job_id, index, evaluation)
            if not purge:
                self._refresh_status(rec, index)
            return self._deregister_reply(evaluation, index)

    # --- child jobs --------------------------------------------------------------------
    def _launch_child(self, parent: Job, child_id: str, **fields: Any) -> tuple[JobRecord, int]:
        """Register a child of ``parent`` as Nomad's dispatcher does (a copy with a derived ID)."""
        struct = copy.deepcopy(parent)
        struct.update(ID=child_id, Name=child_id, ParentID=parent["ID"], Status="", StatusDescription="", **fields)
        index = self.bump("jobs")
        rec = self._store_version(self.jobs.get((parent["Namespace"], child_id)), struct, index)
        rec.row["Stable"] = rec.versions[-1]["Stable"] = False
        self._touch_summary((parent["Namespace"], parent["ID"]), index)  # a new child to count
        self.publish(index, [self._job_event("JobRegistered", rec.row)])
        return rec, index

    def periodic_force(self, namespace: str, job_id: str) -> dict[str, Any]:
        """Launch a periodic job's child now (nomad/periodic_endpoint.go Force, v1.0.18)."""
        with self.lock:
            rec = self.jobs.get((namespace, job_id))
            if rec is None:
                raise APIError(500, "job not found")
            if not rec.row.get("Periodic"):
                raise APIError(500, "can't force launch non-periodic job")
            if rec.row.get("Stop"):
                # A stopped periodic job is no longer tracked by the dispatcher.
                raise APIError(500, f'force launch for job "{job_id}" failed: can\'t force run non-tracked job "{job_id}" ({namespace})')
            child_id = f"{job_id}/periodic-{int(time.time())}"
            child, _ = self._launch_child(rec.row, child_id, Periodic=None)
            index = self.bump("evals")
            evaluation = self._new_eval(child.row, index, "periodic-job")
            self.publish(index, [self._eval_event("JobRegistered", evaluation)])
            self._enqueue(child, evaluation)
            return {"EvalCreateIndex": index, "EvalID": evaluation["ID"], "Index": index}

    def dispatch(self, namespace: str, job_id: str, *, meta: dict[str, str], payload: bytes) -> dict[str, Any]:
        """Dispatch a parameterized job (nomad/job_endpoint.go Dispatch and
        validateDispatchRequest, v1.0.18: the same checks, in the same order, same texts)."""
        with self.lock:
            if not job_id:
                raise APIError(500, "missing parameterized job ID")
            rec = self.jobs.get((namespace, job_id))
            if rec is None:
                raise APIError(500, "parameterized job not found")
            parent = rec.row
            config = parent.get("ParameterizedJob")
            if not config or parent.get("Dispatched"):
                raise APIError(500, f'Specified job "{job_id}" is not a parameterized job')
            if parent.get("Stop"):
                raise APIError(500, f'Specified job "{job_id}" is stopped')
            mode = config.get("Payload") or "optional"
            if mode == "required" and not payload:
                raise APIError(500, "Payload is not provided but required by parameterized job")
            if mode == "forbidden" and payload:
                raise APIError(500, "Payload provided but forbidden by parameterized job")
            if len(payload) > DISPATCH_PAYLOAD_LIMIT:
                raise APIError(500, f"Payload exceeds maximum size; {len(payload)} > {DISPATCH_PAYLOAD_LIMIT}")
            required = list(config.get("MetaRequired") or [])
            allowed = set(required) | set(config.get("MetaOptional") or [])
            unpermitted = [k for k in meta if k not in allowed]
            if unpermitted:
                raise APIError(500, f"Dispatch request included unpermitted metadata keys: {_go_list(unpermitted)}")
            missing = [k for k in required if k not in meta]
            if missing:
                raise APIError(500, f"Dispatch did not provide required meta keys: {_go_list(missing)}")
            child_id = f"{job_id}/dispatch-{int(time.time())}-{uuid.uuid4().hex[:8]}"
            merged = {**(parent.get("Meta") or {}), **meta} if (parent.get("Meta") or meta) else parent.get("Meta")
            # Nomad keeps the payload snappy-compressed but reads it back as sent (checked on 1.0.18).
            encoded = base64.b64encode(payload).decode() if payload else None
            child, create_index = self._launch_child(parent, child_id, Dispatched=True, Meta=merged, Payload=encoded)
            reply: dict[str, Any] = {"DispatchedJobID": child_id, "EvalCreateIndex": 0, "EvalID": "",
                                     "Index": create_index, "JobCreateIndex": create_index}
            if not child.row.get("Periodic"):
                index = self.bump("evals")
                evaluation = self._new_eval(child.row, index, "job-register")
                evaluation["JobModifyIndex"] = create_index
                self.publish(index, [self._eval_event("JobRegistered", evaluation)])
                self._enqueue(child, evaluation)
                reply.update(EvalCreateIndex=index, EvalID=evaluation["ID"], Index=index)
            return reply

    @staticmethod
    def _deregister_reply(evaluation: dict[str, Any], index: int) -> dict[str, Any]:
        return {
            "EvalCreateIndex": evaluation["CreateIndex"], "EvalID": evaluation["ID"], "Index": index,
            "JobModifyIndex": index, "KnownLeader": False, "LastContact": 0, "VolumeEvalID": "", "VolumeEvalIndex": 0,
        }

    def _stop_job_allocs(self, namespace: str, job_id: str, index: int, evaluation: dict[str, Any]) -> None:
        now = self.clock()
        for alloc in self.allocs.values():
            if (alloc.namespace, alloc.job_id) == (namespace, job_id) and alloc.desired_status == "run":
                alloc.desired_status = "stop"
                alloc.desired_description = "alloc not needed due to job update"
                alloc.stop_at = now + self.health.stop_delay_s
                alloc.modify_index = index
        for dep in self.deployments.values():
            if (dep.namespace, dep.job_id) == (namespace, job_id) and dep.active:
                self._set_deployment_status(dep, "cancelled", DESC_STOPPED_JOB, index)
        self._scheduled(evaluation)
        evaluation["Status"] = "complete"
        self.tables["allocs"] = index

    # --- scheduling ----------------------------------------------------------------
    def _job_allocs(self, job: Job, group: str | None = None) -> list[Alloc]:
        key = (job["Namespace"], job["ID"])
        return [
            a for a in self.allocs.values()
            if (a.namespace, a.job_id) == key and a.occupies_slot and (group is None or a.group == group)
        ]

    def latest_deployment(self, namespace: str, job_id: str) -> Deployment | None:
        mine = [d for d in self.deployments.values() if (d.namespace, d.job_id) == (namespace, job_id)]
        return max(mine, key=lambda d: d.create_index) if mine else None

    def _timing(self, job: Job, group: dict[str, Any]) -> tuple[str, float]:
        """(mode, seconds from running to healthy) for new allocations of ``group``."""
        model = ("unhealthy", None) if _runs_false(group) else (self.health.mode, self.health.after_s)
        default = self.health_overrides.get((job["Namespace"], job["ID"], None), model)
        mode, after = self.health_overrides.get((job["Namespace"], job["ID"], job.get("Version")), default)
        if after is None:
            after = self.health.after_s
        if after is None:
            update = group.get("Update") or {}
            after = (update.get("MinHealthyTime") or 0) / 1e9 * self.health.time_scale
        return mode, after

    def _enqueue(self, rec: JobRecord, evaluation: dict[str, Any]) -> None:
        """Hand the evaluation to the scheduler worker (the next tick), as Nomad's broker
        does: a write's response and its blocking-query wake-ups precede the placements."""
        ready_at = time.monotonic() + self.health.schedule_delay_s
        self.pending_evals.append((ready_at, (rec.row["Namespace"], rec.row["ID"]), evaluation))
        self.wakeup.set()

    def _run_pending_evals(self, *, all_pending: bool) -> None:
        now = time.monotonic()
        ready = [p for p in self.pending_evals if all_pending or p[0] <= now]
        self.pending_evals = [p for p in self.pending_evals if p not in ready]
        for _, key, evaluation in ready:
            rec = self.jobs.get(key)
            if rec is not None:
                self._schedule(rec, evaluation)

    def _schedule(self, rec: JobRecord, evaluation: dict[str, Any]) -> None:
        """Run the evaluation: place, stop and update allocations; create the deployment."""
        job = rec.row
        if job.get("Stop"):
            index = self.bump("allocs", "evals", "deployment")
            self._stop_job_allocs(job["Namespace"], job["ID"], index, evaluation)
            self._refresh_status(rec, index)
            return
        latest = self.latest_deployment(job["Namespace"], job["ID"])
        deployment = latest if latest and latest.job_version == job["Version"] and latest.active else None
        halted = latest is not None and latest.job_version == job["Version"] and latest.status in ("failed", "paused")
        # Before anything else Nomad stops the unpromoted canaries of an older deployment or
        # of a failed one (handleGroupCanaries, scheduler/reconcile.go v1.0.18): after an
        # auto-revert the failed canary goes, it is not a destructive update of the revert.
        dropped: set[str] = set()
        if latest is not None and (latest.job_version != job["Version"] or latest.status == "failed"):
            dropped = {c for g in latest.groups.values() if not g.promoted for c in g.placed_canaries}
        plans = {g["Name"]: plan_group(job, g["Name"], [a for a in self._job_allocs(job, g["Name"]) if a.id not in dropped],
                                       deployment=deployment, halted=halted)
                 for g in job.get("TaskGroups") or []}
        for alloc in self._job_allocs(job):
            if alloc.id in dropped:
                plans.setdefault(alloc.group, GroupPlan()).stop.append(alloc)
            elif group_of(job, alloc.group) is None:
                plans.setdefault(alloc.group, plan_group(job, alloc.group, [], deployment=None)).stop.append(alloc)
        work = any(p.place or p.canary or p.stop or p.in_place or p.destructive for p in plans.values())
        new_dep = None
        if deployment is None and (latest is None or latest.job_version != job["Version"]) and job["Type"] == "service":
            index = self.index + 1
            new_dep = new_deployment(job, index=index, create_index=index)
        if not work and new_dep is None:
            self._scheduled(evaluation)
            evaluation["Status"] = "complete"
            self._refresh_status(rec, self.index)
            return
        index = self.bump("allocs", "evals", "deployment")
        events: list[dict[str, Any]] = []
        if new_dep is not None:
            new_dep.create_index = new_dep.modify_index = index
            for old in self.deployments.values():
                if (old.namespace, old.job_id) == (new_dep.namespace, new_dep.job_id) and old.active:
                    self._set_deployment_status(old, "cancelled", DESC_NEWER_JOB, index)
            for name, gstate in new_dep.groups.items():
                plan = plans.get(name)
                if plan is not None and plan.canary:
                    gstate.desired_canaries = int((group_of(job, name) or {}).get("Update", {}).get("Canary") or 0)
            new_dep.description = new_dep.running_description()
            self.deployments[new_dep.id] = new_dep
            deployment = new_dep
            evaluation["DeploymentID"] = new_dep.id
        placed: list[Alloc] = []
        for name, plan in plans.items():
            group = group_of(job, name)
            for alloc in plan.stop:
                self._stop_alloc(alloc, index, "alloc not needed due to job update")
            if group is None:
                continue
            for alloc in plan.in_place:
                alloc.job = copy.deepcopy(job)
                alloc.modify_index = index
                if deployment is not None and name in deployment.groups:
                    self._attach(alloc, deployment, job, group)
            for alloc in plan.destructive:
                self._stop_alloc(alloc, index, "alloc is being updated due to job update")
                placed.append(self._place(job, group, alloc.index, evaluation, deployment, index, canary=False))
            used = {a.index for a in self._job_allocs(job, name)}
            if plan.canary:
                # Canaries take the lowest names not used by allocations of the new version.
                used = {a.index for a in self._job_allocs(job, name) if a.job_version == job["Version"]}
            for _ in range(plan.place + plan.canary):
                slot = next(i for i in range(len(used) + 1) if i not in used)
                used.add(slot)
                canary = plan.canary > 0
                alloc = self._place(job, group, slot, evaluation, deployment, index, canary=canary)
                placed.append(alloc)
                if canary and deployment is not None and name in deployment.groups:
                    deployment.groups[name].placed_canaries.append(alloc.id)
        queued = {name: 0 for name in plans}
        for alloc in placed:
            if alloc.client_status == "blocked":
                queued[alloc.group] += 1
        self._scheduled(evaluation)
        blocked = [a for a in placed if a.client_status == "blocked"]
        was_blocked = any(e["Status"] == "blocked" and (e["Namespace"], e["JobID"]) == (job["Namespace"], job["ID"])
                          for e in self.evals.values())
        if placed or was_blocked:
            # New allocations count as Starting (or Queued); an unblocked job's Queued goes back to 0.
            self._touch_summary((job["Namespace"], job["ID"]), index)
        evaluation.update(Status="complete", ModifyIndex=index, ModifyTime=self.now_ns(), QueuedAllocations=queued)
        if blocked:
            reasons = {a.group: a.client_description for a in blocked}
            evaluation["FailedTGAllocs"] = {
                name: self._failed_tg_metrics(reasons.get(name) or "", n) for name, n in queued.items() if n
            }
            evaluation["BlockedEval"] = str(uuid.uuid4())
            self.evals[evaluation["BlockedEval"]] = {
                **evaluation, "ID": evaluation["BlockedEval"], "Status": "blocked", "TriggeredBy": "queued-allocs",
                "BlockedEval": "", "FailedTGAllocs": None,
            }
        if deployment is not None:
            deployment.modify_index = index
            if (deployment.active and not deployment.requires_promotion()
                    and any(g.desired_canaries for g in deployment.groups.values())
                    and all(self._group_complete(deployment, job, name) for name in deployment.groups)):
                # Promoted canaries that are all there and healthy: this plan (the one that
                # stops the old allocations) completes the deployment at once.
                deployment.status, deployment.description = "successful", DESC_SUCCESS
                self.tables["jobs"] = index
                self._mark_stable(rec, deployment.job_version, index)
            events.append(self._deployment_event("PlanResult", deployment))
        events.insert(0, self._eval_event("PlanResult", evaluation))
        events.extend(self._alloc_event("PlanResult", a) for a in placed if a.id in self.allocs)
        # The plan writes the job (and so emits a Job event) only when its status changes.
        if self._refresh_status(rec, index):
            events.append(self._job_event("PlanResult", rec.row))
        self.publish(index, events)
        self._eval_updated(evaluation)

    def _scheduled(self, evaluation: dict[str, Any]) -> None:
        """What a scheduler writes on every evaluation it completes (scheduler/generic_sched.go
        and util.go setStatus, v1.0.18 to v2.0.x): the queued count of each of the job's groups
        (none once the job is purged), and from the service scheduler the ID of the job's
        latest deployment, whatever its status."""
        key = (evaluation["Namespace"], evaluation["JobID"])
        rec = self.jobs.get(key)
        if evaluation.get("QueuedAllocations") is None and rec is not None:
            evaluation["QueuedAllocations"] = {g["Name"]: 0 for g in rec.row.get("TaskGroups") or []} or None
        if evaluation.get("Type") == "service" and not evaluation.get("DeploymentID"):
            latest = self.latest_deployment(*key)
            if latest is not None:
                evaluation["DeploymentID"] = latest.id

    def _place(self, job: Job, group: dict[str, Any], slot: int, evaluation: dict[str, Any],
               deployment: Deployment | None, index: int, *, canary: bool) -> Alloc:
        now_ns = self.now_ns()
        alloc = Alloc(
            id=str(uuid.uuid4()), namespace=job["Namespace"], job_id=job["ID"], group=group["Name"], index=slot,
            job=copy.deepcopy(job), eval_id=evaluation["ID"], deployment_id=None, create_index=index,
            create_time=now_ns, modify_index=index, modify_time=now_ns, canary=canary,
        )
        reason = self._placement_blocker(job, group)
        if reason is not None:
            alloc.client_status = "blocked"  # cannot be placed: becomes a queued allocation
            alloc.client_description = reason
            return alloc
        self.allocs[alloc.id] = alloc
        mode, after = self._timing(job, group)
        alloc.start_at = self.clock() + self.health.start_delay_s
        alloc.fails = mode == "unhealthy"
        if mode == "complete":
            alloc.complete_at = alloc.start_at + after
        if deployment is not None and group["Name"] in deployment.groups:
            self._attach(alloc, deployment, job, group)
        return alloc

    def _placement_blocker(self, job: Job, group: dict[str, Any]) -> str | None:
        """Why no node can take an allocation of ``group`` (Nomad's ConstraintFiltered key;
        "" when no datacenter matches), or None.  Checked in Nomad's order (scheduler/stack.go,
        v1.0.18): job constraints, drivers, then the group's and its tasks' constraints."""
        datacenters = [dc for dc in job.get("Datacenters") or [] if dc in self.datacenters]
        if not datacenters:
            return ""
        dc = datacenters[0]
        group_constraints = [*(group.get("Constraints") or [])]
        for task in group.get("Tasks") or []:
            group_constraints.extend(task.get("Constraints") or [])
        reason = unmet_constraint(job.get("Constraints") or [], dc)
        if reason is None and not {t.get("Driver") for t in group.get("Tasks") or []} <= self.drivers:
            reason = "missing drivers"
        if reason is None:
            reason = unmet_constraint(group_constraints, dc)
        return reason

    def _failed_tg_metrics(self, reason: str, n: int) -> dict[str, Any]:
        return {
            "AllocationTime": 10000, "ClassExhausted": None, "ClassFiltered": None, "CoalescedFailures": n - 1,
            "ConstraintFiltered": {reason or "missing drivers": len(self.datacenters)},
            "DimensionExhausted": None, "NodesAvailable": {dc: 1 for dc in self.datacenters},
            "NodesEvaluated": len(self.datacenters), "NodesExhausted": 0,
            "NodesFiltered": len(self.datacenters), "QuotaExhausted": None, "ScoreMetaData": None, "Scores": None,
        }

    def _attach(self, alloc: Alloc, deployment: Deployment, job: Job, group: dict[str, Any]) -> None:
        if alloc.deployment_id != deployment.id:
            deployment.count_placed(alloc.group)
        alloc.deployment_id = deployment.id
        alloc.healthy = None
        mode, after = self._timing(job, group)
        start = max(alloc.start_at, self.clock())
        alloc.healthy_at = start + after if mode == "healthy" else None
        alloc.unhealthy_at = start if mode == "unhealthy" else None
        gstate = deployment.groups[group["Name"]]
        if gstate.deadline_at is None:
            self._extend_deadline(gstate)

    def _extend_deadline(self, gstate: Any) -> None:
        if gstate.progress_deadline:
            seconds = gstate.progress_deadline / 1e9 * self.health.time_scale
            gstate.deadline_at = self.clock() + seconds
            gstate.require_progress_by = self.now_ns() + gstate.progress_deadline

    def _plan_reschedule(self, alloc: Alloc) -> None:
        """A failed allocation gets a delayed follow-up evaluation per the group's
        reschedule policy; ``tick`` replaces the allocation when the delay is over."""
        group = group_of(alloc.job, alloc.group) or {}
        policy = group.get("ReschedulePolicy")
        if not policy:
            return
        attempts = len(alloc.reschedule_events)
        if not policy.get("Unlimited") and attempts >= int(policy.get("Attempts") or 0):
            return
        delay_ns = _reschedule_delay(policy, attempts)
        job = {**alloc.job, "JobModifyIndex": alloc.job.get("JobModifyIndex", 0)}
        follow = self._new_eval(job, self.index, "alloc-failure")
        follow.update(PreviousEval=alloc.eval_id, WaitUntil=rfc3339(self.now_ns() + delay_ns))
        alloc.followup_eval_id = follow["ID"]
        alloc.reschedule = True
        alloc.reschedule_at = self.clock() + delay_ns / 1e9 * self.health.time_scale
        alloc.reschedule_delay_ns = delay_ns

    def _reschedule(self, alloc: Alloc) -> Alloc | None:
        """Replace a failed allocation whose reschedule delay is over (same name, current job)."""
        alloc.reschedule_at = None
        rec = self.jobs.get((alloc.namespace, alloc.job_id))
        if rec is None or rec.row.get("Stop") or alloc.desired_status != "run":
            return None
        job = rec.row
        group = group_of(job, alloc.group)
        if group is None:
            return None
        latest = self.latest_deployment(alloc.namespace, alloc.job_id)
        if latest is not None and latest.status == "failed" and latest.id == alloc.deployment_id:
            # Nomad does not reschedule the failed allocations of a failed deployment into
            # it (scheduler/reconcile.go computePlacements, v1.0.18): the slot stays failed.
            return None
        index = self.bump("allocs", "evals")
        self._touch_summary((alloc.namespace, alloc.job_id), index)
        evaluation = self.evals.get(alloc.followup_eval_id) or self._new_eval(job, index, "alloc-failure")
        self._scheduled(evaluation)
        evaluation.update(Status="complete", ModifyIndex=index)
        dep = self.latest_deployment(alloc.namespace, alloc.job_id)
        dep = dep if dep is not None and dep.active and dep.job_version == job["Version"] else None
        new = self._place(job, group, alloc.index, evaluation, dep, index, canary=False)
        new.reschedule_events = [*alloc.reschedule_events, {
            "Delay": alloc.reschedule_delay_ns, "PrevAllocID": alloc.id,
            "PrevNodeID": NODE_ID, "RescheduleTime": self.now_ns(),
        }]
        alloc.next_allocation = new.id
        new.previous_allocation = alloc.id
        alloc.modify_index = index
        self.publish(index, [self._eval_event("PlanResult", evaluation), self._alloc_event("PlanResult", new)])
        return new

    def _stop_alloc(self, alloc: Alloc, index: int, description: str) -> None:
        alloc.desired_status = "stop"
        alloc.desired_description = description
        alloc.modify_index = index
        alloc.stop_at = self.clock() + self.health.stop_delay_s

    def _set_deployment_status(self, dep: Deployment, status: str, description: str, index: int) -> None:
        dep.status = status
        dep.description = description
        dep.modify_index = index
        self.tables["deployment"] = index
        self.publish(index, [self._deployment_event("DeploymentStatusUpdate", dep)])

    # --- time passes ------------------------------------------------------------------
    def tick(self, *, all_pending: bool = True) -> None:
        """Advance allocations and deployments to the fake's current clock.

        Pending evaluations run too: all of them, or (for the background worker)
        those whose ``schedule_delay_s`` has passed on the wall clock.
        """
        with self.lock:
            self._run_pending_evals(all_pending=all_pending)
            now = self.clock()
            touched: set[Key] = set()
            client_changes: list[Alloc] = []
            health_changes: list[Alloc] = []
            for alloc in list(self.allocs.values()):
                if alloc.stop_at is not None and now >= alloc.stop_at and alloc.client_status in ("pending", "running"):
                    alloc.client_status = "complete"
                    alloc.client_description = "All tasks have completed"
                    client_changes.append(alloc)
                    if alloc.deployment_id and alloc.healthy is None:
                        # Stopped before it became healthy: Nomad counts it unhealthy.
                        alloc.healthy = False
                        health_changes.append(alloc)
                    continue
                if alloc.desired_status != "run":
                    continue
                if alloc.client_status == "pending" and now >= alloc.start_at:
                    if alloc.fails:
                        alloc.client_status = "failed"
                        alloc.client_description = "Failed tasks"
                        self._plan_reschedule(alloc)
                    else:
                        alloc.client_status = "running"
                        alloc.client_description = "Tasks are running"
                    client_changes.append(alloc)
                if alloc.complete_at is not None and now >= alloc.complete_at and alloc.client_status == "running":
                    alloc.client_status = "complete"
                    alloc.client_description = "All tasks have completed"
                    client_changes.append(alloc)
                if alloc.deployment_id and alloc.healthy is None:
                    if alloc.unhealthy_at is not None and now >= alloc.unhealthy_at:
                        alloc.healthy = False
                        health_changes.append(alloc)
                    elif alloc.healthy_at is not None and now >= alloc.healthy_at and alloc.client_status == "running":
                        alloc.healthy = True
                        health_changes.append(alloc)
            for alloc in list(self.allocs.values()):
                if alloc.reschedule_at is not None and now >= alloc.reschedule_at:
                    replacement = self._reschedule(alloc)
                    if replacement is not None:
                        touched.add((alloc.namespace, alloc.job_id))
            if client_changes:
                index = self.bump("allocs")
                for alloc in client_changes:
                    self._touch_summary((alloc.namespace, alloc.job_id), index)
                    alloc.modify_index = index
                    alloc.modify_time = self.now_ns()
                    touched.add((alloc.namespace, alloc.job_id))
                self.publish(index, [self._alloc_event("AllocationUpdated", a) for a in client_changes])
            if health_changes:
                index = self.bump("allocs", "deployment")
                events = []
                for alloc in health_changes:
                    alloc.health_index = index
                    alloc.health_time = self.now_ns()
                    alloc.modify_index = index
                    dep = self.deployments.get(alloc.deployment_id or "")
                    if dep is not None:
                        dep.count_health(alloc.group, bool(alloc.healthy))
                    if dep is not None and dep.active:
                        dep.modify_index = index
                        gstate = dep.groups.get(alloc.group)
                        if gstate is not None and alloc.healthy:
                            self._extend_deadline(gstate)
                        events.append(self._deployment_event("AllocationUpdated", dep))
                    events.append(self._alloc_event("AllocationUpdated", alloc))
                    touched.add((alloc.namespace, alloc.job_id))
                self.publish(index, events)
            for key in touched:
                rec = self.jobs.get(key)
                if rec is not None and self._refresh_status(rec, self.index):
                    self.cond.notify_all()
            woken = {a.deployment_id for a in health_changes}
            for dep in list(self.deployments.values()):
                if dep.active:
                    self._watch_deployment(dep, now, health_changed=dep.id in woken)

    def _watch_deployment(self, dep: Deployment, now: float, *, health_changed: bool) -> None:
        rec = self.jobs.get((dep.namespace, dep.job_id))
        if rec is None or rec.row["Version"] != dep.job_version or dep.status == "paused":
            return
        job = rec.row
        allocs = [a for a in self.allocs.values() if a.deployment_id == dep.id and not a.terminal]
        unhealthy = [a for a in self.allocs.values() if a.deployment_id == dep.id and a.healthy is False]
        for name, gstate in dep.groups.items():
            if unhealthy and not gstate.progress_deadline and any(a.group == name for a in unhealthy):
                self._fail(dep, rec, DESC_FAILED_ALLOCS)
                return
            awaiting = gstate.desired_canaries > 0 and not gstate.promoted
            canaries_healthy = awaiting and sum(
                1 for a in allocs if a.id in gstate.placed_canaries and a.healthy
            ) >= gstate.desired_canaries
            past_deadline = gstate.deadline_at is not None and now >= gstate.deadline_at
            if past_deadline and not canaries_healthy and not self._group_complete(dep, job, name):
                self._fail(dep, rec, DESC_PROGRESS)
                return
        # auto-promote once every canary of every auto-promote group is healthy
        waiting = {n: g for n, g in dep.groups.items() if g.desired_canaries > 0 and not g.promoted}
        canaries_ready = all(
            sum(1 for a in allocs if a.id in g.placed_canaries and a.healthy) >= g.desired_canaries
            for g in waiting.values()
        )
        if waiting and all(g.auto_promote for g in waiting.values()) and canaries_ready:
            self.promote(dep.id, all_groups=True, groups=None)
            return
        # Continue a rolling update when an allocation's health changed: Nomad's
        # deployment watcher creates an evaluation then, and only then.
        decisions = (
            plan_group(job, g["Name"], self._job_allocs(job, g["Name"]), deployment=dep)
            for g in (job.get("TaskGroups") or []) if health_changed
        )
        evaluation_needed = any(d.destructive or d.place for d in decisions)
        if evaluation_needed:
            # The watcher's evaluation is scheduled like any other: until it runs, the
            # batch is healthy and the next one not yet placed.
            index = self.bump("evals")
            evaluation = self._watcher_eval(job, dep, index)
            self.publish(index, [self._eval_event("AllocationUpdateDesiredStatus", evaluation)])
            self._enqueue(rec, evaluation)
            return
        if all(self._group_complete(dep, job, name) for name in dep.groups) and not dep.requires_promotion():
            if dep.success_at is None:
                dep.success_at = now + self.health.success_delay_s
            elif now >= dep.success_at:
                # As in Nomad: the watcher's evaluation, then the plan that completes the
                # deployment and marks the version stable, then the evaluation's update.
                index = self.bump("evals")
                evaluation = self._watcher_eval(job, dep, index)
                self.publish(index, [self._eval_event("AllocationUpdateDesiredStatus", evaluation)])
                index = self.bump("deployment", "jobs", "evals")
                dep.status, dep.description, dep.modify_index = "successful", DESC_SUCCESS, index
                self._mark_stable(rec, dep.job_version, index)
                self._scheduled(evaluation)
                evaluation.update(Status="complete", ModifyIndex=index)
                self.publish(index, [
                    self._deployment_event("PlanResult", dep), self._job_event("PlanResult", rec.row),
                    self._eval_event("PlanResult", evaluation),
                ])
                self._eval_updated(evaluation)

    def _watcher_eval(self, job: Job, dep: Deployment, index: int) -> dict[str, Any]:
        """An evaluation of the deployment watcher: it names the deployment and, unlike
        the job's own, carries no JobModifyIndex (nomad/deploymentwatcher getEval, v1.0.18)."""
        evaluation = self._new_eval(job, index, "deployment-watcher")
        evaluation.update(DeploymentID=dep.id, JobModifyIndex=0)
        return evaluation

    def _group_complete(self, dep: Deployment, job: Job, name: str) -> bool:
        group = group_of(job, name)
        if group is None:
            return True
        mine = [a for a in self.allocs.values() if a.deployment_id == dep.id and a.group == name and not a.terminal]
        healthy = sum(1 for a in mine if a.healthy)
        others = [a for a in self._job_allocs(job, name) if a.deployment_id != dep.id]
        return healthy >= int(group.get("Count") or 0) and not others

    def _mark_stable(self, rec: JobRecord, version: int, index: int) -> None:
        if rec.row["Version"] == version and rec.row["Stable"]:
            return  # a revert already copied a stable version: nothing to write
        for stored in rec.versions:
            if stored["Version"] == version:
                # Nomad rewrites the version from the live row, whose Status it carries.
                stored.update(Stable=True, ModifyIndex=index, Status=rec.row["Status"])
        if rec.row["Version"] == version:
            rec.row["Stable"] = True
            rec.row["ModifyIndex"] = index

    def _eval_updated(self, evaluation: dict[str, Any]) -> None:
        index = self.bump("evals")
        evaluation.update(ModifyIndex=index, ModifyTime=self.now_ns())
        self.publish(index, [self._eval_event("EvaluationUpdated", evaluation)])

    def _fail(self, dep: Deployment, rec: JobRecord, reason: str) -> tuple[int | None, dict[str, Any]]:
        """Fail ``dep`` (reverting when a group asks for it); returns the reverted version
        and the evaluation Nomad writes with every failure (deploymentwatcher, v1.0.18)."""
        index = self.bump("deployment", "evals")
        description = reason
        reverted: int | None = None
        if any(g.auto_revert for g in dep.groups.values()):
            stable = [v for v in rec.versions if v["Stable"] and v["Version"] < dep.job_version]
            if not stable:
                description = f"{reason} - no stable job version to auto revert to"
            else:
                target = stable[-1]
                if not jobspec.spec_changed(target, rec.row):
                    description = f"{reason} - not rolling back to stable job version {target['Version']} as current job has same specification"
                else:
                    description = f"{reason} - rolling back to job version {target['Version']}"
                    reverted = target["Version"]
        self._set_deployment_status(dep, "failed", description, index)
        if reverted is not None:
            target = next(v for v in rec.versions if v["Version"] == reverted)
            struct = copy.deepcopy(target)
            rec = self._store_version(rec, struct, index)
            # The revert copies the stable version as is: the new version is already Stable.
            rec.row["Stable"] = True
            rec.versions[-1].update(Stable=True, Status="pending")
            self.tables["jobs"] = index
            evaluation = self._new_eval(rec.row, index, "deployment-watcher")
            evaluation["DeploymentID"] = dep.id
            self.publish(index, [self._job_event("DeploymentStatusUpdate", rec.row)])
            self._schedule(rec, evaluation)
            return reverted, evaluation
        evaluation = self._watcher_eval(rec.row, dep, index)
        self.publish(index, [self._eval_event("DeploymentStatusUpdate", evaluation)])
        self._enqueue(rec, evaluation)
        return reverted, evaluation

    def promote(self, deployment_id: str, *, all_groups: bool, groups: list[str] | None) -> dict[str, Any]:
        with self.lock:
            dep = self.deployments.get(deployment_id)
            if dep is None:
                raise APIError(500, "deployment not found")
            if not dep.active:
                raise APIError(500, "can't promote terminal deployment")
            selected = list(dep.groups) if all_groups else [g for g in groups or [] if g in dep.groups]
            errors = []
            for name in selected:
                gstate = dep.groups[name]
                if gstate.desired_canaries <= 0:
                    continue
                healthy = sum(1 for a in self.allocs.values()
                              if a.id in gstate.placed_canaries and a.healthy and not a.terminal)
                if healthy < gstate.desired_canaries:
                    errors.append(f'Task group "{name}" has {healthy}/{gstate.desired_canaries} healthy allocations')
            if errors:
                raise APIError(500, multierror(errors))
            index = self.bump("deployment", "evals", "allocs")
            for name in selected:
                gstate = dep.groups[name]
                if gstate.desired_canaries > 0:
                    gstate.promoted = True
                    self._extend_deadline(gstate)
                    # A promoted canary is no longer one (state_store UpdateDeploymentPromotion, v1.0.18).
                    for alloc_id in gstate.placed_canaries:
                        alloc = self.allocs.get(alloc_id)
                        if alloc is not None and alloc.canary and not alloc.terminal:
                            alloc.canary = False
                            alloc.health_index = alloc.modify_index = index
            dep.description = dep.running_description()
            dep.modify_index = index
            rec = self.jobs.get((dep.namespace, dep.job_id))
            evaluation = self._new_eval(rec.row if rec else {"ID": dep.job_id, "Namespace": dep.namespace, "JobModifyIndex": 0}, index, "deployment-watcher")
            self.publish(index, [self._deployment_event("DeploymentPromotion", dep), self._eval_event("DeploymentPromotion", evaluation)])
            if rec is not None:
                self._enqueue(rec, evaluation)
            return {"DeploymentModifyIndex": index, "EvalCreateIndex": index, "EvalID": evaluation["ID"],
                    "Index": index, "RevertedJobVersion": None}

    def pause_deployment(self, deployment_id: str, *, pause: bool) -> dict[str, Any]:
        """Pause (no further placements, no deadline) or resume a deployment."""
        with self.lock:
            dep = self.deployments.get(deployment_id)
            if dep is None:
                raise APIError(500, "deployment not found")
            if not dep.active:
                raise APIError(500, f"can't {'pause' if pause else 'resume'} terminal deployment")
            index = self.bump("deployment")
            if pause:
                self._set_deployment_status(dep, "paused", DESC_PAUSED, index)
            else:
                for gstate in dep.groups.values():
                    self._extend_deadline(gstate)  # the deadline restarts on resume
                self._set_deployment_status(dep, "running", dep.running_description(), index)
                rec = self.jobs.get((dep.namespace, dep.job_id))
                if rec is not None:  # resuming creates an evaluation that continues the rollout
                    evaluation = self._new_eval(rec.row, index, "deployment-watcher")
                    self._enqueue(rec, evaluation)
                    return {"DeploymentModifyIndex": index, "EvalCreateIndex": index, "EvalID": evaluation["ID"],
                            "Index": index, "RevertedJobVersion": None}
            return {"DeploymentModifyIndex": index, "EvalCreateIndex": 0, "EvalID": "", "Index": index,
                    "RevertedJobVersion": None}

    def fail_deployment(self, deployment_id: str) -> dict[str, Any]:
        with self.lock:
            dep = self.deployments.get(deployment_id)
            if dep is None:
                raise APIError(500, "deployment not found")
            if not dep.active:
                raise APIError(500, "can't fail terminal deployment")
            rec = self.jobs.get((dep.namespace, dep.job_id))
            if rec is None:
                return {"DeploymentModifyIndex": dep.modify_index, "EvalCreateIndex": self.index, "EvalID": "",
                        "Index": self.index, "RevertedJobVersion": None}
            reverted, evaluation = self._fail(dep, rec, DESC_BY_USER)
            return {"DeploymentModifyIndex": dep.modify_index, "EvalCreateIndex": evaluation["CreateIndex"],
                    "EvalID": evaluation["ID"], "Index": dep.modify_index, "RevertedJobVersion": reverted}

    # --- revert and stable ---------------------------------------------------------------
    def revert(self, namespace: str, job_id: str, *, version: int, enforce_prior: int | None) -> dict[str, Any]:
        """Re-register a copy of an older version as a new version (``nomad job revert``)."""
        with self.lock:
            rec = self.jobs.get((namespace, job_id))
            if rec is None:
                raise APIError(500, f'job "{job_id}" not found')
            if enforce_prior is not None and rec.row["Version"] != enforce_prior:
                raise APIError(500, f"Current job has version {rec.row['Version']}; enforcing version {enforce_prior}")
            if version == rec.row["Version"]:
                raise APIError(500, "can't revert to current version")
            target = next((v for v in rec.versions if v["Version"] == version), None)
            if target is None:
                raise APIError(500, f'job "{job_id}" in namespace "{namespace}" at version {version} not found')
            struct = copy.deepcopy(target)
            if not jobspec.spec_changed(rec.row, struct):
                return self._register_unchanged(rec)
            index = self.bump("jobs", "evals")
            rec = self._store_version(rec, struct, index)
            evaluation = self._new_eval(rec.row, index, "job-register")
            self.publish(index, [self._eval_event("JobRegistered", evaluation), self._job_event("JobRegistered", rec.row)])
            self._enqueue(rec, evaluation)
            return self._register_reply(evaluation, index, index)

    def set_stable(self, namespace: str, job_id: str, *, version: int, stable: bool) -> dict[str, Any]:
        with self.lock:
            rec = self.jobs.get((namespace, job_id))
            stored = next((v for v in rec.versions if v["Version"] == version), None) if rec else None
            if rec is None or stored is None:
                raise APIError(500, f'job "{job_id}" in namespace "{namespace}" at version {version} not found')
            index = self.bump("jobs")
            stored.update(Stable=stable, ModifyIndex=index)
            if rec.row["Version"] == version:
                rec.row.update(Stable=stable, ModifyIndex=index)
            return {"Index": index, "JobModifyIndex": index}

    # --- scaling -----------------------------------------------------------------------
    def scale(self, namespace: str, job_id: str, *, group: str | None, count: int | None,
              message: str, meta: Any, error: bool) -> dict[str, Any]:
        with self.lock:
            rec = self.jobs.get((namespace, job_id))
            if rec is None:
                raise APIError(404, f'job "{job_id}" not found')
            if not group:
                raise APIError(400, "missing task group name for scaling action")
            live = group_of(rec.row, group)
            if live is None:
                raise APIError(400, f'task group "{group}" specified for scaling does not exist in job')
            if count is not None and count < 0:
                raise APIError(400, "scaling action count can't be negative")
            previous = int(live["Count"])
            event: dict[str, Any] = {
                "Count": count, "CreateIndex": 0, "Error": error, "EvalID": None, "Message": message,
                "Meta": meta, "PreviousCount": previous, "Time": self.now_ns(),
            }
            if count is None:
                index = self.bump("scaling_event")
                event["CreateIndex"] = index
                rec.scale_events.setdefault(group, []).insert(0, event)
                return {"EvalCreateIndex": 0, "EvalID": "", "Index": index, "JobModifyIndex": rec.row["JobModifyIndex"],
                        "KnownLeader": True, "LastContact": 0, "Warnings": ""}
            dep = self.latest_deployment(namespace, job_id)
            if dep is not None and dep.active:
                # Nomad 1.0.18 quirk: the live row keeps the refused count.
                index = self.bump("jobs")
                live["Count"] = count
                rec.row["ModifyIndex"] = index
                index = self.bump("scaling_event")
                event.update(Count=None, Error=True, Message="job scaling blocked due to active deployment",
                             Meta={"OriginalCount": count, "OriginalMessage": message, "OriginalMeta": meta}, CreateIndex=index)
                rec.scale_events.setdefault(group, []).insert(0, event)
                raise APIError(400, "job scaling blocked due to active deployment")
            struct = copy.deepcopy(rec.row)
            group_of(struct, group)["Count"] = count  # type: ignore[index]
            # Nomad 1.0.18 updates the stored versions in place too: versions?diffs shows no change.
            for stored in rec.versions:
                stored_group = group_of(stored, group)
                if stored_group is not None:
                    stored_group["Count"] = count
            index = self.bump("jobs")
            stable, submitted = rec.row["Stable"], rec.row["SubmitTime"]
            rec = self._store_version(rec, struct, index)
            # Scaling copies the live row, Stable flag included (only registration resets it),
            # and SubmitTime: Nomad sets it on registration only (13-scale-drift.jsonl).
            rec.row["Stable"] = rec.versions[-1]["Stable"] = stable
            rec.row["SubmitTime"] = rec.versions[-1]["SubmitTime"] = submitted
            eval_index = self.bump("evals")
            evaluation = self._new_eval(rec.row, eval_index, "job-scaling")
            self.publish(index, [self._job_event("JobRegistered", rec.row)])
            event_index = self.bump("scaling_event")
            event.update(CreateIndex=event_index, EvalID=evaluation["ID"])
            rec.scale_events.setdefault(group, []).insert(0, event)
            self._enqueue(rec, evaluation)
            return {"EvalCreateIndex": eval_index, "EvalID": evaluation["ID"], "Index": event_index,
                    "JobModifyIndex": index, "KnownLeader": True, "LastContact": 0, "Warnings": ""}

    def scale_status(self, rec: JobRecord) -> dict[str, Any]:
        job = rec.row
        dep = self.latest_deployment(job["Namespace"], job["ID"])
        groups = {}
        for group in job.get("TaskGroups") or []:
            name = group["Name"]
            allocs = self._job_allocs(job, name)
            dstate = (dep.to_json(list(self.allocs.values()))["TaskGroups"].get(name) if dep else None) or {}
            groups[name] = {
                "Desired": group["Count"], "Events": rec.scale_events.get(name) or None,
                "Healthy": dstate.get("HealthyAllocs", 0), "Placed": dstate.get("PlacedAllocs", len(allocs)),
                "Running": sum(1 for a in allocs if a.client_status == "running"),
                "Unhealthy": dstate.get("UnhealthyAllocs", 0),
            }
        return {"JobCreateIndex": job["CreateIndex"], "JobID": job["ID"], "JobModifyIndex": job["ModifyIndex"],
                "JobStopped": bool(job.get("Stop")), "Namespace": job["Namespace"], "TaskGroups": groups}

    # --- plan --------------------------------------------------------------------------
    def plan(self, api_job: Job, *, namespace: str, diff: bool) -> tuple[dict[str, Any], int]:
        with self.lock:
            if namespace not in self.namespaces:
                raise APIError(500, f'job "{api_job["ID"]}" is in nonexistent namespace "{namespace}"')
            struct = self._struct(api_job, namespace)
            rec = self.jobs.get((namespace, api_job["ID"]))
            existing = rec.row if rec else None
            if existing is not None:
                struct["NomadTokenID"] = existing.get("NomadTokenID", "")
                changed = jobspec.spec_changed(existing, struct)
                struct["Version"] = existing["Version"] + (1 if changed else 0)
            else:
                struct["Version"] = 0
            dep = self.latest_deployment(namespace, api_job["ID"]) if existing else None
            dep = dep if dep is not None and dep.active and existing and dep.job_version == struct["Version"] else None
            reply = compute_plan(
                existing, struct, deployment=dep, diff=diff,
                allocs_of=lambda group: self._job_allocs(existing, group) if existing else [],
            )
            # Groups with placements no node can take: Nomad's plan reports them as it would fail them.
            failed = {}
            for name, counts in ((reply.get("Annotations") or {}).get("DesiredTGUpdates") or {}).items():
                wanted = counts.get("Place", 0) + counts.get("Canary", 0) + counts.get("DestructiveUpdate", 0)
                group = group_of(struct, name)
                reason = self._placement_blocker(struct, group) if group is not None and wanted else None
                if reason is not None:
                    failed[name] = self._failed_tg_metrics(reason, wanted)
            if failed:
                reply["FailedTGAllocs"] = failed
            return reply, reply["Index"]

    # --- event payloads -------------------------------------------------------------
    @staticmethod
    def _job_event(kind: str, job: Job) -> dict[str, Any]:
        return {"Topic": "Job", "Type": kind, "Key": job["ID"], "Namespace": job["Namespace"],
                "FilterKeys": None, "Index": job.get("ModifyIndex", 0), "Payload": {"Job": copy.deepcopy(job)}}

    @staticmethod
    def _eval_event(kind: str, evaluation: dict[str, Any]) -> dict[str, Any]:
        # The stream's encoder writes every field; the HTTP answers omit the empty ones.
        return {"Topic": "Evaluation", "Type": kind, "Key": evaluation["ID"], "Namespace": evaluation["Namespace"],
                "FilterKeys": [evaluation["JobID"], evaluation.get("DeploymentID", "")], "Index": evaluation["ModifyIndex"],
                "Payload": {"Evaluation": {**_EVAL_STREAM_ZEROS, **evaluation}}}

    def _deployment_event(self, kind: str, dep: Deployment) -> dict[str, Any]:
        return {"Topic": "Deployment", "Type": kind, "Key": dep.id, "Namespace": dep.namespace,
                "FilterKeys": [dep.job_id], "Index": dep.modify_index,
                "Payload": {"Deployment": dep.to_json(list(self.allocs.values()))}}

    @staticmethod
    def _alloc_event(kind: str, alloc: Alloc) -> dict[str, Any]:
        return {"Topic": "Allocation", "Type": kind, "Key": alloc.id, "Namespace": alloc.namespace,
                "FilterKeys": [alloc.job_id, alloc.deployment_id or ""], "Index": alloc.modify_index,
                "Payload": {"Allocation": alloc.full()}}


def _reschedule_delay(policy: dict[str, Any], attempt: int) -> int:
    """Nanoseconds before reschedule number ``attempt`` + 1 (Nomad's delay functions)."""
    delay = int(policy.get("Delay") or 0)
    limit = int(policy.get("MaxDelay") or 0)
    function = policy.get("DelayFunction") or "constant"
    if function == "exponential":
        delay = delay * (2 ** attempt)
    elif function == "fibonacci":
        a, b = delay, delay
        for _ in range(attempt):
            a, b = b, a + b
        delay = a
    return min(delay, limit) if limit else delay

