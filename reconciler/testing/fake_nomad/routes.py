"""The fake's endpoints: one ``Route`` per request, answering like Nomad 1.0.18.

The routing table, and the endpoints other than the jobs' (``job_routes``):
agent and status, namespaces, evaluations, allocations, deployments, ACL
and the event stream.  Request decoding, ACL checks and blocking queries are
in ``request``; state changes are delegated to ``State``; the HTTP plumbing
lives in ``http_handler``.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from typing import Any

from reconciler.testing.fake_nomad.acl import Policy, parse_rules
from reconciler.testing.fake_nomad.events import Subscription
from reconciler.testing.fake_nomad.job_routes import JobRoutes
from reconciler.testing.fake_nomad.request import Reply
from reconciler.testing.fake_nomad.scheduler import NODE_ID, NODE_NAME, rfc3339
from reconciler.testing.fake_nomad.state import APIError, eval_answer, eval_list_order


class Route(JobRoutes):
    """One request: parse, authorise, act, reply (by raising ``Reply``)."""

    # --- routing ---------------------------------------------------------------------
    def run(self) -> None:
        p, m = self.path, self.method
        write = m in ("PUT", "POST")
        routes: list[tuple[str, Callable[..., None]]] = [
            (r"/v1/agent/self", self.agent_self), (r"/v1/status/leader", self.leader),
            (r"/v1/status/peers", self.peers), (r"/v1/regions", self.regions),
            (r"/v1/nodes", self.nodes),
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

    def nodes(self, *, write: bool) -> None:
        """The one client node the fake places allocations on, ready from the start (a
        stub of ``structs.NodeListStub``, nomad/structs/structs.go@v1.0.18)."""
        if write:
            raise Reply(405, "Invalid method", text=True)
        self.identity()
        stub = {
            "ID": NODE_ID, "Name": NODE_NAME, "Address": self.fake.host, "Datacenter": self.fake.datacenters[0],
            "NodeClass": "", "Version": self.fake.version, "Drain": False, "SchedulingEligibility": "eligible",
            "Status": "ready", "StatusDescription": "", "CreateIndex": 1, "ModifyIndex": 1,
        }
        self.ok([stub], 1)

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
        self.handler.stream_events(Subscription(topics=topics, namespace=self.namespace, start_index=start))
        raise Reply(0, None)
