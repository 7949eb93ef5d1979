"""An in-memory ``NomadApi`` for engine tests: the sync layer's own seam, faked.

It keeps jobs the way Nomad reads them back (``canonicalize`` of what was
registered, plus bookkeeping fields), enforces ``EnforceIndex`` with Nomad's
error text, and logs every call so tests can count requests.  Deployments are
set by the test.  End-to-end behaviour over HTTP is tested against FakeNomad.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from reconciler.deployment import Deployment
from reconciler.errors import (
    NomadIndexConflictError,
    NomadJobRejectedError,
    NomadNotFoundError,
    NomadUnavailableError,
)
from reconciler.job_plan import JobPlan, JobWrite
from reconciler.jobspec.canonical import canonicalize
from reconciler.model import ApiJob, JobKey
from reconciler.nomad.objects import (
    JobVersion,
    parse_deployment,
    parse_job_plan,
    parse_job_version,
    parse_job_write,
)
from reconciler.nomad.versions import Features, features_for
from reconciler.sync.api import Registration


@dataclass
class MemoryNomad:
    version: tuple[int, int, int] = (1, 0, 18)
    jobs: dict[JobKey, ApiJob] = field(default_factory=dict)
    versions: dict[JobKey, list[ApiJob]] = field(default_factory=dict)
    deployments: dict[JobKey, dict[str, Any]] = field(default_factory=dict)  # the latest
    past_deployments: dict[JobKey, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    index: int = 100
    # Called before a register is applied: lets a test change the job "concurrently".
    before_register: Any = None
    submissions: dict[str, Any] = field(default_factory=dict)
    # Job IDs whose reads / Nomad plans fail as if Nomad were unreachable for them.
    failing_reads: set[str] = field(default_factory=set)
    failing_plans: set[str] = field(default_factory=set)
    # Job ID → the error its registration raises (a typed Nomad error).
    failing_registers: dict[str, Exception] = field(default_factory=dict)
    # Fields this "server version" fills into every stored job, unknown to the
    # local canonical form (like NodePool on Nomad 1.6): its plan fills them too.
    server_defaults: dict[str, Any] = field(default_factory=dict)
    # Job IDs whose stored form gains a new value on every register (a server
    # that never converges): its plan always reports a change.
    unstable: set[str] = field(default_factory=set)

    def count(self, verb: str) -> int:
        return sum(1 for v, _ in self.calls if v == verb)

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] in ("register", "deregister", "promote")]

    def put(self, job: ApiJob, *, bump: bool = True) -> ApiJob:
        """Store ``job`` as Nomad would after a register (used by tests for out-of-band edits)."""
        key = (job.get("Namespace") or "default", job["ID"])
        self.index += 1
        stored = self._server_form(job)
        old = self.jobs.get(key)
        stored.update(
            Version=(old["Version"] + 1) if old else 0,
            JobModifyIndex=self.index,
            ModifyIndex=self.index,
            CreateIndex=old["CreateIndex"] if old else self.index,
            Status="running",
            SubmitTime=self.index,
        )
        self.jobs[key] = stored
        self.versions.setdefault(key, []).insert(0, copy.deepcopy(stored))
        return stored

    def fail_and_revert(self, job_id: str, *, namespace: str = "default") -> None:
        """Nomad fails the live version's deployment (progress deadline) and auto-reverts:
        the version before it comes back as a new version."""
        key = (namespace, job_id)
        failed_index = self.jobs[key]["JobModifyIndex"]
        self.put(copy.deepcopy(self.versions[key][1]))
        self.deployments[key] = {
            "ID": "dep-1", "Status": "failed", "JobSpecModifyIndex": failed_index, "JobVersion": 1,
            "StatusDescription": "Failed due to progress deadline - rolling back to job version 0",
            "TaskGroups": {},
        }  # fmt: skip

    def _server_form(self, job: ApiJob) -> ApiJob:
        stored = canonicalize(job)
        for name, value in self.server_defaults.items():
            stored.setdefault(name, copy.deepcopy(value))
        if job["ID"] in self.unstable:
            stored["Meta"] = {**(stored.get("Meta") or {}), "server-stamp": str(self.index)}
        return stored

    def _diff(self, job: ApiJob, existing: ApiJob | None) -> dict[str, Any]:
        """Nomad's plan Diff (job-level fields only), judged on the server's form of both jobs."""
        if existing is None:
            return {"Type": "Added", "Fields": []}
        bookkeeping = {"Version", "JobModifyIndex", "ModifyIndex", "CreateIndex", "Status",
                       "SubmitTime"}  # fmt: skip
        live = {k: v for k, v in existing.items() if k not in bookkeeping}
        new = self._server_form(job)
        fields = []
        for name in sorted(set(live) | set(new)):
            old_value, new_value = live.get(name), new.get(name)
            if name == "Meta":
                old_meta, new_meta = old_value or {}, new_value or {}
                for k in sorted(set(old_meta) | set(new_meta)):
                    if old_meta.get(k) != new_meta.get(k) or job["ID"] in self.unstable:
                        fields.append({"Type": "Edited", "Name": f"Meta[{k}]"})
            elif old_value != new_value:
                fields.append({"Type": "Edited", "Name": name})
        return {"Type": "Edited" if fields else "None", "Fields": fields}

    async def features(self) -> Features:
        return features_for(self.version)

    async def list_jobs(
        self, *, namespace: str, meta: bool, prefix: str | None = None
    ) -> list[dict[str, Any]]:
        self.calls.append(("list", prefix or "*"))
        keys = (
            "ID",
            "Name",
            "Namespace",
            "Type",
            "Stop",
            "Status",
            "JobModifyIndex",
            "ModifyIndex",
        )
        out = []
        for job in self.jobs.values():
            if prefix is not None and not str(job.get("ID")).startswith(prefix):
                continue
            stub = {k: job.get(k) for k in keys}
            if meta and features_for(self.version).list_meta:
                stub["Meta"] = job.get("Meta")
            out.append(stub)
        return out

    async def read_job(self, job_id: str, *, namespace: str) -> ApiJob:
        self.calls.append(("read", job_id))
        if job_id in self.failing_reads:
            raise NomadUnavailableError("connection reset", endpoint="/v1/job/:id")
        job = self.jobs.get((namespace, job_id))
        if job is None:
            raise NomadNotFoundError("job not found", status=404)
        return copy.deepcopy(job)

    async def job_versions(self, job_id: str, *, namespace: str) -> list[JobVersion]:
        self.calls.append(("versions", job_id))
        return [parse_job_version(copy.deepcopy(v)) for v in self.versions.get((namespace, job_id), [])]

    async def read_latest_deployment(self, job_id: str, *, namespace: str) -> Deployment | None:
        self.calls.append(("deployment", job_id))
        dep = self.deployments.get((namespace, job_id))
        return parse_deployment(dep) if dep else None

    async def list_job_deployments(self, job_id: str, *, namespace: str) -> list[Deployment]:
        self.calls.append(("deployments", job_id))
        key = (namespace, job_id)
        latest = [self.deployments[key]] if key in self.deployments else []
        return [parse_deployment(d) for d in latest + self.past_deployments.get(key, [])]

    async def plan_job(self, job: ApiJob) -> JobPlan:
        self.calls.append(("plan", job["ID"]))
        if job["ID"] in self.failing_plans:
            raise NomadJobRejectedError("1 error occurred:\n\t* Missing task driver\n", status=500)
        key = (job.get("Namespace") or "default", job["ID"])
        existing = self.jobs.get(key)
        groups = {g["Name"]: {"Place": 0 if existing else g.get("Count") or 1, "DestructiveUpdate": 1 if existing else 0}
                  for g in job.get("TaskGroups") or ()}  # fmt: skip
        return parse_job_plan({
            "JobModifyIndex": existing["JobModifyIndex"] if existing else 0,
            "Diff": self._diff(job, existing),
            "Annotations": {"DesiredTGUpdates": groups},
            "Warnings": "",
        })

    async def register_job(self, registration: Registration) -> JobWrite:
        job, enforce_index = registration.job, registration.enforce_index
        self.calls.append(("register", job["ID"]))
        self.submissions[job["ID"]] = registration.submission
        if job["ID"] in self.failing_registers:
            raise self.failing_registers[job["ID"]]
        if self.before_register is not None:
            hook, self.before_register = self.before_register, None
            hook(self)
        key = (job.get("Namespace") or "default", job["ID"])
        existing = self.jobs.get(key)
        if enforce_index is not None:
            if existing is None and enforce_index != 0:
                raise NomadIndexConflictError(
                    f"Enforcing job modify index {enforce_index}: job does not exist", status=500
                )
            if existing is not None and enforce_index == 0:
                raise NomadIndexConflictError(
                    "Enforcing job modify index 0: job already exists", status=500
                )
            if existing is not None and existing["JobModifyIndex"] != enforce_index:
                raise NomadIndexConflictError(
                    f"Enforcing job modify index {enforce_index}: job exists with conflicting "
                    f"job modify index: {existing['JobModifyIndex']}",
                    status=500,
                )
        body = copy.deepcopy(job)
        if registration.preserve_counts and existing is not None:
            live = {g["Name"]: g["Count"] for g in existing["TaskGroups"]}
            for group in body["TaskGroups"]:
                if group["Name"] in live:
                    group["Count"] = live[group["Name"]]
        stored = self.put(body)
        return parse_job_write({
            "EvalID": f"eval-{self.index}",
            "JobModifyIndex": stored["JobModifyIndex"],
            "Warnings": "",
        })

    async def deregister_job(self, job_id: str, *, namespace: str, purge: bool) -> JobWrite:
        self.calls.append(("deregister", job_id))
        key = (namespace, job_id)
        if purge:
            self.jobs.pop(key, None)
        elif key in self.jobs:
            stopped = copy.deepcopy(self.jobs[key])
            stopped["Stop"] = True
            self.put(stopped)
            self.jobs[key]["Status"] = "dead"
        return parse_job_write({"EvalID": "eval-d"})

    async def promote_deployment(self, deployment_id: str, *, namespace: str) -> dict[str, Any]:
        self.calls.append(("promote", deployment_id))
        for dep in self.deployments.values():
            if dep["ID"] == deployment_id:
                for g in dep["TaskGroups"].values():
                    g["Promoted"] = True
                dep["Status"] = "successful"
        return {}

    async def parse_hcl(self, source: str, *, variables: str | None) -> ApiJob:
        raise NotImplementedError("the memory fake does not parse HCL")
