"""The read-back of later Nomad releases, on top of the 1.0.18 canonical form.

Pure: dicts in, new dicts out; never mutates its input, no I/O.

``canonicalize_for_version(canonical, version)`` takes ``canonicalize(job)``
(the job as Nomad 1.0.18 reads it back, in normal form) and returns the job as
a server of ``version`` reads it back, in the same normal form.  Later releases
differ from 1.0.18 in three ways, each modelled here:

* **new struct fields**: Nomad's HTTP API writes every field of its structs,
  so a field added in a release reads back with its zero value (``""``,
  ``false``, ``0``) on every object of that kind.  The normal form keeps those
  (it only drops null and empty containers), so each one is in ``FIELDS``;
  pointer, list and map fields read back as null and need nothing;
* **defaults** filled by ``api.*.Canonicalize``, the api→struct conversion
  (``command/agent/job_endpoint.go``) or the server's ``*.Canonicalize`` and
  admission hooks (``nomad/job_endpoint_hook*.go``): small functions below;
* **implied constraints** the admission hook appends for Consul or Nomad
  services and bridge networks.

Every entry names the release (tag) and the file where the field or default
appears.  Versions are compared as ``(major, minor, patch)`` tuples; fields
backported to a patch release carry that patch (``since`` is the first tag of
that series holding the field, later minors hold it too).  Assumed: a server
without ``consul.service_identity``/``vault.default_identity`` configured (no
implicit identities are added), Community Edition, no Connect sidecars (not
modelled at 1.0.18 either).  Fields the job does not use are never invented.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.jobspec.canonical_defaults import SECOND
from reconciler.jobspec.normal_form import to_normal_form

Version = tuple[int, int, int]

_UNCHANGED: Version = (1, 0, 99)  # everything up to here is canonicalize()'s own 1.0.x form

#: (since, where, field, read-back value when unset).  ``where`` is a kind of
#: object (see ``_objects``).  All from ``nomad/structs`` at the tag named.
FIELDS: tuple[tuple[Version, str, str, Any], ...] = (
    ((1, 1, 0), "job", "ConsulNamespace", ""),  # structs.go v1.1.0
    ((1, 1, 0), "resources", "Cores", 0),  # structs.go v1.1.0
    ((1, 1, 0), "resources", "MemoryMaxMB", 0),  # structs.go v1.1.0
    ((1, 1, 0), "check", "Body", ""),  # services.go v1.1.0
    ((1, 1, 0), "volume", "AccessMode", ""),  # volumes.go v1.1.0
    ((1, 1, 0), "volume", "AttachmentMode", ""),  # volumes.go v1.1.0
    ((1, 1, 0), "volume", "PerAlloc", False),  # volumes.go v1.1.0
    ((1, 3, 0), "service", "Address", ""),  # services.go v1.3.0
    ((1, 4, 3), "template", "ErrMissingKey", False),  # structs.go v1.4.3
    ((1, 5, 5), "log", "Disabled", False),  # structs.go v1.5.5
    ((1, 6, 0), "check", "TLSServerName", ""),  # services.go v1.6.0
    ((1, 6, 0), "vault", "DisableFile", False),  # structs.go v1.6.0
    ((1, 6, 2), "restart", "RenderTemplates", False),  # structs.go v1.6.2 (group and task)
    ((1, 7, 0), "vault", "Cluster", "default"),  # api/tasks.go v1.7.0 Vault.Canonicalize
    ((1, 7, 0), "vault", "Role", ""),  # structs.go v1.7.0
    ((1, 7, 2), "group", "PreventRescheduleOnLost", False),  # structs.go v1.7.2
    ((1, 7, 3), "check", "FailuresBeforeWarning", 0),  # services.go v1.7.3
    ((1, 7, 3), "vault", "AllowTokenExpiration", False),  # structs.go v1.7.3
    ((1, 8, 0), "artifact", "GetterInsecure", False),  # structs.go v1.8.0
    ((1, 8, 0), "volume_mount", "SELinuxLabel", ""),  # volumes.go v1.8.0
    ((1, 8, 1), "check", "Notes", ""),  # services.go v1.8.1
    ((1, 8, 3), "resources", "SecretsMB", 0),  # structs.go v1.8.3
    ((1, 9, 0), "port", "IgnoreCollision", False),  # structs.go v1.9.0
    ((1, 9, 2), "artifact", "Chown", False),  # structs.go v1.9.2
    ((1, 10, 0), "volume", "Sticky", False),  # volumes.go v1.10.0
    ((1, 10, 2), "template", "Once", False),  # structs.go v1.10.2
    ((1, 10, 3), "service", "Kind", ""),  # services.go v1.10.3
)

#: Fields a release removed from the struct: no longer read back.
REMOVED: tuple[tuple[Version, str, str], ...] = (
    ((1, 10, 0), "vault", "Policies"),  # structs.go v1.10.0: legacy Vault tokens are gone
    # job_endpoint.go v1.10.0 ApiTgToStructsTG: what `disconnect` replaced is not copied
    ((1, 10, 0), "group", "StopAfterClientDisconnect"), ((1, 10, 0), "group", "MaxClientDisconnect"),
)

#: Workload identity fields (structs/workload_id.go): 1.5.0 has Env/File only.
IDENTITY_FIELDS: tuple[tuple[Version, str, Any], ...] = (
    ((1, 5, 0), "Env", False),
    ((1, 5, 0), "File", False),
    ((1, 7, 0), "ChangeMode", ""),
    ((1, 7, 0), "ChangeSignal", ""),
    ((1, 7, 0), "ServiceName", ""),
    ((1, 7, 0), "TTL", 0),
    ((1, 9, 0), "Filepath", ""),
)
IDENTITY_DEFAULT_NAME = "default"
IDENTITY_DEFAULT_AUDIENCE = "nomadproject.io"  # structs/workload_id.go v1.7.0, identity.go v2.0.5

#: Template ``change_script`` (api/tasks.go ChangeScript.Canonicalize, v1.4.0; v2.0.5).
CHANGE_SCRIPT_FIELDS: tuple[tuple[Version, str, Any], ...] = (
    ((1, 4, 0), "Command", ""),
    ((1, 4, 0), "Timeout", 5 * SECOND),
    ((1, 4, 0), "FailOnError", False),
    ((2, 0, 5), "RunOnFirstRender", False),
)

SEMVER = "semver"
CONSUL_VERSION = "${attr.consul.version}"
CNI_PLUGINS = (
    "bridge",
    "firewall",
    "host-local",
    "loopback",
    "portmap",
)  # job_endpoint_hooks.go v1.8.0


def canonicalize_for_version(canonical: Mapping[str, Any], version: Version) -> dict[str, Any]:
    """`canonical` is canonicalize(job) (the 1.0.18 read-back, normal form); returns the job as
    a Nomad server of `version` reads it back, in the same normal form. Pure, idempotent, never
    mutates its input. For 1.0.x returns an equal copy."""
    job: dict[str, Any] = copy.deepcopy(dict(canonical))
    if version <= _UNCHANGED:
        return job
    _job_defaults(job, version)
    for kind, obj, parent in _objects(job):
        for since, where, key, value in FIELDS:
            if where == kind and version >= since and obj.get(key) is None:
                obj[key] = copy.deepcopy(value)
        for since, where, key in REMOVED:
            if where == kind and version >= since:
                obj.pop(key, None)
        if kind == "service":
            _service_defaults(obj, parent, job, version)
        elif kind == "task":
            _task_defaults(obj, version)
        elif kind == "template" and isinstance(obj.get("ChangeScript"), dict):
            _fill_since(obj["ChangeScript"], CHANGE_SCRIPT_FIELDS, version)
    for group in _dicts(job.get("TaskGroups")):
        _group_defaults(group, job, version)
        _add_implied_constraints(group, version)
    _system_update(job, version)
    normal: dict[str, Any] = to_normal_form(job)
    return normal


# --- walking the job ---------------------------------------------------------------


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    for item in value or ():
        if isinstance(item, dict):
            yield item


def _objects(job: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every object of the job with its kind and its parent (a service's task, ``{}`` for a
    group service; a check's service)."""
    yield "job", job, job
    for group in _dicts(job.get("TaskGroups")):
        yield "group", group, job
        yield from _network_objects(group.get("Networks"), group)
        for service in _dicts(group.get("Services")):
            yield from _service_objects(service, {})  # a group service has no task
        for volume in (group.get("Volumes") or {}).values():
            if isinstance(volume, dict):
                yield "volume", volume, group
        if isinstance(group.get("RestartPolicy"), dict):
            yield "restart", group["RestartPolicy"], group
        for task in _dicts(group.get("Tasks")):
            yield from _task_objects(task)


def _task_objects(task: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    yield "task", task, task
    resources = task.get("Resources")
    if isinstance(resources, dict):
        yield "resources", resources, task
        yield from _network_objects(resources.get("Networks"), task)
    for service in _dicts(task.get("Services")):
        yield from _service_objects(service, task)
    for key, kind in (("RestartPolicy", "restart"), ("LogConfig", "log"), ("Vault", "vault")):
        if isinstance(task.get(key), dict):
            yield kind, task[key], task
    for key, kind in (
        ("Templates", "template"),
        ("Artifacts", "artifact"),
        ("VolumeMounts", "volume_mount"),
    ):
        for item in _dicts(task.get(key)):
            yield kind, item, task


def _network_objects(
    networks: Any, parent: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for network in _dicts(networks):
        for port in [*_dicts(network.get("ReservedPorts")), *_dicts(network.get("DynamicPorts"))]:
            yield "port", port, parent


def _service_objects(
    service: dict[str, Any], parent: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    yield "service", service, parent
    for check in _dicts(service.get("Checks")):
        yield "check", check, service


def _fill_since(
    obj: dict[str, Any], fields: tuple[tuple[Version, str, Any], ...], version: Version
) -> None:
    for since, key, value in fields:
        if version >= since and obj.get(key) is None:
            obj[key] = copy.deepcopy(value)


def _unset(obj: Mapping[str, Any], key: str) -> bool:
    return obj.get(key) in (None, "")


# --- defaults --------------------------------------------------------------------------


def _job_defaults(job: dict[str, Any], version: Version) -> None:
    if version >= (1, 5, 0) and not job.get("Datacenters"):
        job["Datacenters"] = ["*"]  # structs.go v1.5.0 Job.Canonicalize
    if version >= (1, 6, 0) and _unset(job, "NodePool"):
        job["NodePool"] = "default"  # job_endpoint_hook_node_pool_oss.go v1.6.0


def _service_defaults(
    service: dict[str, Any], task: dict[str, Any], job: Mapping[str, Any], version: Version
) -> None:
    """structs/services.go Service.Canonicalize and api/services.go, per release."""
    if version >= (1, 1, 0) and _unset(service, "OnUpdate"):
        service["OnUpdate"] = "require_healthy"  # services.go v1.1.0
    if version >= (1, 3, 0) and _unset(service, "Provider"):
        service["Provider"] = "consul"  # services.go v1.3.0
    if version >= (1, 3, 0) and service.get("Provider") == "nomad":
        service["Namespace"] = job.get("Namespace") or "default"  # services.go v1.3.0
    elif version >= (1, 1, 0) and _unset(service, "Namespace"):
        service["Namespace"] = "default"  # services.go v1.1.0
    if version >= (1, 4, 0) and task and _unset(service, "TaskName"):
        service["TaskName"] = task.get("Name", "")  # services.go v1.4.0
    if version >= (1, 7, 0) and _unset(service, "Cluster"):
        service["Cluster"] = "default"  # api/services.go v1.7.0
    for check in _dicts(service.get("Checks")):
        if version >= (1, 1, 0) and _unset(check, "OnUpdate"):
            # job_endpoint.go v1.1.0 ApiServicesToStructs: a check inherits its service's
            check["OnUpdate"] = service["OnUpdate"]
        if version >= (1, 4, 0) and _unset(check, "TaskName") and service.get("TaskName"):
            check["TaskName"] = service["TaskName"]  # services.go v1.4.0 ServiceCheck.Canonicalize


def _task_defaults(task: dict[str, Any], version: Version) -> None:
    if isinstance(task.get("Consul"), dict) and version >= (1, 7, 0):
        _consul_block(task["Consul"], None, version)
    identities = [i for i in _dicts(task.get("Identities"))]
    if version >= (1, 5, 0) and isinstance(task.get("Identity"), dict):
        _identity(task["Identity"], version)
    if version < (1, 7, 0):
        return
    # structs.go v1.7.0 Task.Canonicalize: the identity named "default" moves to Identity,
    # and every task gets the default workload identity (v1.9.0: DefaultWorkloadIdentity).
    for identity in identities:
        _identity(identity, version)
        if identity.get("Name") == IDENTITY_DEFAULT_NAME:
            task["Identity"] = identity
    task["Identities"] = [i for i in identities if i.get("Name") != IDENTITY_DEFAULT_NAME] or None
    if not isinstance(task.get("Identity"), dict):
        task["Identity"] = {"Name": IDENTITY_DEFAULT_NAME}
    _identity(task["Identity"], version)


def _identity(identity: dict[str, Any], version: Version) -> None:
    _fill_since(identity, IDENTITY_FIELDS, version)
    if version < (1, 7, 0):
        return
    if _unset(identity, "Name"):
        identity["Name"] = IDENTITY_DEFAULT_NAME
    if identity["Name"] == IDENTITY_DEFAULT_NAME:
        identity["Audience"] = [IDENTITY_DEFAULT_AUDIENCE]  # only valid for Nomad itself
    identity["ChangeSignal"] = str(identity.get("ChangeSignal") or "").upper()


def _consul_block(consul: dict[str, Any], job: Mapping[str, Any] | None, version: Version) -> None:
    """A group's or task's ``consul`` block (api/consul.go Consul.Canonicalize)."""
    if consul.get("Namespace") is None:
        consul["Namespace"] = (job or {}).get("ConsulNamespace") or ""  # MergeNamespace
    if version >= (1, 7, 0) and _unset(consul, "Cluster"):
        consul["Cluster"] = "default"  # api/consul.go v1.7.0
    if version >= (1, 7, 3) and consul.get("Partition") is None:
        consul["Partition"] = ""  # structs/consul.go v1.7.3


def _group_defaults(group: dict[str, Any], job: Mapping[str, Any], version: Version) -> None:
    # api/tasks.go v1.1.0 .. v1.9.x: every group gets a consul block; v1.10.0 only if written.
    if (1, 1, 0) <= version < (1, 10, 0) and not isinstance(group.get("Consul"), dict):
        group["Consul"] = {}
    if version >= (1, 1, 0) and isinstance(group.get("Consul"), dict):
        _consul_block(group["Consul"], job, version)
    if version >= (1, 10, 0):
        group["PreventRescheduleOnLost"] = False  # job_endpoint.go v1.10.0: not copied
    disconnect = group.get("Disconnect")
    if version >= (1, 8, 0) and isinstance(disconnect, dict):
        # structs/group.go v1.8.0 DisconnectStrategy.Canonicalize
        if disconnect.get("Replace") is None:
            disconnect["Replace"] = True
        if _unset(disconnect, "Reconcile"):
            disconnect["Reconcile"] = "best_score"
        if disconnect.get("LostAfter") is None:
            disconnect["LostAfter"] = 0


def _system_update(job: dict[str, Any], version: Version) -> None:
    """api/jobs.go v1.11.0: system jobs get the default update strategy too."""
    update = job.get("Update") or {}
    groups = list(_dicts(job.get("TaskGroups")))
    if version < (1, 11, 0) or job.get("Type") != "system" or update.get("MaxParallel"):
        return
    if all(isinstance(g.get("Update"), dict) for g in groups):
        return  # a job-level update block was written: already merged into every group
    job["Update"] = {**update, "Stagger": 30 * SECOND, "MaxParallel": 1}
    default = {
        "Stagger": 30 * SECOND,
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * SECOND,
        "HealthyDeadline": 5 * 60 * SECOND,
        "ProgressDeadline": 10 * 60 * SECOND,
        "AutoRevert": False,
        "AutoPromote": False,
        "Canary": 0,
    }
    for group in groups:
        if not isinstance(group.get("Update"), dict):
            group["Update"] = dict(default)


# --- implied constraints (nomad/job_endpoint_hooks.go jobImpliedConstraints) ------------


def _constraint(ltarget: str, rtarget: str, operand: str) -> dict[str, Any]:
    return {"LTarget": ltarget, "RTarget": rtarget, "Operand": operand}


def _add(obj: dict[str, Any], wanted: dict[str, Any], *, left_only: bool) -> None:
    """``mutateConstraint``: add unless one matches (on LTarget only, or on all three)."""
    constraints = list(_dicts(obj.get("Constraints")))
    for c in constraints:
        if c.get("LTarget") == wanted["LTarget"] and (
            left_only
            or (c.get("RTarget"), c.get("Operand")) == (wanted["RTarget"], wanted["Operand"])
        ):
            return
    obj["Constraints"] = [*constraints, wanted]


def _is_consul(service: Mapping[str, Any]) -> bool:
    return service.get("Provider") in (None, "", "consul")


def _consul_constraint(service: Mapping[str, Any], version: Version) -> dict[str, Any]:
    cluster = service.get("Cluster") or "default"
    if version >= (1, 7, 0) and cluster != "default":
        return _constraint(f"${{attr.consul.{cluster}.version}}", ">= 1.8.0", SEMVER)
    # v1.3.0: ">= 1.7.0"; v1.7.0 raised it to ">= 1.8.0"
    return _constraint(CONSUL_VERSION, ">= 1.8.0" if version >= (1, 7, 0) else ">= 1.7.0", SEMVER)


def _add_implied_constraints(group: dict[str, Any], version: Version) -> None:
    if version < (1, 3, 0):
        return
    tasks = list(_dicts(group.get("Tasks")))
    group_services = list(_dicts(group.get("Services")))
    task_services = [(t, s) for t in tasks for s in _dicts(t.get("Services"))]
    every = group_services + [s for _, s in task_services]
    nomad = [s for s in every if s.get("Provider") == "nomad"]
    if nomad:  # v1.3.0
        _add(group, _constraint("${attr.nomad.service_discovery}", "true", "="), left_only=False)
    if version >= (1, 5, 0) and any(s.get("Checks") for s in nomad):
        _add(group, _constraint("${attr.nomad.version}", ">= 1.4.0", SEMVER), left_only=False)
    if any(_is_consul(s) for s in every):
        if version < (1, 7, 0):
            _add(group, _consul_constraint(every[0], version), left_only=True)
        elif version < (1, 8, 0):
            # v1.7.x: the task services are only looked at inside the loop over the
            # group's services, so a group without group-level services gets nothing.
            for _ in group_services:
                for service in [*group_services, *(s for _, s in task_services)]:
                    if _is_consul(service):
                        _add(group, _consul_constraint(service, version), left_only=True)
        else:  # v1.8.0: task services constrain their task
            for service in group_services:
                if _is_consul(service):
                    _add(group, _consul_constraint(service, version), left_only=True)
            for task, service in task_services:
                if _is_consul(service):
                    _add(task, _consul_constraint(service, version), left_only=True)
    modes = {n.get("Mode") for n in _dicts(group.get("Networks"))}
    if version >= (1, 8, 0) and "bridge" in modes:
        for plugin in CNI_PLUGINS:
            ltarget = f"${{attr.plugins.cni.version.{plugin}}}"
            _add(group, _constraint(ltarget, ">= 0.4.0", SEMVER), left_only=True)
