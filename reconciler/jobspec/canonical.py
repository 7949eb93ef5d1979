"""Canonical form of a Nomad job: the shape Nomad reads back after registering it.

Pure: dicts in, new dicts out; never mutates its input, no I/O.  The values
filled in are data in ``canonical_defaults``.

``canonicalize(job)`` takes a job in Nomad's API JSON (``nomad job run -output``
output, a ``/v1/jobs/parse`` result, or a bare JSON job written by hand with keys
missing) and fills every default Nomad 1.0.18 fills, so that comparing it with
``strip_server_fields(<GET /v1/job/:id>)`` shows only real drift.  Both
functions return the same *normal form* (``normal_form``):

* keys whose value is ``null`` are dropped, and so are empty lists/maps in the
  job's structure (Nomad nils empty ``Meta``, ``Constraints``, ``Args`` ...);
  opaque user maps (``Config``, ``Meta``, ``Env``, scaling ``Policy``, artifact
  options/headers, check ``Header``) are kept as written, only dropped when empty;
* server-managed fields (``SERVER_FIELDS``) and secrets Nomad never returns
  (``ConsulToken``, ``VaultToken``) are absent.

The defaults are the three layers of Nomad 1.0.18 (``api.Job.Canonicalize``,
the api→struct conversion, the server's ``Job.Canonicalize``) as far as the
read-back differs from the api layer:

* job ``Update`` keeps only ``Stagger``/``MaxParallel`` (the rest is merged into
  every group first) and is the zero strategy unless ``MaxParallel > 0``;
* job ``Reschedule``/``Migrate`` exist only merged into the groups;
* ``Resources.DiskMB``/``IOPS`` and network ``MBits`` read back as ``0``;
  service/check ``Id`` and service-level ``CheckRestart`` (merged into the checks) are gone;
* every port (reserved or dynamic, group or task network) names its host
  network, ``HostNetwork: "default"`` unless set;
* ``ParameterizedJob.Payload`` defaults to ``"optional"``; service names get
  their default and ``${JOB}``/``${TASKGROUP}``/``${TASK}``/``${BASE}`` interpolated;
  unnamed checks are named ``service: "<name>" check``;
* the server's implied constraints are appended to the groups: Vault version
  for groups using Vault, ``${attr.os.signals}`` for signals the tasks need.

Evidence: the api layer is checked against every corpus ``X.parse.json``; the
struct layer against every job read back in the api transcripts (minimal
jobs).  The struct-only details of services, checks, networks and the implied
constraints come from Nomad 1.0's source, not from a recording.  Not modelled:
Connect sidecar tasks/ports injected for ``connect`` services.

Later Nomad versions fill more (``Datacenters: ["*"]``, ``NodePool``, task
``Identity``, service ``Provider``/``OnUpdate``/``Namespace``, new zero-valued
struct fields, more implied constraints ...): not here, this module is the
1.0.18 read-back.  ``canonical_versions.canonicalize_for_version`` takes this
module's output to the read-back of any later release.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.jobspec.canonical_defaults import (
    BATCH_RESCHEDULE,
    BATCH_RESTART,
    DEFAULT_EPHEMERAL_DISK,
    DEFAULT_HOST_NETWORK,
    DEFAULT_LOG_CONFIG,
    DEFAULT_MIGRATE,
    DEFAULT_UPDATE,
    SECOND,
    SERVICE_RESCHEDULE,
    SERVICE_RESTART,
    VAULT_CONSTRAINT,
    ZERO_CHECK,
    ZERO_CHECK_RESTART,
    ZERO_CONSTRAINT,
    ZERO_NETWORK,
    ZERO_PORT,
    ZERO_SERVICE,
    ZERO_TASK,
    ZERO_UPDATE,
    ZERO_VOLUME,
)
from reconciler.jobspec.normal_form import remove_server_fields, to_normal_form


def canonicalize(job: Mapping[str, Any]) -> dict[str, Any]:
    """The job as Nomad 1.0.18 reads it back, in normal form (see module docstring).

    Idempotent: ``canonicalize(canonicalize(j)) == canonicalize(j)``.
    """
    out: dict[str, Any] = copy.deepcopy(dict(job))
    _canonicalize_job(out)
    normal: dict[str, Any] = to_normal_form(remove_server_fields(out))
    return normal


def strip_server_fields(job: Mapping[str, Any]) -> dict[str, Any]:
    """A read-back job (``GET /v1/job/:id``) without what the server manages, in normal form.

    Removes ``SERVER_FIELDS`` at job level and ``SCALING_SERVER_FIELDS`` from
    group scaling policies; nothing else is changed, so real drift (including a
    hand-set ``Stop: true`` or a scaled ``Count``) stays visible.
    """
    normal: dict[str, Any] = to_normal_form(remove_server_fields(copy.deepcopy(dict(job))))
    return normal


# --- defaults -------------------------------------------------------------------


def _unset(obj: Mapping[str, Any], key: str) -> bool:
    return obj.get(key) is None


def _fill(obj: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    for key, value in defaults.items():
        if _unset(obj, key):
            obj[key] = copy.deepcopy(value)


def _merged(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Later layers override earlier ones, field by field (Nomad's ``Merge``)."""
    out: dict[str, Any] = {}
    for layer in layers:
        if layer:
            out.update({k: copy.deepcopy(v) for k, v in layer.items() if v is not None})
    return out


def _each(obj: Mapping[str, Any], key: str, fn: Callable[[dict[str, Any]], None]) -> None:
    for item in obj.get(key) or ():
        if isinstance(item, dict):
            fn(item)


def _canonicalize_job(job: dict[str, Any]) -> None:
    _fill(job, {"ID": ""})
    _fill(
        job,
        {
            "Name": job["ID"],
            "Namespace": "default",
            "Region": "global",
            "Type": "service",
            "Priority": 50,
            "AllAtOnce": False,
            "Stop": False,
            "VaultNamespace": "",
        },
    )
    job_type = job["Type"]
    if isinstance(job.get("Update"), dict):
        _fill(job["Update"], DEFAULT_UPDATE)
    elif job_type == "service":
        job["Update"] = dict(DEFAULT_UPDATE)
    if isinstance(job.get("Periodic"), dict):
        periodic = job["Periodic"]
        _fill(periodic, {"Enabled": True, "SpecType": "cron", "ProhibitOverlap": False})
        if not periodic.get("TimeZone"):
            periodic["TimeZone"] = "UTC"
    if isinstance(job.get("ParameterizedJob"), dict) and not job["ParameterizedJob"].get("Payload"):
        job["ParameterizedJob"]["Payload"] = "optional"
    _canonicalize_placement(job)
    for group in job.get("TaskGroups") or ():
        _canonicalize_group(group, job)

    # api→struct: the job-level update survives only as Stagger/MaxParallel,
    # reschedule/migrate only inside the groups.
    update = job.get("Update")
    if isinstance(update, dict) and (update.get("MaxParallel") or 0) > 0:
        job["Update"] = {
            **ZERO_UPDATE,
            "Stagger": update.get("Stagger") or 0,
            "MaxParallel": update["MaxParallel"],
        }
    else:
        job["Update"] = dict(ZERO_UPDATE)
    job.pop("Reschedule", None)
    job.pop("Migrate", None)
    for group in job.get("TaskGroups") or ():
        _add_implied_constraints(group)


def _update_is_empty(update: Mapping[str, Any]) -> bool:
    # Nomad's UpdateStrategy.Empty(): nothing set to a non-zero value.  The
    # zero strategy the server keeps at job level must not leak into groups.
    return not any(update.get(key) for key in DEFAULT_UPDATE)


def _add_implied_constraints(group: dict[str, Any]) -> None:
    """The server's ``jobImpliedConstraints`` mutator (Nomad 1.0.x), appended to the group.

    Vault: ``${attr.vault.version} semver >= 0.6.1`` unless the group already
    constrains that attribute.  Signals (vault/template ``change_mode =
    "signal"``, ``kill_signal``): ``${attr.os.signals} set_contains <sorted,
    comma-joined>`` unless an equal constraint exists.  Idempotent by those rules.
    """
    tasks = [t for t in group.get("Tasks") or () if isinstance(t, dict)]
    constraints = group.setdefault("Constraints", None) or []
    if any(t.get("Vault") for t in tasks) and not any(
        c.get("LTarget") == VAULT_CONSTRAINT["LTarget"] for c in constraints
    ):
        constraints.append(dict(VAULT_CONSTRAINT))
    signals: set[str] = set()
    for task in tasks:
        vault = task.get("Vault") or {}
        if vault.get("ChangeMode") == "signal":
            signals.add(str(vault.get("ChangeSignal", "")))
        if task.get("KillSignal"):
            signals.add(str(task["KillSignal"]))
        for template in task.get("Templates") or ():
            if template.get("ChangeMode") == "signal":
                signals.add(str(template.get("ChangeSignal", "")))
    if signals:
        wanted = {
            "LTarget": "${attr.os.signals}",
            "RTarget": ",".join(sorted(signals)),
            "Operand": "set_contains",
        }
        if not any(_same_constraint(c, wanted) for c in constraints):
            constraints.append(wanted)
    group["Constraints"] = constraints or None


def _same_constraint(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(a.get(k, "") == b[k] for k in ("LTarget", "RTarget", "Operand"))


def _canonicalize_placement(obj: dict[str, Any]) -> None:
    """Constraints, affinities and spreads of a job, group or task."""
    _each(obj, "Constraints", lambda c: _fill(c, ZERO_CONSTRAINT))
    _each(obj, "Affinities", lambda a: _fill(a, {**ZERO_CONSTRAINT, "Weight": 50}))
    for spread in obj.get("Spreads") or ():
        _fill(spread, {"Attribute": "", "Weight": 50})
        _each(spread, "SpreadTarget", lambda t: _fill(t, {"Value": "", "Percent": 0}))


def _canonicalize_network(network: dict[str, Any]) -> None:
    _fill(network, ZERO_NETWORK)
    _each(network, "ReservedPorts", _canonicalize_port)
    _each(network, "DynamicPorts", _canonicalize_port)


def _canonicalize_port(port: dict[str, Any]) -> None:
    _fill(port, ZERO_PORT)
    # The server's NetworkResource.Canonicalize (nomad/structs/structs.go, v1.0.18)
    # names the host network of every port, group and task networks alike.
    if not port["HostNetwork"]:
        port["HostNetwork"] = DEFAULT_HOST_NETWORK


def _canonicalize_group(group: dict[str, Any], job: dict[str, Any]) -> None:
    job_type = job["Type"]
    _fill(group, {"Name": ""})
    scaling = group.get("Scaling")
    if _unset(group, "Count"):
        has_min = isinstance(scaling, dict) and scaling.get("Min") is not None
        group["Count"] = int(scaling["Min"]) if has_min and scaling else 1
    if isinstance(scaling, dict):
        _fill(scaling, {"Enabled": True, "Min": group["Count"]})
        if not scaling.get("Type"):
            scaling["Type"] = "horizontal"

    group["EphemeralDisk"] = _merged(DEFAULT_EPHEMERAL_DISK, group.get("EphemeralDisk"))

    job_update, group_update = job.get("Update"), group.get("Update")
    if isinstance(job_update, dict) and isinstance(group_update, dict):
        group["Update"] = _merged(job_update, group_update)
    elif isinstance(job_update, dict) and not _update_is_empty(job_update):
        group["Update"] = copy.deepcopy(job_update)
    if isinstance(group.get("Update"), dict):
        _fill(group["Update"], DEFAULT_UPDATE)

    reschedule_default = {"service": SERVICE_RESCHEDULE, "batch": BATCH_RESCHEDULE}.get(job_type)
    if reschedule_default is not None:
        group["ReschedulePolicy"] = _merged(
            reschedule_default, job.get("Reschedule"), group.get("ReschedulePolicy")
        )

    if job_type == "service":
        group["Migrate"] = _merged(DEFAULT_MIGRATE, job.get("Migrate"), group.get("Migrate"))
    elif job.get("Migrate") or group.get("Migrate"):
        group["Migrate"] = _merged(job.get("Migrate"), group.get("Migrate"))

    restart_default = BATCH_RESTART if job_type == "batch" else SERVICE_RESTART
    group["RestartPolicy"] = _merged(restart_default, group.get("RestartPolicy"))

    _canonicalize_placement(group)
    _each(group, "Networks", _canonicalize_network)
    for volume in (group.get("Volumes") or {}).values():
        if isinstance(volume, dict):
            _fill(volume, ZERO_VOLUME)
    for service in group.get("Services") or ():
        _canonicalize_service(service, job=job, group=group, task=None)
    for task in group.get("Tasks") or ():
        _canonicalize_task(task, group=group, job=job)


def _canonicalize_task(task: dict[str, Any], *, group: dict[str, Any], job: dict[str, Any]) -> None:
    _fill(task, ZERO_TASK)
    _canonicalize_placement(task)
    if isinstance(task.get("Lifecycle"), dict):
        _fill(task["Lifecycle"], {"Hook": "", "Sidecar": False})
    if isinstance(task.get("DispatchPayload"), dict):
        _fill(task["DispatchPayload"], {"File": ""})
    resources = task.get("Resources") or {}
    _fill(resources, {"CPU": 100, "MemoryMB": 300, "DiskMB": 0, "IOPS": 0})
    _each(resources, "Devices", lambda d: _fill(d, {"Name": "", "Count": 1}))
    _each(resources, "Networks", _canonicalize_network)
    task["Resources"] = resources
    _fill(task, {"KillTimeout": 5 * SECOND})
    task["LogConfig"] = _merged(DEFAULT_LOG_CONFIG, task.get("LogConfig"))
    _each(task, "Artifacts", _canonicalize_artifact)
    if isinstance(task.get("Vault"), dict):
        _fill(
            task["Vault"],
            {"Env": True, "Namespace": "", "ChangeMode": "restart", "ChangeSignal": "SIGHUP"},
        )
    _each(task, "Templates", _canonicalize_template)
    for service in task.get("Services") or ():
        _canonicalize_service(service, job=job, group=group, task=task)
    _each(
        task, "VolumeMounts", lambda m: _fill(m, {"PropagationMode": "private", "ReadOnly": False})
    )
    task["RestartPolicy"] = _merged(group["RestartPolicy"], task.get("RestartPolicy"))


def _canonicalize_artifact(artifact: dict[str, Any]) -> None:
    _fill(artifact, {"GetterMode": "any"})
    if _unset(artifact, "RelativeDest"):
        source = str(artifact.get("GetterSource") or "")
        if artifact["GetterMode"] == "file" and source:
            artifact["RelativeDest"] = "local/" + source.rstrip("/").rsplit("/", 1)[-1]
        else:
            artifact["RelativeDest"] = "local/"


def _canonicalize_template(template: dict[str, Any]) -> None:
    _fill(
        template,
        {
            "SourcePath": "",
            "DestPath": "",
            "EmbeddedTmpl": "",
            "ChangeMode": "restart",
            "Splay": 5 * SECOND,
            "Perms": "0644",
            "LeftDelim": "{{",
            "RightDelim": "}}",
            "Envvars": False,
            "VaultGrace": 0,
        },
    )
    signal = template.get("ChangeSignal")
    if signal is None:
        template["ChangeSignal"] = "SIGHUP" if template["ChangeMode"] == "signal" else ""
    else:
        template["ChangeSignal"] = str(signal).upper()


def _canonicalize_service(
    service: dict[str, Any],
    *,
    job: dict[str, Any],
    group: dict[str, Any],
    task: dict[str, Any] | None,
) -> None:
    base = f"{job['Name']}-{group['Name']}" + (f"-{task.get('Name', '')}" if task else "")
    if not service.get("Name"):
        service["Name"] = base
    service["Name"] = _interpolate_service_name(
        str(service["Name"]),
        job=str(job["Name"]),
        group=str(group["Name"]),
        task=str(task.get("Name", "")) if task else "",
        base=base,
    )
    _fill(service, ZERO_SERVICE)
    if not service.get("AddressMode"):
        service["AddressMode"] = "auto"
    if not service.get("Id"):
        service.pop("Id", None)
    # merged into every check; the server's Service has no such field
    service_restart = service.pop("CheckRestart", None)
    for check in service.get("Checks") or ():
        _fill(check, ZERO_CHECK)
        if not check.get("Name"):
            # the server's default; two unnamed checks then collide in validation
            check["Name"] = f'service: "{service["Name"]}" check'
        if not check.get("Id"):
            check.pop("Id", None)
        restart = check.get("CheckRestart")
        if service_restart or restart:
            merged = _merged(service_restart, restart)
            _fill(merged, {"Grace": SECOND, **ZERO_CHECK_RESTART})
            check["CheckRestart"] = merged


def _interpolate_service_name(name: str, *, job: str, group: str, task: str, base: str) -> str:
    # ${BASE} first: it is the only one that contains the others' values.
    for token, value in (
        ("${BASE}", base),
        ("${JOB}", job),
        ("${TASKGROUP}", group),
        ("${TASK}", task),
    ):
        name = name.replace(token, value)
    return name
