"""Job payloads as Nomad 1.0.18's server stores and reads them back.

Responsible for: turning an API job into the server struct Nomad stores and
reads back (every default filled), the "did the spec change" test, and the
``/v1/jobs/parse`` view of a job.  Decoding a request body is ``go_json``'s,
validation ``job_validation``'s.  Pure functions of data: no state, no
clock, no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Job = dict[str, Any]

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


# --- server-side canonicalization into the 1.0.18 struct ----------------------------

DEFAULT_UPDATE = {
    "AutoPromote": False, "AutoRevert": False, "Canary": 0, "HealthCheck": "checks",
    "HealthyDeadline": 5 * MINUTE, "MaxParallel": 1, "MinHealthyTime": 10 * SECOND,
    "ProgressDeadline": 10 * MINUTE, "Stagger": 30 * SECOND,
}
ZERO_UPDATE = {
    "AutoPromote": False, "AutoRevert": False, "Canary": 0, "HealthCheck": "", "HealthyDeadline": 0,
    "MaxParallel": 0, "MinHealthyTime": 0, "ProgressDeadline": 0, "Stagger": 0,
}
_RESTART = {
    "service": {"Attempts": 2, "Delay": 15 * SECOND, "Interval": 30 * MINUTE, "Mode": "fail"},
    "batch": {"Attempts": 3, "Delay": 15 * SECOND, "Interval": 24 * HOUR, "Mode": "fail"},
}
_RESCHEDULE = {
    "service": {
        "Attempts": 0, "Delay": 30 * SECOND, "DelayFunction": "exponential", "Interval": 0,
        "MaxDelay": HOUR, "Unlimited": True,
    },
    "batch": {
        "Attempts": 1, "Delay": 5 * SECOND, "DelayFunction": "constant", "Interval": 24 * HOUR,
        "MaxDelay": 0, "Unlimited": False,
    },
}
_MIGRATE = {"HealthCheck": "checks", "HealthyDeadline": 5 * MINUTE, "MaxParallel": 1, "MinHealthyTime": 10 * SECOND}


def _merge(base: dict[str, Any] | None, over: dict[str, Any] | None) -> dict[str, Any] | None:
    if base is None and over is None:
        return None
    out = dict(base or {})
    out.update({k: v for k, v in (over or {}).items() if v is not None})
    return out


def _empty_to_none(value: Any) -> Any:
    return value if value else None


def _api_canonicalize(job: Job) -> Job:
    """The project's canonicalizer when it is importable (it owns the API-level defaults)."""
    try:
        from reconciler.jobspec.canonical import canonicalize
    except ImportError:
        return job
    try:
        result = canonicalize(job)
    except Exception:  # a defect there must not take the fake down: fall back to our own defaults
        return job
    return result if isinstance(result, dict) else job


def to_struct_job(api_job: Job, *, namespace: str, region: str) -> Job:
    """The job as Nomad 1.0.18 stores it (without the server-managed bookkeeping values)."""
    job = _api_canonicalize(copy.deepcopy(api_job))
    jtype = job.get("Type") or "service"
    kind = "batch" if jtype in ("batch", "sysbatch") else "service"
    # The update blocks come from the job as submitted, not from the project's canonical form.
    api_update = _api_job_update(jtype, api_job.get("Update"))
    raw_groups = {g.get("Name"): g for g in api_job.get("TaskGroups") or [] if isinstance(g, dict)}
    groups = []
    for group in job.get("TaskGroups") or []:
        raw_update = (raw_groups.get(group.get("Name")) or {}).get("Update")
        groups.append(_struct_group(group, job, jtype, kind, _group_update(api_update, raw_update)))
    top_update = dict(ZERO_UPDATE)
    if api_update is not None and (api_update.get("MaxParallel") or 0) > 0:
        # Only Stagger and MaxParallel survive at job level (command/agent/job_endpoint.go
        # ApiJobToStructJob, v1.0.18); the rest lives in the groups.
        top_update.update(Stagger=api_update["Stagger"], MaxParallel=api_update["MaxParallel"])
    struct: Job = {
        "Affinities": _empty_to_none(job.get("Affinities")),
        "AllAtOnce": bool(job.get("AllAtOnce") or False),
        "Constraints": _constraints(job.get("Constraints")),
        "ConsulToken": "",
        "Datacenters": job.get("Datacenters"),
        "Dispatched": bool(job.get("Dispatched") or False),
        "ID": job.get("ID"),
        "Meta": _empty_to_none(job.get("Meta")),
        "Multiregion": job.get("Multiregion"),
        "Name": job.get("Name") or job.get("ID"),
        "Namespace": namespace,
        "NomadTokenID": "",
        "ParameterizedJob": _parameterized(job.get("ParameterizedJob")),
        "ParentID": job.get("ParentID") or "",
        "Payload": None,
        "Periodic": _periodic(job.get("Periodic")),
        "Priority": job.get("Priority") if job.get("Priority") is not None else 50,
        "Region": region if job.get("Region") in (None, "", "global") else job["Region"],
        "Spreads": _empty_to_none(job.get("Spreads")),
        "Stop": bool(job.get("Stop") or False),
        "TaskGroups": groups,
        "Type": jtype,
        "Update": top_update,
        "VaultNamespace": job.get("VaultNamespace") or "",
        "VaultToken": "",
    }
    return struct


def _constraints(items: Any) -> Any:
    if not items:
        return None
    return [
        {"LTarget": c.get("LTarget") or "", "Operand": c.get("Operand") or "=", "RTarget": c.get("RTarget") or ""}
        for c in items
    ]


def _periodic(periodic: Any) -> Any:
    if not periodic:
        return None
    return {
        "Enabled": periodic.get("Enabled", True) if periodic.get("Enabled") is not None else True,
        "ProhibitOverlap": bool(periodic.get("ProhibitOverlap") or False),
        "Spec": periodic.get("Spec") or "",
        "SpecType": periodic.get("SpecType") or "cron",
        "TimeZone": periodic.get("TimeZone") or "UTC",
    }


def _parameterized(config: Any) -> Any:
    if config is None:
        return None
    return {
        "MetaOptional": _empty_to_none(config.get("MetaOptional")),
        "MetaRequired": _empty_to_none(config.get("MetaRequired")),
        "Payload": config.get("Payload") or "optional",
    }


def _api_job_update(jtype: str, given: Any) -> dict[str, Any] | None:
    """The job's update block after api ``Job.Canonicalize`` (api/jobs.go, v1.0.18): unset
    fields take the defaults, and only a service job gets one when it sets none."""
    if isinstance(given, dict):
        return _merge(DEFAULT_UPDATE, given)
    return dict(DEFAULT_UPDATE) if jtype == "service" else None


def _group_update(job_update: dict[str, Any] | None, given: Any) -> dict[str, Any] | None:
    """A group's update block as api ``TaskGroup.Canonicalize`` (api/tasks.go, v1.0.18)
    leaves it: the job's merged with the group's, the job's alone, the group's alone
    (defaults filled), or none at all; a system or batch group that no update block
    reaches stores ``Update: null``."""
    if job_update is not None and isinstance(given, dict):
        return _merge(job_update, given)
    if job_update is not None and any(job_update.values()):
        return dict(job_update)
    if isinstance(given, dict):
        return _merge(DEFAULT_UPDATE, given)
    return None


def _struct_group(group: dict[str, Any], job: Job, jtype: str, kind: str, update: dict[str, Any] | None) -> dict[str, Any]:
    restart = _merge(_RESTART[kind], group.get("RestartPolicy"))
    if jtype == "system":
        reschedule = None
    else:
        reschedule = _merge(_merge(_RESCHEDULE[kind], job.get("Reschedule")), group.get("ReschedulePolicy"))
    migrate = _merge(_merge(_MIGRATE, job.get("Migrate")), group.get("Migrate")) if jtype == "service" else None
    disk = _merge({"Migrate": False, "SizeMB": 300, "Sticky": False}, group.get("EphemeralDisk"))
    count = group.get("Count")
    tasks = [_struct_task(task, job, group, restart) for task in group.get("Tasks") or []]
    return {
        "Affinities": _empty_to_none(group.get("Affinities")),
        "Constraints": _constraints(group.get("Constraints")),
        "Count": 1 if count is None else count,
        "EphemeralDisk": disk,
        "Meta": _empty_to_none(group.get("Meta")),
        "Migrate": migrate,
        "Name": group.get("Name"),
        "Networks": _networks(group.get("Networks")),
        "ReschedulePolicy": reschedule,
        "RestartPolicy": restart,
        "Scaling": group.get("Scaling"),
        "Services": _services(group.get("Services"), job, group, None),
        "ShutdownDelay": group.get("ShutdownDelay"),
        "Spreads": _empty_to_none(group.get("Spreads")),
        "StopAfterClientDisconnect": group.get("StopAfterClientDisconnect"),
        "Tasks": tasks,
        "Update": update,
        "Volumes": _empty_to_none(group.get("Volumes")),
    }


def _networks(items: Any) -> Any:
    """Group or task networks as the 1.0.18 struct reads back: every key present, and every
    port on the ``default`` host network unless it names one (NetworkResource.Canonicalize)."""
    if not items:
        return None
    out = []
    for network in items:
        stored = {"DNS": None, "ReservedPorts": None, "DynamicPorts": None, **network}
        for key in ("ReservedPorts", "DynamicPorts"):
            ports = [dict(p) for p in stored[key] or []]
            for port in ports:
                port["HostNetwork"] = port.get("HostNetwork") or "default"
            stored[key] = ports or None
        out.append(stored)
    return out


def _checks(items: Any) -> Any:
    if not items:
        return None
    return [{"Args": None, "CheckRestart": None, "Header": None, **check} for check in items]


def _services(items: Any, job: Job, group: dict[str, Any], task: dict[str, Any] | None) -> Any:
    if not items:
        return None
    out = []
    for service in items:
        name = service.get("Name") or (
            f"{job.get('Name') or job.get('ID')}-{group.get('Name')}"
            + (f"-{task.get('Name')}" if task is not None else "")
        )
        out.append({
            "AddressMode": service.get("AddressMode") or "auto",
            "CanaryMeta": _empty_to_none(service.get("CanaryMeta")),
            "CanaryTags": _empty_to_none(service.get("CanaryTags")),
            "Checks": _checks(service.get("Checks")),
            "Connect": service.get("Connect"),
            "EnableTagOverride": bool(service.get("EnableTagOverride") or False),
            "Meta": _empty_to_none(service.get("Meta")),
            "Name": name,
            "PortLabel": service.get("PortLabel") or "",
            "Tags": _empty_to_none(service.get("Tags")),
            "TaskName": service.get("TaskName") or "",
        })
    return out


def _struct_task(task: dict[str, Any], job: Job, group: dict[str, Any], restart: Any) -> dict[str, Any]:
    resources = _merge(
        {"CPU": 100, "Devices": None, "DiskMB": 0, "IOPS": 0, "MemoryMB": 300, "Networks": None},
        task.get("Resources"),
    )
    assert resources is not None
    resources["Networks"] = _networks(resources.get("Networks"))
    resources["Devices"] = _empty_to_none(resources.get("Devices"))
    log_config = task.get("LogConfig") or {}
    return {
        "Affinities": _empty_to_none(task.get("Affinities")),
        "Artifacts": _empty_to_none(task.get("Artifacts")),
        "CSIPluginConfig": task.get("CSIPluginConfig"),
        "Config": _empty_to_none(task.get("Config")),
        "Constraints": _constraints(task.get("Constraints")),
        "DispatchPayload": task.get("DispatchPayload"),
        "Driver": task.get("Driver") or "",
        "Env": _empty_to_none(task.get("Env")),
        "KillSignal": task.get("KillSignal") or "",
        "KillTimeout": task.get("KillTimeout") if task.get("KillTimeout") is not None else 5 * SECOND,
        "Kind": task.get("Kind") or "",
        "Leader": bool(task.get("Leader") or False),
        "Lifecycle": task.get("Lifecycle"),
        "LogConfig": {
            "MaxFileSizeMB": log_config.get("MaxFileSizeMB") if log_config.get("MaxFileSizeMB") is not None else 10,
            "MaxFiles": log_config.get("MaxFiles") if log_config.get("MaxFiles") is not None else 10,
        },
        "Meta": _empty_to_none(task.get("Meta")),
        "Name": task.get("Name"),
        "Resources": resources,
        "RestartPolicy": _merge(restart, task.get("RestartPolicy")),
        "ScalingPolicies": task.get("ScalingPolicies"),
        "Services": _services(task.get("Services"), job, group, task),
        "ShutdownDelay": task.get("ShutdownDelay") or 0,
        "Templates": _empty_to_none(task.get("Templates")),
        "User": task.get("User") or "",
        "Vault": task.get("Vault"),
        "VolumeMounts": _empty_to_none(task.get("VolumeMounts")),
    }


SERVER_FIELDS = (
    "Status", "StatusDescription", "Stable", "Version", "CreateIndex", "ModifyIndex",
    "JobModifyIndex", "SubmitTime",
)


def spec_changed(old: Job, new: Job) -> bool:
    """Nomad's ``SpecChanged``: deep inequality ignoring the server-managed fields."""
    strip: Callable[[Job], Job] = lambda j: {k: v for k, v in j.items() if k not in SERVER_FIELDS}  # noqa: E731
    return strip(old) != strip(new)


# --- /v1/jobs/parse: the api.Job view ------------------------------------------------------

_API_JOB_ZEROS: dict[str, Any] = {
    "NomadTokenID": "", "JobModifyIndex": 0, "StatusDescription": "", "CreateIndex": 0, "ModifyIndex": 0,
    "VaultToken": "", "ConsulToken": "", "ParentID": "", "Version": 0, "Dispatched": False, "Status": "",
    "Stable": False, "VaultNamespace": "",
}


def to_api_view(converted: Job, canonical: Job, *, version: tuple[int, int, int] = (1, 0, 18)) -> Job:
    """What ``/v1/jobs/parse`` with ``Canonicalize`` returns: the api.Job layer of defaults.

    ``canonical`` (the project's canonicalizer, which targets the job Nomad stores) is
    brought back to the API struct: the job-level update/reschedule/migrate blocks stay
    at job level, server-only additions (implicit constraints, zero-valued legacy
    resource fields) are dropped, and API-only zero fields are present.
    """
    job = copy.deepcopy(canonical)
    for key, zero in _API_JOB_ZEROS.items():
        job.setdefault(key, zero)
    for key in ("Reschedule", "Migrate"):
        if converted.get(key) is not None:
            job[key] = copy.deepcopy(converted[key])
    jtype = job.get("Type") or "service"
    defaulted = jtype == "service" or (jtype == "system" and version >= (1, 11, 0))
    if defaulted or converted.get("Update") is not None:
        job["Update"] = _merge(DEFAULT_UPDATE, converted.get("Update"))
    else:
        job["Update"] = None  # api Job.Canonicalize defaults only a service job's (api/jobs.go, v1.0.18)
    by_name = {g.get("Name"): g for g in converted.get("TaskGroups") or []}
    for group in job.get("TaskGroups") or []:
        source = by_name.get(group.get("Name")) or {}
        if jtype != "service":
            group["Update"] = _group_update(job["Update"], source.get("Update"))
        group["Constraints"] = copy.deepcopy(source.get("Constraints"))
        if group.get("Scaling"):
            group["Scaling"] = {"CreateIndex": 0, "ID": "", "ModifyIndex": 0, "Namespace": "", **group["Scaling"]}
        for network, src in zip(group.get("Networks") or [], source.get("Networks") or [], strict=False):
            if src.get("MBits") is None:
                network.pop("MBits", None)
            _api_host_networks(network, src)
        _add_service_ids(group.get("Services"))
        tasks = {t.get("Name"): t for t in source.get("Tasks") or []}
        for task in group.get("Tasks") or []:
            given = (tasks.get(task.get("Name")) or {}).get("Resources") or {}
            for network, src in zip((task.get("Resources") or {}).get("Networks") or [], given.get("Networks") or [], strict=False):
                _api_host_networks(network, src)
            for key in ("DiskMB", "IOPS"):
                if given.get(key) is None:
                    (task.get("Resources") or {}).pop(key, None)
            _add_service_ids(task.get("Services"))
    return job


def _api_host_networks(network: dict[str, Any], source: dict[str, Any]) -> None:
    """The api layer leaves a port's HostNetwork as written; only the server names "default"."""
    for key in ("ReservedPorts", "DynamicPorts"):
        for port, src in zip(network.get(key) or [], source.get(key) or [], strict=False):
            port["HostNetwork"] = src.get("HostNetwork") or ""


def _add_service_ids(services: Any) -> None:
    for service in services or []:
        service.setdefault("Id", "")
        for check in service.get("Checks") or []:
            check.setdefault("Id", "")
