"""The fake's endpoints: one ``Route`` per request, answering like Nomad 1.0.18.

Responsible for routing paths to handlers, request decoding, ACL checks,
blocking-query parameters and the bodies, status codes and headers of
every endpoint.  Answers are raised as ``Reply``; state changes are
delegated to ``State``.  The HTTP plumbing lives in ``server``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import random
import re
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reconciler.testing.fake_nomad import jobs as jobspec
from reconciler.testing.fake_nomad.acl import ACLDenied, Identity, Policy, parse_rules
from reconciler.testing.fake_nomad.diff import job_diff
from reconciler.testing.fake_nomad.events import Subscription
from reconciler.testing.fake_nomad.scheduler import rfc3339
from reconciler.testing.fake_nomad.state import (
    APIError,
    eval_answer,
    eval_list_order,
    job_eval_order,
)

if TYPE_CHECKING:
    from reconciler.testing.fake_nomad.server import FakeNomad, _Handler

TEXT = "text/plain; charset=utf-8"
MAX_WAIT_S = 300.0
_DURATION = re.compile(r"^(\d+(?:\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string (``3s``, ``1m30s``); ValueError when Go would refuse it."""
    if text in ("0",):
        return 0.0
    if not _DURATION.match(text):
        raise ValueError(text)
    return sum(float(n) * _UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text))


class Reply(Exception):
    """Raised by handlers to answer immediately."""

    def __init__(
        self, status: int, body: Any, *, text: bool = False, index: int | None = None, query: bool = False,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(status)
        self.status, self.body, self.text, self.index, self.query = status, body, text, index, query
        self.headers = headers


class Route:
    """One request: parse, authorise, act, reply (by raising ``Reply``)."""

    def __init__(self, fake: FakeNomad, handler: _Handler, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> None:
        self.fake, self.handler, self.method, self.path, self.query, self.raw = fake, handler, method, path, query, raw
        self.state = fake.state

    def q(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def namespace(self) -> str:
        return self.q("namespace") or "default"

    # --- common checks --------------------------------------------------------------
    def token(self) -> str | None:
        """The request's secret: ``X-Nomad-Token``, or ``Authorization: Bearer`` from 1.3.2 on."""
        secret = self.handler.headers.get("X-Nomad-Token")
        auth = self.handler.headers.get("Authorization") or ""
        if not secret and auth.startswith("Bearer ") and self.fake.version_at_least(1, 3, 2):
            secret = auth.removeprefix("Bearer ").strip()
        return secret

    def identity(self) -> Identity:
        with self.state.lock:
            try:
                return self.state.acl.resolve(self.token())
            except ACLDenied as exc:
                raise Reply(exc.status, exc.text, text=True) from exc

    def require(self, capability: str, namespace: str | None = None) -> Identity:
        ident = self.identity()
        if not ident.allows(capability, namespace or self.namespace):
            raise Reply(403, "Permission denied", text=True)
        return ident

    def require_any(self, *capabilities: str, namespace: str | None = None) -> Identity:
        ident = self.identity()
        if not any(ident.allows(cap, namespace or self.namespace) for cap in capabilities):
            raise Reply(403, "Permission denied", text=True)
        return ident

    def require_management(self) -> None:
        if not self.identity().management:
            raise Reply(403, "Permission denied", text=True)

    def body(self, *, struct: str | None = None) -> Any:
        text = self.raw.decode("utf-8", errors="replace")
        if not text.strip():
            raise Reply(400, "Request body is empty", text=True)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Reply(400, jobspec.go_json_error(text, exc), text=True) from exc
        if struct is None:
            return data
        try:
            return jobspec.decode_struct(data, struct)
        except jobspec.DecodeError as exc:
            raise Reply(400, str(exc), text=True) from exc

    def blocking(self, current: Callable[[], int]) -> None:
        """Apply ``index``/``wait``: block until ``current()`` passes ``index`` or the wait ends."""
        raw_index, raw_wait = self.q("index"), self.q("wait")
        min_index = 0
        if raw_index:
            try:
                min_index = int(raw_index)
                if min_index < 0:
                    raise ValueError(raw_index)
            except ValueError as exc:
                raise Reply(400, "Invalid index", text=True) from exc
        wait = MAX_WAIT_S
        if raw_wait:
            try:
                wait = min(parse_go_duration(raw_wait), MAX_WAIT_S)
            except ValueError as exc:
                raise Reply(400, "Invalid wait time", text=True) from exc
        if min_index > 0:
            self.fake._track_long_request()
            if self.fake.blocking_jitter:
                wait += random.uniform(0, wait / 16)  # Nomad adds up to wait/16 of jitter
            deadline = time.monotonic() + wait
            while not self.fake._stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.state.wait(current, min_index, min(remaining, 0.5))
                with self.state.lock:
                    if current() > min_index:
                        break

    def ok(self, body: Any, index: int, *, query: bool = True) -> None:
        raise Reply(200, body, index=index, query=query)

    def not_found(self, text: str, index: int) -> None:
        raise Reply(404, text, text=True, index=index, query=True)

    # --- routing ---------------------------------------------------------------------
    def run(self) -> None:
        p, m = self.path, self.method
        write = m in ("PUT", "POST")
        routes: list[tuple[str, Callable[..., None]]] = [
            (r"/v1/agent/self", self.agent_self), (r"/v1/status/leader", self.leader),
            (r"/v1/status/peers", self.peers), (r"/v1/regions", self.regions),
            (r"/v1/namespaces", self.namespaces), (r"/v1/namespace/?(?P<name>[^/]*)", self.namespace_one),
            (r"/v1/jobs/parse", self.parse), (r"/v1/jobs", self.jobs), (r"/v1/validate/job", self.validate),
            (r"/v1/job/(?P<job_id>.+)/periodic/force", self.periodic_force),
            (r"/v1/job/(?P<job_id>.+)/dispatch", self.dispatch),
            (r"/v1/job/(?P<job_id>.+)/(?P<sub>plan|versions|summary|allocations|deployments|deployment|scale|evaluations|submission|revert|stable)", self.job_sub),
            (r"/v1/job/(?P<job_id>.+)", self.job),
            (r"/v1/evaluations", self.evaluations), (r"/v1/evaluation/(?P<eval_id>[^/]+)", self.evaluation),
            (r"/v1/allocations", self.allocations), (r"/v1/allocation/(?P<alloc_id>[^/]+)", self.allocation), (r"/v1/deployments", self.deployments),
            (r"/v1/deployment/allocations/(?P<dep_id>[^/]+)", self.deployment_allocs),
            (r"/v1/deployment/(?P<action>promote|fail|pause)/(?P<dep_id>[^/]+)", self.deployment_write),
            (r"/v1/deployment/(?P<dep_id>[^/]+)", self.deployment),
            (r"/v1/acl/bootstrap", self.acl_bootstrap), (r"/v1/acl/token/self", self.acl_token_self),
            (r"/v1/acl/token", self.acl_token_create), (r"/v1/acl/policy/(?P<name>[^/]+)", self.acl_policy),
            (r"/v1/event/stream", self.event_stream),
        ]
        if not self.fake.faults.has_leader:
            raise Reply(500, "No cluster leader", text=True)
        for pattern, handler in routes:
            match = re.fullmatch(pattern, p)
            if match:
                handler(write=write, **match.groupdict())
                return
        raise Reply(404, "Invalid URL path", text=True)

    # --- agent / status -----------------------------------------------------------------
    def agent_self(self, *, write: bool) -> None:
        self.identity()
        fake = self.fake
        body = {
            "config": {
                "Region": fake.region, "Datacenter": fake.datacenters[0], "NodeName": "fake-node",
                "Version": {"Version": fake.version, "Prerelease": "", "Revision": "fake", "VersionMetadata": ""},
                "ACL": {"Enabled": fake.acl_enabled}, "Server": {"Enabled": True}, "Client": {"Enabled": True},
            },
            "member": {"Name": "fake-node.global", "Tags": {"region": fake.region, "dc": fake.datacenters[0], "build": fake.version}},
            "stats": {},
        }
        raise Reply(200, body, query=False)

    def leader(self, *, write: bool) -> None:
        raise Reply(200, f"{self.fake.host}:4647", query=False)

    def peers(self, *, write: bool) -> None:
        raise Reply(200, [f"{self.fake.host}:4647"], query=False)

    def regions(self, *, write: bool) -> None:
        raise Reply(200, [self.fake.region], query=False)

    # --- namespaces ----------------------------------------------------------------------
    @staticmethod
    def _ns_json(ns: dict[str, Any]) -> dict[str, Any]:
        import hashlib

        digest = hashlib.sha256(f"{ns['Name']}{ns['Description']}".encode()).digest()
        return {**ns, "Hash": base64.b64encode(digest).decode()}

    def namespaces(self, *, write: bool) -> None:
        self.identity()
        with self.state.lock:
            items = [self._ns_json(ns) for _, ns in sorted(self.state.namespaces.items())]
            self.ok(items, self.state.table_index("namespaces"))

    def namespace_one(self, *, write: bool, name: str) -> None:
        if write:
            self.require_management()
            data = self.body() or {}
            index = self.state.upsert_namespace(data.get("Name") or name, data.get("Description") or "")
            raise Reply(200, "", text=True, index=index)
        if self.method == "DELETE":
            self.require_management()
            try:
                index = self.state.delete_namespace(name)
            except APIError as exc:
                raise Reply(exc.status, exc.text, text=True) from exc
            raise Reply(200, "", text=True, index=index)
        self.identity()
        self.blocking(lambda: self.state.table_index("namespaces"))
        with self.state.lock:
            ns = self.state.namespaces.get(name)
            index = self.state.table_index("namespaces")
            if ns is None:
                self.not_found("Namespace not found", index)
            self.ok(self._ns_json(ns), index)  # type: ignore[arg-type]

    # --- jobs -------------------------------------------------------------------------
    def jobs(self, *, write: bool) -> None:
        if write:
            self.register(None)
            return
        if self.method != "GET":
            raise Reply(405, "Invalid method", text=True)
        self.require("list-jobs")
        self.blocking(lambda: self.state.table_index("jobs", "job_summary"))
        with self.state.lock:
            prefix = self.q("prefix")
            ns = self.namespace
            views = self.fake._by_job()
            items = [
                self.fake._stub(rec, meta=self.q("meta") == "true", with_namespace=ns == "*", views=views)
                for (rns, jid), rec in sorted(self.state.jobs.items(), key=lambda kv: (kv[0][1], kv[0][0]))
                if (ns == "*" or rns == ns) and jid.startswith(prefix)
            ]
            self.ok(items, self.state.table_index("jobs", "job_summary"))

    def _job_request(self, path_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        req = self.body(struct="JobRegisterRequest")
        if not isinstance(req, dict) or not req.get("Job"):
            raise Reply(400, "Job must be specified", text=True)
        job = req["Job"]
        if not job.get("ID"):
            raise Reply(400, "Job ID hasn't been provided", text=True)
        if path_id is not None and job["ID"] != path_id:
            raise Reply(400, "Job ID does not match name", text=True)
        return req, self._before_validation(job)

    def _before_validation(self, job: dict[str, Any]) -> dict[str, Any]:
        """From 1.5.0 a job without datacenters runs in all of them (Job.Canonicalize runs
        before validation), where 1.0.18 refuses it."""
        if self.fake.version_at_least(1, 5, 0) and isinstance(job, dict) and not job.get("Datacenters"):
            return {**job, "Datacenters": ["*"]}
        return job

    def _job_namespace(self, req: dict[str, Any], job: dict[str, Any]) -> str:
        return self.q("namespace") or req.get("Namespace") or job.get("Namespace") or "default"

    def register(self, path_id: str | None) -> None:
        req, job = self._job_request(path_id)
        namespace = self._job_namespace(req, job)
        self.require("submit-job", namespace)
        errors, warnings = jobspec.validate({**job, "Namespace": namespace}, self.fake.state.nomad_version)
        if errors:
            raise Reply(500, jobspec.format_errors(errors), text=True)
        # Nomad records the submitting token's AccessorID on the job (empty without ACLs).
        token = self.state.acl.tokens.get(self.token() or "")
        accessor = token.accessor_id if token and self.state.acl.enabled else ""
        submission = req.get("Submission") if self.fake.version_at_least(1, 6, 0) else None
        try:
            reply = self.state.register(
                job, namespace=namespace, enforce_index=bool(req.get("EnforceIndex")),
                job_modify_index=int(req.get("JobModifyIndex") or 0),
                preserve_counts=bool(req.get("PreserveCounts")), token_accessor=accessor,
                submission=submission if isinstance(submission, dict) else None,
            )
        except APIError as exc:
            raise Reply(exc.status, exc.text, text=True) from exc
        reply["Warnings"] = _format_warnings(warnings)  # e.g. max_parallel greater than count
        raise Reply(200, reply, index=reply["Index"])

    def validate(self, *, write: bool) -> None:
        req = self.body(struct="JobRegisterRequest")
        if not isinstance(req, dict) or not req.get("Job"):
            raise Reply(400, "Job must be specified", text=True)
        job = self._before_validation(req["Job"])
        self.require("read-job", job.get("Namespace") or "default")
        errors, warnings = jobspec.validate(job, self.fake.state.nomad_version)
        if errors and isinstance(errors[0], jobspec.Refused):
            raise Reply(500, jobspec.format_errors(errors), text=True)
        if job.get("Namespace") and job["Namespace"] not in self.state.namespaces:
            errors.append(f'job "{job.get("ID")}" is in nonexistent namespace "{job["Namespace"]}"')
        body = {
            "DriverConfigValidated": True,
            "Error": jobspec.format_errors(errors) if errors else "",
            "ValidationErrors": errors or None,
            "Warnings": _format_warnings(warnings),
        }
        raise Reply(200, body)

    def parse(self, *, write: bool) -> None:
        data = self.body() or {}
        self.require_any("parse-job", "submit-job")  # parse-job: 1.0.18's fix for CVE-2022-24685
        text = data.get("JobHCL") or ""
        if not text:
            raise Reply(400, "Job spec is empty", text=True)
        try:
            from reconciler.jobspec.hcl_convert import convert_hcl
        except ImportError as exc:
            raise Reply(500, "HCL parsing is not available in this build of the fake", text=True) from exc
        try:
            job = self._convert_with_variables(convert_hcl, text, data.get("Variables") or "")
        except Exception as exc:
            # JobSpecError & co.: Nomad answers 400 with the diagnostics as plain text.
            raise Reply(400, str(exc), text=True) from exc
        if data.get("Canonicalize"):
            job = jobspec.to_api_view(job, jobspec._api_canonicalize(job), version=self.state.nomad_version)
        raise Reply(200, job)

    def _convert_with_variables(self, convert_hcl: Any, text: str, variables: str) -> dict[str, Any]:
        """The parse API takes var-file text in ``Variables`` from 1.6.0; 1.0.18 ignores it."""
        if not variables or not self.fake.version_at_least(1, 6, 0):
            return dict(convert_hcl(text, path="input.hcl", allow_fs=False))
        from reconciler.jobspec.variables import VariableInputs

        with tempfile.TemporaryDirectory(prefix="fake-nomad-parse-") as tmp:
            var_file = os.path.join(tmp, "variables.hcl")
            with open(var_file, "w", encoding="utf-8") as out:
                out.write(variables)
            return dict(convert_hcl(text, path="input.hcl", allow_fs=False, inputs=VariableInputs(files=(var_file,))))

    def job(self, *, write: bool, job_id: str) -> None:
        if write:
            self.register(job_id)
            return
        if self.method == "DELETE":
            self.require("submit-job")
            reply = self.state.deregister(self.namespace, job_id, purge=self.q("purge") in ("true", "1"))
            raise Reply(200, reply, index=reply["Index"])
        self.require("read-job")
        ns = self.namespace
        self.blocking(lambda: self._row_index(ns, job_id))
        with self.state.lock:
            rec = self.state.get_record(ns, job_id)
            if rec is None:
                self.not_found("job not found", self.state.table_index("jobs"))
            self.ok(rec.row, rec.row["ModifyIndex"])  # type: ignore[union-attr]

    def periodic_force(self, *, write: bool, job_id: str) -> None:
        if not write:
            raise Reply(405, "Invalid method", text=True)
        self.require_any("dispatch-job", "submit-job")
        try:
            reply = self.state.periodic_force(self.namespace, job_id)
        except APIError as exc:
            raise Reply(exc.status, exc.text, text=True) from exc
        raise Reply(200, reply, index=reply["Index"])

    def dispatch(self, *, write: bool, job_id: str) -> None:
        """``POST /v1/job/:id/dispatch`` (command/agent/job_endpoint.go jobDispatchRequest, v1.0.18)."""
        if not write:
            raise Reply(405, "Invalid method", text=True)
        data = self.body()
        if not isinstance(data, dict):
            raise Reply(400, "json: cannot unmarshal into Go value of type structs.JobDispatchRequest", text=True)
        if data.get("JobID") and data["JobID"] != job_id:
            raise Reply(400, "Job ID does not match", text=True)
        payload = _go_base64(data.get("Payload"))
        meta = data.get("Meta") or {}
        self.require("dispatch-job")
        try:
            reply = self.state.dispatch(self.namespace, job_id, meta={str(k): str(v) for k, v in meta.items()}, payload=payload)
        except APIError as exc:
            raise Reply(exc.status, exc.text, text=True) from exc
        raise Reply(200, reply, index=reply["Index"])

    def _row_index(self, ns: str, job_id: str) -> int:
        rec = self.state.get_record(ns, job_id)
        return rec.row["ModifyIndex"] if rec else self.state.table_index("jobs")

    def job_sub(self, *, write: bool, job_id: str, sub: str) -> None:
        ns = self.namespace
        st = self.state
        if sub == "plan":
            if not write:
                raise Reply(405, "Invalid method", text=True)
            req = self.body(struct="JobRegisterRequest")
            if not isinstance(req, dict) or not req.get("Job"):
                raise Reply(400, "Job must be specified", text=True)
            job = req["Job"]
            if not job.get("ID"):
                raise Reply(400, "Job must have a valid ID", text=True)
            if job["ID"] != job_id:
                raise Reply(400, "Job ID does not match", text=True)
            job = self._before_validation(job)
            namespace = self._job_namespace(req, job)
            self.require("submit-job", namespace)
            errors, warnings = jobspec.validate({**job, "Namespace": namespace}, self.fake.state.nomad_version)
            if errors:
                raise Reply(500, jobspec.format_errors(errors), text=True)
            try:
                reply, index = st.plan(job, namespace=namespace, diff=bool(req.get("Diff")))
            except APIError as exc:
                raise Reply(exc.status, exc.text, text=True) from exc
            reply["Warnings"] = _format_warnings(warnings)
            raise Reply(200, reply, index=index)
        if sub in ("revert", "stable"):
            if not write:
                raise Reply(405, "Invalid method", text=True)
            data = self.body() or {}
            if not data.get("JobID"):
                raise Reply(400, "JobID must be specified", text=True)
            if data["JobID"] != job_id:
                raise Reply(400, "Job ID does not match", text=True)
            self.require("submit-job")
            try:
                if sub == "revert":
                    prior = data.get("EnforcePriorVersion")
                    reply = st.revert(ns, job_id, version=int(data.get("JobVersion") or 0),
                                      enforce_prior=None if prior is None else int(prior))
                else:
                    reply = st.set_stable(ns, job_id, version=int(data.get("JobVersion") or 0),
                                          stable=bool(data.get("Stable")))
            except APIError as exc:
                raise Reply(exc.status, exc.text, text=True) from exc
            raise Reply(200, reply, index=reply["Index"])
        if sub == "scale" and write:
            self.require_any("scale-job", "submit-job")
            data = self.body(struct="ScalingRequest") or {}
            target = data.get("Target") or {}
            try:
                reply = st.scale(ns, job_id, group=target.get("Group"), count=data.get("Count"),
                                 message=data.get("Message") or "", meta=data.get("Meta"), error=bool(data.get("Error")))
            except APIError as exc:
                raise Reply(exc.status, exc.text, text=True) from exc
            raise Reply(200, reply, index=reply["Index"])
        if self.method != "GET":
            raise Reply(405, "Invalid method", text=True)
        self.require("read-job")
        if sub == "submission" and self.fake.version_at_least(1, 6, 0):
            try:
                version = int(self.q("version"))
            except ValueError as exc:
                raise Reply(400, "Unable to parse job submission version parameter", text=True) from exc
            with st.lock:
                rec = st.get_record(ns, job_id)
                stored = rec.submissions.get(version) if rec else None
                if stored is None:
                    self.not_found("job source not found", st.table_index("jobs"))
                self.ok(stored, stored["JobModifyIndex"])  # type: ignore[index]
        if sub == "submission":
            raise Reply(404, "Invalid URL path", text=True)  # before 1.6.0 the route does not exist
        if sub == "versions":
            self.blocking(lambda: self._versions_index(ns, job_id))
            with st.lock:
                rec = st.get_record(ns, job_id)
                if rec is None:
                    self.not_found("job versions not found", st.table_index("jobs"))
                versions = [dict(v) for v in reversed(rec.versions)]  # type: ignore[union-attr]
                diffs = None
                if self.q("diffs") == "true" and len(versions) > 1:
                    diffs = [job_diff(versions[i + 1], versions[i], contextual=True) for i in range(len(versions) - 1)]
                index = max(v["ModifyIndex"] for v in versions)
                self.ok({"Diffs": diffs, "Index": index, "KnownLeader": True, "LastContact": 0, "Versions": versions}, index)
        if sub == "summary":
            self.blocking(lambda: st.table_index("job_summary"))
            with st.lock:
                rec = st.get_record(ns, job_id)
                if rec is None:
                    self.not_found("job not found", st.table_index("jobs"))
                self.ok(self.fake._summary(rec), st.table_index("job_summary"))
        if sub == "allocations":
            self.blocking(lambda: st.table_index("allocs"))
            with st.lock:
                allocs = [a.stub() for a in st.allocs.values() if (a.namespace, a.job_id) == (ns, job_id)]
                allocs.sort(key=lambda a: -a["CreateIndex"])
                self.ok(allocs, st.table_index("allocs"))
        if sub == "evaluations":
            self.blocking(lambda: st.table_index("evals"))
            with st.lock:
                evals = [e for e in st.evals.values() if (e["Namespace"], e["JobID"]) == (ns, job_id)]
                self.ok([eval_answer(e) for e in job_eval_order(evals)], st.table_index("evals"))
        if sub in ("deployments", "deployment"):
            self.blocking(lambda: st.table_index("deployment"))
            with st.lock:
                live = list(st.allocs.values())
                if sub == "deployment":
                    dep = st.latest_deployment(ns, job_id)
                    self.ok(dep.to_json(live) if dep else None, st.table_index("deployment"))
                deps = [d for d in st.deployments.values() if (d.namespace, d.job_id) == (ns, job_id)]
                deps.sort(key=lambda d: -d.create_index)
                self.ok([d.to_json(live) for d in deps], st.table_index("deployment"))
        if sub == "scale":
            with st.lock:
                rec = st.get_record(ns, job_id)
                if rec is None:
                    self.not_found("job not found", 0)
                self.ok(st.scale_status(rec), max(st.table_index("jobs", "scaling_event", "deployment"), 1))  # type: ignore[arg-type]

    def _versions_index(self, ns: str, job_id: str) -> int:
        rec = self.state.get_record(ns, job_id)
        return max(v["ModifyIndex"] for v in rec.versions) if rec else self.state.table_index("jobs")

    # --- evaluations, allocations, deployments --------------------------------------------
    def evaluations(self, *, write: bool) -> None:
        self.require("read-job")
        self.blocking(lambda: self.state.table_index("evals"))
        with self.state.lock:
            prefix = self.q("prefix")
            namespace = self.namespace
            everywhere = namespace == "*" and self.state.nomad_version >= (1, 3, 0)  # "*" is literal before
            items = [e for e in self.state.evals.values()
                     if e["ID"].startswith(prefix) and (everywhere or e["Namespace"] == namespace)]
            ordered = eval_list_order(items, version=self.state.nomad_version, prefix=prefix)
            self.ok([eval_answer(e) for e in ordered], self.state.table_index("evals"))

    def evaluation(self, *, write: bool, eval_id: str) -> None:
        self.require("read-job")
        with self.state.lock:
            evaluation = self.state.evals.get(eval_id)
            if evaluation is None:
                self.not_found("eval not found", self.state.table_index("evals"))
            self.ok(eval_answer(evaluation), self.state.table_index("evals"))  # type: ignore[arg-type]

    def allocations(self, *, write: bool) -> None:
        self.require("read-job")
        with self.state.lock:
            prefix = self.q("prefix")
            items = [a.stub() for a in self.state.allocs.values() if a.id.startswith(prefix)]
            self.ok(items, self.state.table_index("allocs"))

    def allocation(self, *, write: bool, alloc_id: str) -> None:
        self.require("read-job")
        with self.state.lock:
            alloc = self.state.allocs.get(alloc_id)
            if alloc is None:
                self.not_found("alloc not found", self.state.table_index("allocs"))
            self.ok(alloc.full(with_job=True), alloc.modify_index)  # type: ignore[union-attr]

    def deployments(self, *, write: bool) -> None:
        self.require("read-job")
        self.blocking(lambda: self.state.table_index("deployment"))
        with self.state.lock:
            prefix = self.q("prefix")
            allocs = list(self.state.allocs.values())
            items = [d.to_json(allocs) for d in self.state.deployments.values() if d.id.startswith(prefix)]
            self.ok(items, self.state.table_index("deployment"))

    def deployment(self, *, write: bool, dep_id: str) -> None:
        self.require("read-job")
        self.blocking(lambda: self._dep_index(dep_id))
        with self.state.lock:
            dep = self.state.deployments.get(dep_id)
            if dep is None:
                self.not_found("deployment not found", self.state.table_index("deployment"))
            self.ok(dep.to_json(list(self.state.allocs.values())), dep.modify_index)  # type: ignore[union-attr]

    def _dep_index(self, dep_id: str) -> int:
        dep = self.state.deployments.get(dep_id)
        return dep.modify_index if dep else self.state.table_index("deployment")

    def deployment_allocs(self, *, write: bool, dep_id: str) -> None:
        self.require("read-job")
        with self.state.lock:
            items = [a.stub() for a in self.state.allocs.values() if a.deployment_id == dep_id]
            self.ok(items, self.state.table_index("allocs"))

    def deployment_write(self, *, write: bool, action: str, dep_id: str) -> None:
        if not write:
            raise Reply(405, "Invalid method", text=True)
        self.require("submit-job")
        data = self.body() if self.raw.strip() else {}
        if action in ("promote", "pause"):
            if not data.get("DeploymentID"):
                raise Reply(400, "DeploymentID must be specified", text=True)
            if data["DeploymentID"] != dep_id:
                raise Reply(400, "Deployment ID does not match", text=True)
        try:
            if action == "promote":
                reply = self.state.promote(dep_id, all_groups=bool(data.get("All")), groups=data.get("Groups"))
            elif action == "pause":
                reply = self.state.pause_deployment(dep_id, pause=bool(data.get("Pause")))
            else:
                reply = self.state.fail_deployment(dep_id)
        except APIError as exc:
            raise Reply(exc.status, exc.text, text=True) from exc
        raise Reply(200, reply, index=reply["Index"])

    # --- ACL ----------------------------------------------------------------------------
    def acl_bootstrap(self, *, write: bool) -> None:
        with self.state.lock:
            acl = self.state.acl
            if not acl.enabled:
                raise Reply(400, "ACL support disabled", text=True)
            if acl.bootstrap_index is not None:
                raise Reply(400, f"ACL bootstrap already done (reset index: {acl.bootstrap_index})", text=True)
            index = self.state.bump("acl_token")
            acl.bootstrap_index = index
            token = acl.new_token(name="Bootstrap Token", type_="management", policies=None, index=index,
                                  now=rfc3339(time.time_ns()), global_=True)
            raise Reply(200, token.to_json(), index=index)

    def acl_token_self(self, *, write: bool) -> None:
        with self.state.lock:
            token = self.state.acl.tokens.get(self.token() or "")
            if token is None:
                self.identity()
                raise Reply(403, "ACL token not found", text=True)
            self.ok(token.to_json(), self.state.table_index("acl_token"))

    def acl_token_create(self, *, write: bool) -> None:
        self.require_management()
        data = self.body() or {}
        with self.state.lock:
            index = self.state.bump("acl_token")
            token = self.state.acl.new_token(
                name=data.get("Name") or "", type_=data.get("Type") or "client", policies=data.get("Policies"),
                index=index, now=rfc3339(time.time_ns()), global_=bool(data.get("Global")),
            )
            raise Reply(200, token.to_json(), index=index)

    def acl_policy(self, *, write: bool, name: str) -> None:
        self.require_management()
        with self.state.lock:
            if write:
                data = self.body() or {}
                index = self.state.bump("acl_policy")
                rules = data.get("Rules") or ""
                self.state.acl.policies[name] = Policy(name, data.get("Description") or "", rules, parse_rules(rules), index)
                raise Reply(200, "", text=True, index=index)
            policy = self.state.acl.policies.get(name)
            if policy is None:
                self.not_found("ACL policy not found", self.state.table_index("acl_policy"))
            self.ok(policy.to_json(), policy.create_index)  # type: ignore[union-attr]

    # --- event stream ---------------------------------------------------------------------
    def event_stream(self, *, write: bool) -> None:
        topics: dict[str, set[str]] = {}
        for value in self.query.get("topic", []):
            topic, _, key = value.partition(":")
            if key.count(":"):
                raise Reply(400, f"Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: {value}", text=True)
            topics.setdefault(topic, set()).add(key or "*")
        if not topics:
            self.require_management()
            topics = {"*": {"*"}}
        else:
            for topic in topics:
                if topic in ("Job", "Evaluation", "Allocation", "Deployment"):
                    self.require("read-job")
                else:
                    self.require_management()
        try:
            start = int(self.q("index") or 0)
        except ValueError as exc:
            raise Reply(400, f"Unable to parse index: {exc}", text=True) from exc
        self.fake._stream(self.handler, Subscription(topics=topics, namespace=self.namespace, start_index=start))
        raise Reply(0, None)


def _go_base64(value: Any) -> bytes:
    """A JSON ``[]byte`` as Go decodes it (standard base64), with Go's error text."""
    if value is None or value == "":
        return b""
    if not isinstance(value, str):
        raise Reply(400, "json: cannot unmarshal into Go struct field JobDispatchRequest.Payload of type []uint8", text=True)
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    bad = next((i for i, ch in enumerate(value) if ch not in alphabet), None)
    try:
        if bad is not None:
            raise ValueError(bad)
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as exc:
        position = bad if bad is not None else max(0, len(value) - len(value) % 4)
        raise Reply(400, f"illegal base64 data at input byte {position}", text=True) from exc


def _format_warnings(warnings: list[str]) -> str:
    try:
        from reconciler.jobspec.validate import format_validation_warnings
    except ImportError:
        return f"{len(warnings)} warning(s):\n" + "".join(f"\n* {w}" for w in warnings) if warnings else ""
    return format_validation_warnings(warnings)
