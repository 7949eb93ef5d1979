"""The fake's HTTP face: ``FakeNomad``, a real HTTP server on loopback (or a
unix socket, optionally TLS) speaking Nomad 1.0.18's API.

Responsible for routing, request decoding, ACL checks, blocking-query
parameters, response headers and bodies, the NDJSON event stream, fault
injection and the request log.  State changes are delegated to ``State``;
a background thread advances simulated time (allocations, deployments).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import socket
import socketserver
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from reconciler.testing.fake_nomad import jobs as jobspec
from reconciler.testing.fake_nomad.acl import ACLDenied, Identity, Policy, parse_rules
from reconciler.testing.fake_nomad.diff import job_diff
from reconciler.testing.fake_nomad.events import EventBroker, Subscription
from reconciler.testing.fake_nomad.faults import Faults
from reconciler.testing.fake_nomad.scheduler import rfc3339
from reconciler.testing.fake_nomad.state import HEALTH_MODES, APIError, HealthModel, State

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


class _Reply(Exception):
    """Raised by handlers to answer immediately."""

    def __init__(self, status: int, body: Any, *, text: bool = False, index: int | None = None, query: bool = False) -> None:
        super().__init__(status)
        self.status, self.body, self.text, self.index, self.query = status, body, text, index, query


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeNomad"
    fake: FakeNomad
    log_status: Callable[[int], None]

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # --- plumbing ---------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        logged = False

        def log(status: int) -> None:
            # Logged before the answer is written, so a client that got its answer sees it logged.
            nonlocal logged
            if not logged:
                logged = True
                fake._log(method, path, parts.query, status)

        self.log_status = log
        try:
            decision = fake.faults.decide(path)
            if decision.latency_s:
                fake._stopping.wait(decision.latency_s)
            if decision.drop:
                log(-1)
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if decision.fail is not None:
                raise _Reply(decision.fail.status, decision.fail.body, text=True)
            _Route(fake, self, method, path, query, raw).run()
        except _Reply as reply:
            log(200 if reply.status == 0 else reply.status)  # 0: an event stream that has ended
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            log(-1)
        except Exception as exc:  # a fake defect must surface as an answer, not a hung client
            log(500)
            self._send(_Reply(500, f"fake nomad internal error: {exc!r}", text=True))
        finally:
            log(-1)

    def _send(self, reply: _Reply) -> None:
        if reply.status == 0:
            return  # streamed already
        headers: list[tuple[str, str]] = []
        if reply.index is not None:
            headers.append(("X-Nomad-Index", str(reply.index)))
        if reply.query:
            headers += [("X-Nomad-KnownLeader", "true"), ("X-Nomad-LastContact", "0")]
        if reply.text:
            body = str(reply.body).encode()
            if reply.body is not None:
                headers.append(("Content-Type", TEXT))
        else:
            body = json.dumps(reply.body, sort_keys=True).encode()
            headers.append(("Content-Type", "application/json"))
        if reply.text and reply.body == "" and reply.status == 200:
            headers = [h for h in headers if h[0] != "Content-Type"]
        self.send_response(reply.status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Route:
    """One request: parse, authorise, act, reply (by raising ``_Reply``)."""

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
                raise _Reply(exc.status, exc.text, text=True) from exc

    def require(self, capability: str, namespace: str | None = None) -> Identity:
        ident = self.identity()
        if not ident.allows(capability, namespace or self.namespace):
            raise _Reply(403, "Permission denied", text=True)
        return ident

    def require_management(self) -> None:
        if not self.identity().management:
            raise _Reply(403, "Permission denied", text=True)

    def body(self, *, struct: str | None = None) -> Any:
        text = self.raw.decode("utf-8", errors="replace")
        if not text.strip():
            raise _Reply(400, "Request body is empty", text=True)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _Reply(400, jobspec.go_json_error(text, exc), text=True) from exc
        if struct is None:
            return data
        try:
            return jobspec.decode_struct(data, struct)
        except jobspec.DecodeError as exc:
            raise _Reply(400, str(exc), text=True) from exc

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
                raise _Reply(400, "Invalid index", text=True) from exc
        wait = MAX_WAIT_S
        if raw_wait:
            try:
                wait = min(parse_go_duration(raw_wait), MAX_WAIT_S)
            except ValueError as exc:
                raise _Reply(400, "Invalid wait time", text=True) from exc
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
        raise _Reply(200, body, index=index, query=query)

    def not_found(self, text: str, index: int) -> None:
        raise _Reply(404, text, text=True, index=index, query=True)

    # --- routing ---------------------------------------------------------------------
    def run(self) -> None:
        p, m = self.path, self.method
        write = m in ("PUT", "POST")
        routes: list[tuple[str, Callable[..., None]]] = [
            (r"/v1/agent/self", self.agent_self), (r"/v1/status/leader", self.leader),
            (r"/v1/status/peers", self.peers), (r"/v1/regions", self.regions),
            (r"/v1/namespaces", self.namespaces), (r"/v1/namespace/?(?P<name>[^/]*)", self.namespace_one),
            (r"/v1/jobs/parse", self.parse), (r"/v1/jobs", self.jobs), (r"/v1/validate/job", self.validate),
            (r"/v1/job/(?P<job_id>.+)/(?P<sub>plan|versions|summary|allocations|deployments|deployment|scale|evaluations|submission)", self.job_sub),
            (r"/v1/job/(?P<job_id>.+)", self.job),
            (r"/v1/evaluations", self.evaluations), (r"/v1/evaluation/(?P<eval_id>[^/]+)", self.evaluation),
            (r"/v1/allocations", self.allocations), (r"/v1/deployments", self.deployments),
            (r"/v1/deployment/allocations/(?P<dep_id>[^/]+)", self.deployment_allocs),
            (r"/v1/deployment/(?P<action>promote|fail)/(?P<dep_id>[^/]+)", self.deployment_write),
            (r"/v1/deployment/(?P<dep_id>[^/]+)", self.deployment),
            (r"/v1/acl/bootstrap", self.acl_bootstrap), (r"/v1/acl/token/self", self.acl_token_self),
            (r"/v1/acl/token", self.acl_token_create), (r"/v1/acl/policy/(?P<name>[^/]+)", self.acl_policy),
            (r"/v1/event/stream", self.event_stream),
        ]
        if not self.fake.faults.has_leader:
            raise _Reply(500, "No cluster leader", text=True)
        for pattern, handler in routes:
            match = re.fullmatch(pattern, p)
            if match:
                handler(write=write, **match.groupdict())
                return
        raise _Reply(404, "Invalid URL path", text=True)

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
        raise _Reply(200, body, query=False)

    def leader(self, *, write: bool) -> None:
        raise _Reply(200, f"{self.fake.host}:4647", query=False)

    def peers(self, *, write: bool) -> None:
        raise _Reply(200, [f"{self.fake.host}:4647"], query=False)

    def regions(self, *, write: bool) -> None:
        raise _Reply(200, [self.fake.region], query=False)

    # --- namespaces ----------------------------------------------------------------------
    @staticmethod
    def _ns_json(ns: dict[str, Any]) -> dict[str, Any]:
        import base64
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
            raise _Reply(200, "", text=True, index=index)
        if self.method == "DELETE":
            self.require_management()
            try:
                index = self.state.delete_namespace(name)
            except APIError as exc:
                raise _Reply(exc.status, exc.text, text=True) from exc
            raise _Reply(200, "", text=True, index=index)
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
            raise _Reply(405, "Invalid method", text=True)
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
            raise _Reply(400, "Job must be specified", text=True)
        job = req["Job"]
        if not job.get("ID"):
            raise _Reply(400, "Job ID hasn't been provided", text=True)
        if path_id is not None and job["ID"] != path_id:
            raise _Reply(400, "Job ID does not match name", text=True)
        return req, job

    def _job_namespace(self, req: dict[str, Any], job: dict[str, Any]) -> str:
        return self.q("namespace") or req.get("Namespace") or job.get("Namespace") or "default"

    def register(self, path_id: str | None) -> None:
        req, job = self._job_request(path_id)
        namespace = self._job_namespace(req, job)
        self.require("submit-job", namespace)
        errors, warnings = jobspec.validate({**job, "Namespace": namespace})
        if errors:
            raise _Reply(500, jobspec.format_errors(errors), text=True)
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
            raise _Reply(exc.status, exc.text, text=True) from exc
        reply["Warnings"] = _format_warnings(warnings)  # e.g. max_parallel greater than count
        raise _Reply(200, reply, index=reply["Index"])

    def validate(self, *, write: bool) -> None:
        req = self.body(struct="JobRegisterRequest")
        if not isinstance(req, dict) or not req.get("Job"):
            raise _Reply(400, "Job must be specified", text=True)
        job = req["Job"]
        self.require("read-job", job.get("Namespace") or "default")
        errors, warnings = jobspec.validate(job)
        if job.get("Namespace") and job["Namespace"] not in self.state.namespaces:
            errors.append(f'job "{job.get("ID")}" is in nonexistent namespace "{job["Namespace"]}"')
        body = {
            "DriverConfigValidated": True,
            "Error": jobspec.format_errors(errors) if errors else "",
            "ValidationErrors": errors or None,
            "Warnings": _format_warnings(warnings),
        }
        raise _Reply(200, body)

    def parse(self, *, write: bool) -> None:
        data = self.body() or {}
        self.require("parse-job") if self._has_cap("parse-job") else self.require("submit-job")
        text = data.get("JobHCL") or ""
        if not text:
            raise _Reply(400, "Job spec is empty", text=True)
        try:
            from reconciler.jobspec.hcl_convert import convert_hcl
        except ImportError as exc:
            raise _Reply(500, "HCL parsing is not available in this build of the fake", text=True) from exc
        try:
            job = convert_hcl(text, path="input.hcl", allow_fs=False)
        except Exception as exc:
            # JobSpecError & co.: Nomad answers 400 with the diagnostics as plain text.
            raise _Reply(400, str(exc), text=True) from exc
        if data.get("Canonicalize"):
            job = jobspec.to_api_view(job, jobspec._api_canonicalize(job))
        raise _Reply(200, job)

    def _has_cap(self, cap: str) -> bool:
        try:
            return self.identity().allows(cap, self.namespace)
        except _Reply:
            return False

    def job(self, *, write: bool, job_id: str) -> None:
        if write:
            self.register(job_id)
            return
        if self.method == "DELETE":
            self.require("submit-job")
            reply = self.state.deregister(self.namespace, job_id, purge=self.q("purge") in ("true", "1"))
            raise _Reply(200, reply, index=reply["Index"])
        self.require("read-job")
        ns = self.namespace
        self.blocking(lambda: self._row_index(ns, job_id))
        with self.state.lock:
            rec = self.state.get_record(ns, job_id)
            if rec is None:
                self.not_found("job not found", self.state.table_index("jobs"))
            self.ok(rec.row, rec.row["ModifyIndex"])  # type: ignore[union-attr]

    def _row_index(self, ns: str, job_id: str) -> int:
        rec = self.state.get_record(ns, job_id)
        return rec.row["ModifyIndex"] if rec else self.state.table_index("jobs")

    def job_sub(self, *, write: bool, job_id: str, sub: str) -> None:
        ns = self.namespace
        st = self.state
        if sub == "plan":
            if not write:
                raise _Reply(405, "Invalid method", text=True)
            req = self.body(struct="JobRegisterRequest")
            if not isinstance(req, dict) or not req.get("Job"):
                raise _Reply(400, "Job must be specified", text=True)
            job = req["Job"]
            if not job.get("ID"):
                raise _Reply(400, "Job must have a valid ID", text=True)
            if job["ID"] != job_id:
                raise _Reply(400, "Job ID does not match", text=True)
            namespace = self._job_namespace(req, job)
            self.require("submit-job", namespace)
            errors, warnings = jobspec.validate({**job, "Namespace": namespace})
            if errors:
                raise _Reply(500, jobspec.format_errors(errors), text=True)
            try:
                reply, index = st.plan(job, namespace=namespace, diff=bool(req.get("Diff")))
            except APIError as exc:
                raise _Reply(exc.status, exc.text, text=True) from exc
            reply["Warnings"] = _format_warnings(warnings)
            raise _Reply(200, reply, index=index)
        if sub == "scale" and write:
            self.require("submit-job") if not self._has_cap("scale-job") else None
            data = self.body(struct="ScalingRequest") or {}
            target = data.get("Target") or {}
            try:
                reply = st.scale(ns, job_id, group=target.get("Group"), count=data.get("Count"),
                                 message=data.get("Message") or "", meta=data.get("Meta"), error=bool(data.get("Error")))
            except APIError as exc:
                raise _Reply(exc.status, exc.text, text=True) from exc
            raise _Reply(200, reply, index=reply["Index"])
        if self.method != "GET":
            raise _Reply(405, "Invalid method", text=True)
        self.require("read-job")
        if sub == "submission" and self.fake.version_at_least(1, 6, 0):
            try:
                version = int(self.q("version"))
            except ValueError as exc:
                raise _Reply(400, "Unable to parse job submission version parameter", text=True) from exc
            with st.lock:
                rec = st.get_record(ns, job_id)
                stored = rec.submissions.get(version) if rec else None
                if stored is None:
                    self.not_found("job source not found", st.table_index("jobs"))
                self.ok(stored, stored["JobModifyIndex"])  # type: ignore[index]
        if sub == "submission":
            raise _Reply(404, "Invalid URL path", text=True)  # before 1.6.0 the route does not exist
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
            with st.lock:
                evals = [e for e in st.evals.values() if (e["Namespace"], e["JobID"]) == (ns, job_id)]
                self.ok(evals, st.table_index("evals"))
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
        with self.state.lock:
            prefix = self.q("prefix")
            items = [e for e in self.state.evals.values() if e["ID"].startswith(prefix)]
            self.ok(items, self.state.table_index("evals"))

    def evaluation(self, *, write: bool, eval_id: str) -> None:
        self.require("read-job")
        with self.state.lock:
            evaluation = self.state.evals.get(eval_id)
            if evaluation is None:
                self.not_found("eval not found", self.state.table_index("evals"))
            self.ok(evaluation, self.state.table_index("evals"))

    def allocations(self, *, write: bool) -> None:
        self.require("read-job")
        with self.state.lock:
            prefix = self.q("prefix")
            items = [a.stub() for a in self.state.allocs.values() if a.id.startswith(prefix)]
            self.ok(items, self.state.table_index("allocs"))

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
            raise _Reply(405, "Invalid method", text=True)
        self.require("submit-job")
        data = self.body() if self.raw.strip() else {}
        if action == "promote":
            if not data.get("DeploymentID"):
                raise _Reply(400, "DeploymentID must be specified", text=True)
            if data["DeploymentID"] != dep_id:
                raise _Reply(400, "Deployment ID does not match", text=True)
        try:
            if action == "promote":
                reply = self.state.promote(dep_id, all_groups=bool(data.get("All")), groups=data.get("Groups"))
            else:
                reply = self.state.fail_deployment(dep_id)
        except APIError as exc:
            raise _Reply(exc.status, exc.text, text=True) from exc
        raise _Reply(200, reply, index=reply["Index"])

    # --- ACL ----------------------------------------------------------------------------
    def acl_bootstrap(self, *, write: bool) -> None:
        with self.state.lock:
            acl = self.state.acl
            if not acl.enabled:
                raise _Reply(400, "ACL support disabled", text=True)
            if acl.bootstrap_index is not None:
                raise _Reply(400, f"ACL bootstrap already done (reset index: {acl.bootstrap_index})", text=True)
            index = self.state.bump("acl_token")
            acl.bootstrap_index = index
            token = acl.new_token(name="Bootstrap Token", type_="management", policies=None, index=index,
                                  now=rfc3339(time.time_ns()), global_=True)
            raise _Reply(200, token.to_json(), index=index)

    def acl_token_self(self, *, write: bool) -> None:
        with self.state.lock:
            token = self.state.acl.tokens.get(self.token() or "")
            if token is None:
                self.identity()
                raise _Reply(403, "ACL token not found", text=True)
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
            raise _Reply(200, token.to_json(), index=index)

    def acl_policy(self, *, write: bool, name: str) -> None:
        self.require_management()
        with self.state.lock:
            if write:
                data = self.body() or {}
                index = self.state.bump("acl_policy")
                rules = data.get("Rules") or ""
                self.state.acl.policies[name] = Policy(name, data.get("Description") or "", rules, parse_rules(rules), index)
                raise _Reply(200, "", text=True, index=index)
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
                raise _Reply(400, f"Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: {value}", text=True)
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
            raise _Reply(400, f"Unable to parse index: {exc}", text=True) from exc
        self.fake._stream(self.handler, Subscription(topics=topics, namespace=self.namespace, start_index=start))
        raise _Reply(0, None)


def _format_warnings(warnings: list[str]) -> str:
    try:
        from reconciler.jobspec.validate import format_validation_warnings
    except ImportError:
        return f"{len(warnings)} warning(s):\n" + "".join(f"\n* {w}" for w in warnings) if warnings else ""
    return format_validation_warnings(warnings)


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[Any, Any]:
        request, _ = super().get_request()
        return request, ("127.0.0.1", 0)  # BaseHTTPRequestHandler expects an (host, port) address


class FakeNomad:
    """A fake Nomad 1.0.18 agent (server + one client node) for tests and demos.

    Use as a context manager or call ``start()``/``stop()``.  ``address`` is
    ``http://127.0.0.1:PORT`` (``https`` with an ``ssl_context``, ``unix://PATH``
    with ``unix_socket``).  ``clock`` drives deployment timing; the fake
    advances its simulation on a background thread every ``tick_s`` seconds
    (``tick()`` advances it immediately).
    """

    def __init__(
        self,
        *,
        version: str = "1.0.18",
        acl: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        unix_socket: str | None = None,
        region: str = "global",
        datacenters: tuple[str, ...] | list[str] = ("dc1",),
        health: HealthModel | None = None,
        clock: Callable[[], float] = time.monotonic,
        heartbeat_s: float = 10.0,
        tick_s: float = 0.02,
        blocking_jitter: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.version = version
        self.acl_enabled = acl
        self.region = region
        self.datacenters = tuple(datacenters)
        self.heartbeat_s = heartbeat_s
        self.blocking_jitter = blocking_jitter
        self.host = host
        self._port = port
        self._ssl = ssl_context
        self._unix = unix_socket
        self._tick_s = tick_s
        self.broker = EventBroker()
        self.faults = Faults()
        self.faults._attach(self.broker)
        self.state = State(region=region, datacenters=self.datacenters, acl=acl, health=health or HealthModel(),
                           clock=clock, broker=self.broker)
        self.state.purge_job_event = self.version_at_least(1, 7, 5)
        self.state.purge_deleted_flag = self.version_at_least(1, 11, 3)
        self._log_lock = threading.Lock()
        self._request_log: list[tuple[str, str, str, int]] = []
        self._long_requests: set[threading.Thread] = set()
        self._stopping = threading.Event()
        self._server: socketserver.BaseServer | None = None
        self._threads: list[threading.Thread] = []
        self.address = ""

    # --- lifecycle --------------------------------------------------------------------
    def start(self) -> FakeNomad:
        # TCP_NODELAY (not on unix sockets): headers and body are separate writes, and
        # Nagle + delayed ACK would add ~40 ms to every keep-alive request (as Go, Nomad sets it).
        handler = type("Handler", (_Handler,), {"fake": self, "disable_nagle_algorithm": not self._unix})
        if self._unix:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._unix)
            server: socketserver.BaseServer = _UnixHTTPServer(self._unix, handler)
            self.address = f"unix://{self._unix}"
        else:
            http_server = ThreadingHTTPServer((self.host, self._port), handler)
            http_server.daemon_threads = True
            if self._ssl is not None:
                http_server.socket = self._ssl.wrap_socket(http_server.socket, server_side=True)
            port = http_server.server_address[1]
            self.address = f"{'https' if self._ssl else 'http'}://{self.host}:{port}"
            server = http_server
        self._server = server
        serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-nomad-http", daemon=True)
        ticker = threading.Thread(target=self._run_ticks, name="fake-nomad-scheduler", daemon=True)
        self._threads = [serve, ticker]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self.state.wakeup.set()
        self.broker.set_stalled(False)
        with self.state.cond:
            self.state.cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        with self._log_lock:
            long_requests = list(self._long_requests)
        for thread in [*self._threads, *long_requests]:
            thread.join(timeout=5)  # streams and blocking queries notice _stopping within 0.5 s
        self._server = None
        if self._unix:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._unix)

    def __enter__(self) -> FakeNomad:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track_long_request(self) -> None:
        """Remember a handler thread that may outlive a request/response cycle
        (blocking query, event stream) so ``stop()`` can wait for it."""
        with self._log_lock:
            self._long_requests.add(threading.current_thread())

    def _run_ticks(self) -> None:
        wakeup = self.state.wakeup
        while not self._stopping.is_set():
            if wakeup.wait(self._tick_s):
                wakeup.clear()
                # Nomad's eval broker hands work to a scheduler a moment after the write:
                # readers woken by the write see the job before its placements.
                self._stopping.wait(self.state.health.schedule_delay_s)
            if not self._stopping.is_set():
                self.state.tick()

    def tick(self) -> None:
        """Advance the simulation to the clock's current time now (for driven clocks)."""
        self.state.tick()

    def version_at_least(self, *wanted: int) -> bool:
        """Is the configured Nomad version at least ``wanted`` (features gated by version)?"""
        parts = tuple(int(p) for p in re.findall(r"\d+", self.version)[:3])
        return parts >= wanted

    # --- request log ------------------------------------------------------------------
    def _log(self, method: str, path: str, query: str, status: int) -> None:
        with self._log_lock:
            self._request_log.append((method, path, query, status))

    @property
    def request_log(self) -> list[tuple[str, str, str, int]]:
        """(method, path, raw query, status) of every request so far; status -1 = dropped."""
        with self._log_lock:
            return list(self._request_log)

    def clear_request_log(self) -> None:
        with self._log_lock:
            self._request_log.clear()

    # --- helpers for tests ------------------------------------------------------------
    def bootstrap_acl(self) -> str:
        """Bootstrap ACLs; returns the management token's SecretID."""
        with self.state.lock:
            index = self.state.bump("acl_token")
            self.state.acl.bootstrap_index = index
            token = self.state.acl.new_token(name="Bootstrap Token", type_="management", policies=None,
                                             index=index, now=rfc3339(time.time_ns()), global_=True)
            return token.secret_id

    def create_token(self, policies: dict[str, list[str]], *, name: str = "test-token") -> str:
        """A client token with ``{namespace: [capabilities]}``; returns its SecretID."""
        with self.state.lock:
            index = self.state.bump("acl_policy", "acl_token")
            policy_name = f"policy-{uuid.uuid4().hex[:8]}"
            rules = "\n".join(
                f'namespace "{ns}" {{\n  capabilities = [{", ".join(json.dumps(c) for c in caps)}]\n}}'
                for ns, caps in policies.items()
            )
            self.state.acl.policies[policy_name] = Policy(policy_name, "", rules, parse_rules(rules), index)
            token = self.state.acl.new_token(name=name, type_="client", policies=[policy_name], index=index,
                                             now=rfc3339(time.time_ns()))
            return token.secret_id

    def set_health(
        self, job_id: str, *, namespace: str = "default", mode: str = "healthy", after_s: float | None = None,
        version: int | None = None,
    ) -> None:
        """How new allocations of a job behave: healthy after ``after_s`` (default: the
        group's min_healthy_time), ``unhealthy`` (the task fails at start), or ``never``
        healthy.  With ``version`` it applies to that job version only (e.g. the one
        whose task would crash), taking precedence over a job-wide setting."""
        if mode not in HEALTH_MODES:
            raise ValueError(f"mode must be one of {HEALTH_MODES}, not {mode!r}")
        with self.state.lock:
            self.state.health_overrides[(namespace, job_id, version)] = (mode, after_s)

    def run_job_out_of_band(self, job: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        """Register ``job`` (API JSON) directly, as someone running ``nomad job run`` would."""
        ns = namespace or job.get("Namespace") or "default"
        return self.state.register(job, namespace=ns, enforce_index=False, job_modify_index=0,
                                   preserve_counts=False, token_accessor="")

    def scale(self, job_id: str, group: str, count: int, *, namespace: str = "default", message: str = "") -> dict[str, Any]:
        """Scale a group behind the reconciler's back (``nomad job scale``)."""
        return self.state.scale(namespace, job_id, group=group, count=count, message=message, meta=None, error=False)

    def read_job(self, job_id: str, *, namespace: str = "default") -> dict[str, Any] | None:
        with self.state.lock:
            rec = self.state.get_record(namespace, job_id)
            return json.loads(json.dumps(rec.row)) if rec else None

    def latest_deployment(self, job_id: str, *, namespace: str = "default") -> dict[str, Any] | None:
        with self.state.lock:
            dep = self.state.latest_deployment(namespace, job_id)
            return dep.to_json(list(self.state.allocs.values())) if dep else None

    def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 10.0) -> bool:
        """Wait (bounded) until ``predicate()`` holds, re-checking on every state change."""
        deadline = time.monotonic() + timeout
        with self.state.cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.state.cond.wait(min(remaining, 0.05))
            return True

    # --- rendering shared by handlers ---------------------------------------------------
    def _by_job(self) -> tuple[dict[tuple[str, str], list[Any]], dict[tuple[str, str], list[dict[str, Any]]]]:
        """Allocations and blocked evaluations grouped by job, computed once per listing."""
        allocs: dict[tuple[str, str], list[Any]] = {}
        for alloc in self.state.allocs.values():
            allocs.setdefault((alloc.namespace, alloc.job_id), []).append(alloc)
        blocked: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for evaluation in self.state.evals.values():
            if evaluation["Status"] == "blocked":
                blocked.setdefault((evaluation["Namespace"], evaluation["JobID"]), []).append(evaluation)
        return allocs, blocked

    def _summary(self, rec: Any, views: Any = None) -> dict[str, Any]:
        job = rec.row
        allocs_by_job, blocked_by_job = views or self._by_job()
        key = (job["Namespace"], job["ID"])
        allocs = allocs_by_job.get(key, [])
        queued: dict[str, int] = {}
        for evaluation in blocked_by_job.get(key, []):
            for name, n in (evaluation.get("QueuedAllocations") or {}).items():
                queued[name] = queued.get(name, 0) + n
        summary: dict[str, dict[str, int]] = {}
        for group in job.get("TaskGroups") or []:
            mine = [a.client_status for a in allocs if a.group == group["Name"]]
            summary[group["Name"]] = {
                "Complete": mine.count("complete"), "Failed": mine.count("failed"), "Lost": 0,
                "Queued": queued.get(group["Name"], 0), "Running": mine.count("running"),
                "Starting": mine.count("pending"),
            }
        return {"Children": {"Dead": 0, "Pending": 0, "Running": 0}, "CreateIndex": job["CreateIndex"],
                "JobID": job["ID"], "ModifyIndex": self.state.table_index("job_summary"),
                "Namespace": job["Namespace"], "Summary": summary}

    def _stub(self, rec: Any, *, meta: bool, with_namespace: bool, views: Any = None) -> dict[str, Any]:
        job = rec.row
        stub = {
            "CreateIndex": job["CreateIndex"], "Datacenters": job["Datacenters"], "ID": job["ID"],
            "JobModifyIndex": job["JobModifyIndex"], "JobSummary": self._summary(rec, views),
            "ModifyIndex": job["ModifyIndex"], "Multiregion": job.get("Multiregion"), "Name": job["Name"],
            "ParameterizedJob": job.get("ParameterizedJob") is not None,
            "ParentID": job.get("ParentID", ""), "Periodic": job.get("Periodic") is not None,
            "Priority": job["Priority"], "Status": job["Status"], "StatusDescription": job["StatusDescription"],
            "Stop": job["Stop"], "SubmitTime": job["SubmitTime"], "Type": job["Type"],
        }
        if with_namespace:  # 1.0.18 names the namespace only in cross-namespace listings
            stub["Namespace"] = job["Namespace"]
        if meta and self.version_at_least(1, 4, 3):
            stub["Meta"] = job.get("Meta")
        return stub

    def _stream(self, handler: _Handler, sub: Subscription) -> None:
        """Write NDJSON frames (``{}`` heartbeats) until the client leaves or the fake stops."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        handler.log_status(200)  # a stream counts when it starts
        handler.close_connection = True

        def write(line: bytes) -> None:
            handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            handler.wfile.flush()

        self._track_long_request()
        self.broker.subscribe(sub)
        try:
            write(b"{}\n")
            last = time.monotonic()
            while not self._stopping.is_set():
                frames = self.broker.next_frames(sub, timeout=min(0.25, self.heartbeat_s))
                for frame in frames:
                    payload = {"Index": frame.index, "Events": list(frame.events)}
                    write(json.dumps(payload, separators=(",", ":")).encode() + b"\n")
                    last = time.monotonic()
                if self.broker.stalled:
                    continue
                if time.monotonic() - last >= self.heartbeat_s:
                    write(b"{}\n")
                    last = time.monotonic()
            with contextlib.suppress(OSError):
                handler.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            self.broker.close(sub)
