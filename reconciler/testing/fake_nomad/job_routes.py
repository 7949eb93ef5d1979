"""The fake's job endpoints: ``/v1/jobs``, ``/v1/job/:id`` and its sub-resources,
validation, parsing and dispatch, answering like the modelled Nomad release.

State changes are delegated to ``State``; the routing table is in ``routes``.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from typing import Any

from reconciler.testing.fake_nomad import job_validation, stubs
from reconciler.testing.fake_nomad import jobs as jobspec
from reconciler.testing.fake_nomad.diff import job_diff
from reconciler.testing.fake_nomad.request import Reply, Request
from reconciler.testing.fake_nomad.state import APIError, eval_answer, job_eval_order


class JobRoutes(Request):
    """The handlers of the job endpoints (``Route`` adds the others and the routing)."""

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
            views = stubs.by_job(self.state)
            items = [
                stubs.job_stub(self.state, rec, meta=self.q("meta") == "true", with_namespace=ns == "*", views=views)
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
        errors, warnings = job_validation.validate({**job, "Namespace": namespace}, self.fake.state.nomad_version)
        if errors:
            raise Reply(500, job_validation.format_errors(errors), text=True)
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
        reply["Warnings"] = job_validation.format_warnings(warnings)  # e.g. max_parallel greater than count
        raise Reply(200, reply, index=reply["Index"])

    def validate(self, *, write: bool) -> None:
        req = self.body(struct="JobRegisterRequest")
        if not isinstance(req, dict) or not req.get("Job"):
            raise Reply(400, "Job must be specified", text=True)
        job = self._before_validation(req["Job"])
        self.require("read-job", job.get("Namespace") or "default")
        errors, warnings = job_validation.validate(job, self.fake.state.nomad_version)
        if errors and isinstance(errors[0], job_validation.Refused):
            raise Reply(500, job_validation.format_errors(errors), text=True)
        if job.get("Namespace") and job["Namespace"] not in self.state.namespaces:
            errors.append(f'job "{job.get("ID")}" is in nonexistent namespace "{job["Namespace"]}"')
        body = {
            "DriverConfigValidated": True,
            "Error": job_validation.format_errors(errors) if errors else "",
            "ValidationErrors": errors or None,
            "Warnings": job_validation.format_warnings(warnings),
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
            errors, warnings = job_validation.validate({**job, "Namespace": namespace}, self.fake.state.nomad_version)
            if errors:
                raise Reply(500, job_validation.format_errors(errors), text=True)
            try:
                reply, index = st.plan(job, namespace=namespace, diff=bool(req.get("Diff")))
            except APIError as exc:
                raise Reply(exc.status, exc.text, text=True) from exc
            reply["Warnings"] = job_validation.format_warnings(warnings)
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
                self.ok(stubs.job_summary(self.state, rec), st.table_index("job_summary"))
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
