"""What a newer Nomad stores and reads back beyond 1.0.18 (the fake's own model).

Responsible for turning the 1.0.18 struct job that ``jobs.to_struct_job``
builds into the struct a server of a later release stores: the fields each
release added to its structs (read back with their zero value, or null for
pointers), the defaults it fills on register, and the constraints its
admission hook implies.  Also the test hook ``Extras``: fields a test wants the
fake to store although no model of Nomad knows them.

Written from Nomad's source (``nomad/structs``, ``api``,
``command/agent/job_endpoint.go``, ``nomad/job_endpoint_hooks.go`` at each
tag).  Deliberately independent of the project's ``canonical_versions``: the
fake is what the project is checked against, so it must not share its model.
Pure: mutates only the struct it is given.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

V = tuple[int, int, int]
SECOND = 1_000_000_000


def parse_version(text: str) -> V:
    """``"1.6.2"`` → ``(1, 6, 2)``; missing parts are 0 (``"2.0"`` → ``(2, 0, 0)``)."""
    parts = [*(int(p) for p in re.findall(r"\d+", text)[:3]), 0, 0, 0]
    return parts[0], parts[1], parts[2]


@dataclass(frozen=True)
class Extras:
    """Fields the fake fills on register where the submitted job leaves them unset:
    ``job`` at job level, ``group`` in every task group, ``task`` in every task."""

    job: Mapping[str, Any] = field(default_factory=dict)
    group: Mapping[str, Any] = field(default_factory=dict)
    task: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, struct: dict[str, Any]) -> None:
        _setdefaults(struct, self.job)
        for group in struct.get("TaskGroups") or []:
            _setdefaults(group, self.group)
            for task in group.get("Tasks") or []:
                _setdefaults(task, self.task)


def _setdefaults(obj: dict[str, Any], values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if obj.get(key) is None:
            obj[key] = copy.deepcopy(value)


# Per object kind: (release, field, stored value when the job does not set it).
_ADDED: dict[str, list[tuple[V, str, Any]]] = {
    "job": [((1, 1, 0), "ConsulNamespace", ""), ((1, 8, 0), "UI", None), ((1, 9, 0), "VersionTag", None)],
    "group": [
        ((1, 3, 0), "MaxClientDisconnect", None), ((1, 7, 2), "PreventRescheduleOnLost", False),
        ((1, 8, 0), "Disconnect", None), ((2, 0, 5), "MaxRunDuration", None),
    ],
    "task": [
        ((1, 5, 0), "Identity", None), ((1, 7, 0), "Identities", None), ((1, 7, 0), "Consul", None),
        ((1, 7, 0), "Actions", None), ((1, 8, 0), "Schedule", None), ((1, 11, 0), "Secrets", None),
    ],
    "resources": [((1, 1, 0), "Cores", 0), ((1, 1, 0), "MemoryMaxMB", 0), ((1, 7, 0), "NUMA", None),
                  ((1, 8, 3), "SecretsMB", 0)],
    "network": [((1, 9, 0), "CNI", None)],
    "port": [((1, 9, 0), "IgnoreCollision", False)],
    "service": [((1, 3, 0), "Address", ""), ((1, 4, 0), "TaggedAddresses", None), ((1, 7, 0), "Identity", None),
                ((1, 10, 0), "Weights", None), ((1, 10, 3), "Kind", "")],
    "check": [((1, 1, 0), "Body", ""), ((1, 6, 0), "TLSServerName", ""), ((1, 7, 3), "FailuresBeforeWarning", 0),
              ((1, 8, 1), "Notes", "")],
    "log": [((1, 5, 5), "Disabled", False)],
    "restart": [((1, 6, 2), "RenderTemplates", False)],
    "template": [((1, 3, 0), "Wait", None), ((1, 4, 0), "ChangeScript", None), ((1, 4, 0), "Uid", None),
                 ((1, 4, 0), "Gid", None), ((1, 4, 3), "ErrMissingKey", False), ((1, 10, 2), "Once", False)],
    "vault": [((1, 6, 0), "DisableFile", False), ((1, 7, 0), "Cluster", "default"), ((1, 7, 0), "Role", ""),
              ((1, 7, 3), "AllowTokenExpiration", False)],
    "artifact": [((1, 8, 0), "GetterInsecure", False), ((1, 9, 2), "Chown", False)],
    "mount": [((1, 8, 0), "SELinuxLabel", "")],
    "volume": [((1, 1, 0), "AccessMode", ""), ((1, 1, 0), "AttachmentMode", ""), ((1, 1, 0), "PerAlloc", False),
               ((1, 10, 0), "Sticky", False)],
}  # fmt: skip


def _walk(struct: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(kind, object, owning task or None) for every object of a stored job."""
    yield "job", struct, None
    for group in struct.get("TaskGroups") or []:
        yield "group", group, None
        yield "restart", group["RestartPolicy"], None
        yield from _networks(group.get("Networks"), None)
        for service in group.get("Services") or []:
            yield "service", service, None
            for check in service.get("Checks") or []:
                yield "check", check, None
        for volume in (group.get("Volumes") or {}).values():
            yield "volume", volume, None
        for task in group.get("Tasks") or []:
            yield "task", task, task
            yield "resources", task["Resources"], task
            yield "log", task["LogConfig"], task
            yield "restart", task["RestartPolicy"], task
            yield from _networks(task["Resources"].get("Networks"), task)
            for service in task.get("Services") or []:
                yield "service", service, task
                for check in service.get("Checks") or []:
                    yield "check", check, task
            if task.get("Vault"):
                yield "vault", task["Vault"], task
            for kind, key in (("template", "Templates"), ("artifact", "Artifacts"), ("mount", "VolumeMounts")):
                for item in task.get(key) or []:
                    yield kind, item, task


def _networks(networks: Any, task: dict[str, Any] | None) -> Iterator[tuple[str, dict[str, Any], Any]]:
    for network in networks or []:
        yield "network", network, task
        for port in (network.get("ReservedPorts") or []) + (network.get("DynamicPorts") or []):
            yield "port", port, task


def store_for_version(struct: dict[str, Any], version: V) -> None:
    """Make ``struct`` (the fake's 1.0.18 stored job) what a server of ``version`` stores."""
    if version < (1, 1, 0):
        return
    for kind, obj, task in list(_walk(struct)):
        for since, key, value in _ADDED.get(kind, ()):
            if version >= since and key not in obj:
                obj[key] = value
        if kind == "service":
            _service(obj, task, struct, version)
        elif kind == "task":
            _identity(obj, version)
        elif kind == "vault" and version >= (1, 10, 0):
            obj.pop("Policies", None)  # legacy Vault tokens removed in 1.10.0
    if version >= (1, 5, 0) and not struct.get("Datacenters"):
        struct["Datacenters"] = ["*"]  # Job.Canonicalize, 1.5.0
    if version >= (1, 6, 0) and not struct.get("NodePool"):
        struct["NodePool"] = "default"  # job_endpoint_hook_node_pool_oss.go, 1.6.0
    if version >= (1, 10, 0):
        struct.pop("ConsulToken", None)
        struct.pop("VaultToken", None)
    for group in struct.get("TaskGroups") or []:
        _group_consul(group, struct, version)
        _constraints(group, version)
    if version >= (1, 11, 0) and struct["Type"] == "system" and not struct["Update"].get("MaxParallel"):
        _system_update(struct)


def _service(service: dict[str, Any], task: dict[str, Any] | None, job: dict[str, Any], version: V) -> None:
    if version >= (1, 3, 0):
        service["Provider"] = service.get("Provider") or "consul"
    if service.get("Provider") == "nomad":
        service["Namespace"] = job["Namespace"]  # services.go 1.3.0: the job's namespace
    else:
        service["Namespace"] = service.get("Namespace") or "default"  # services.go 1.1.0
    service["OnUpdate"] = service.get("OnUpdate") or "require_healthy"
    if version >= (1, 4, 0) and task is not None and not service.get("TaskName"):
        service["TaskName"] = task["Name"]
    if version >= (1, 7, 0):
        service["Cluster"] = service.get("Cluster") or "default"
    for check in service.get("Checks") or []:
        check["OnUpdate"] = check.get("OnUpdate") or service["OnUpdate"]
        if version >= (1, 4, 0) and not check.get("TaskName"):
            check["TaskName"] = service.get("TaskName") or ""


def _identity(task: dict[str, Any], version: V) -> None:
    if version < (1, 7, 0):
        return
    ident = task.get("Identity") or {"Name": "default"}
    full: dict[str, Any] = {"Name": "default", "Audience": None, "ChangeMode": "", "ChangeSignal": "", "Env": False,
            "File": False, "ServiceName": "", "TTL": 0}  # fmt: skip
    if version >= (1, 9, 0):
        full["Filepath"] = ""
    if version >= (2, 0, 5):
        full["ExtraClaims"] = None
    full.update({k: v for k, v in ident.items() if v is not None})
    full["Name"] = full["Name"] or "default"  # workload_id.go v1.7.0 Canonicalize
    full["ChangeSignal"] = str(full["ChangeSignal"]).upper()
    if full["Name"] == "default":
        full["Audience"] = ["nomadproject.io"]  # Task.Canonicalize, 1.7.0
    task["Identity"] = full


def _group_consul(group: dict[str, Any], job: dict[str, Any], version: V) -> None:
    consul = group.get("Consul")
    if consul is None and (1, 1, 0) <= version < (1, 10, 0):
        consul = {}  # api TaskGroup.Canonicalize, 1.1.0 to 1.9.x: always a consul block
    if consul is None:
        return
    consul.setdefault("Namespace", job.get("ConsulNamespace") or "")
    if version >= (1, 7, 0):
        consul["Cluster"] = consul.get("Cluster") or "default"
    if version >= (1, 7, 3):
        consul.setdefault("Partition", "")
    group["Consul"] = consul


def _add(obj: dict[str, Any], ltarget: str, rtarget: str, operand: str, *, by_left: bool) -> None:
    have = obj.get("Constraints") or []
    for c in have:
        if c["LTarget"] == ltarget and (by_left or (c["RTarget"], c["Operand"]) == (rtarget, operand)):
            return
    obj["Constraints"] = [*have, {"LTarget": ltarget, "Operand": operand, "RTarget": rtarget}]


def _constraints(group: dict[str, Any], version: V) -> None:
    """jobImpliedConstraints in nomad/job_endpoint_hooks.go, 1.3.0 onwards."""
    if version < (1, 3, 0):
        return
    tasks = group.get("Tasks") or []
    mine = group.get("Services") or []
    theirs = [(t, s) for t in tasks for s in t.get("Services") or []]
    every = mine + [s for _, s in theirs]
    if any(s["Provider"] == "nomad" for s in every):
        _add(group, "${attr.nomad.service_discovery}", "true", "=", by_left=False)
    if version >= (1, 5, 0) and any(s["Provider"] == "nomad" and s.get("Checks") for s in every):
        _add(group, "${attr.nomad.version}", ">= 1.4.0", "semver", by_left=False)
    consul = ">= 1.8.0" if version >= (1, 7, 0) else ">= 1.7.0"
    if any(s["Provider"] == "consul" for s in every):
        if version >= (1, 8, 0):
            if any(s["Provider"] == "consul" for s in mine):
                _add(group, "${attr.consul.version}", consul, "semver", by_left=True)
            for task, service in theirs:
                if service["Provider"] == "consul":
                    _add(task, "${attr.consul.version}", consul, "semver", by_left=True)
        elif version < (1, 7, 0) or mine:  # 1.7.x looked at task services only within group ones
            _add(group, "${attr.consul.version}", consul, "semver", by_left=True)
    if version >= (1, 8, 0) and any(n.get("Mode") == "bridge" for n in group.get("Networks") or []):
        for plugin in ("bridge", "firewall", "host-local", "loopback", "portmap"):
            _add(group, f"${{attr.plugins.cni.version.{plugin}}}", ">= 0.4.0", "semver", by_left=True)


def _system_update(struct: dict[str, Any]) -> None:
    """api Job.Canonicalize 1.11.0: system jobs get the default update strategy."""
    struct["Update"] = {**struct["Update"], "Stagger": 30 * SECOND, "MaxParallel": 1}
    for group in struct.get("TaskGroups") or []:
        if group.get("Update") is None:
            group["Update"] = {
                "AutoPromote": False, "AutoRevert": False, "Canary": 0, "HealthCheck": "checks",
                "HealthyDeadline": 300 * SECOND, "MaxParallel": 1, "MinHealthyTime": 10 * SECOND,
                "ProgressDeadline": 600 * SECOND, "Stagger": 30 * SECOND,
            }  # fmt: skip
