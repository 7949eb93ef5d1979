"""Nomad 1.0.18's job diff (``structs.Job.Diff``) over server-struct jobs.

Responsible for the ``Diff`` object of plan responses and of
``versions?diffs=true``: JobDiff / TaskGroupDiff / TaskDiff / ObjectDiff /
FieldDiff with Types Added, Deleted, Edited and None, and for telling a
destructive task change from an in-place one.  Pure: no state, no I/O.

Shape rules, as recorded: the job's, groups' and tasks' own fields are
listed only when they changed; inside nested objects the diff is
contextual (unchanged fields appear with Type "None").  Fields are sorted
by name; objects keep Nomad's order.
"""

from __future__ import annotations

from typing import Any

Diff = dict[str, Any]

_JOB_EXCLUDED = {
    "ID", "Status", "StatusDescription", "Version", "Stable", "CreateIndex", "ModifyIndex",
    "JobModifyIndex", "Update", "SubmitTime", "NomadTokenID", "VaultToken",
}
# Nested objects per level, in the order Nomad emits them: (struct key, diff name, kind).
_JOB_OBJECTS = (
    ("Constraints", "Constraint", "set"), ("Affinities", "Affinity", "set"),
    ("Spreads", "Spread", "set"), ("Periodic", "Periodic", "object"),
    ("ParameterizedJob", "ParameterizedJob", "object"), ("Multiregion", "Multiregion", "object"),
)
_GROUP_OBJECTS = (
    ("Constraints", "Constraint", "set"), ("Affinities", "Affinity", "set"),
    ("Spreads", "Spread", "set"), ("RestartPolicy", "RestartPolicy", "object"),
    ("ReschedulePolicy", "ReschedulePolicy", "object"), ("EphemeralDisk", "EphemeralDisk", "object"),
    ("Update", "Update", "object"), ("Networks", "Network", "set"),
    ("Services", "Service", "named"), ("Volumes", "Volume", "object"), ("Scaling", "Scaling", "object"),
)
_TASK_OBJECTS = (
    ("Constraints", "Constraint", "set"), ("Affinities", "Affinity", "set"),
    ("Config", "Config", "config"), ("Resources", "Resources", "object"),
    ("LogConfig", "LogConfig", "object"), ("DispatchPayload", "DispatchPayload", "object"),
    ("Artifacts", "Artifact", "set"), ("Vault", "Vault", "object"),
    ("Templates", "Template", "set"), ("Services", "Service", "named"),
    ("VolumeMounts", "VolumeMount", "set"), ("Lifecycle", "Lifecycle", "object"),
)
_GROUP_OWN = {"Count", "Meta", "ShutdownDelay", "StopAfterClientDisconnect"}
_TASK_OWN = {"Driver", "User", "Env", "Meta", "KillTimeout", "KillSignal", "Leader", "ShutdownDelay", "Kind"}
_UPDATE_EXCLUDED = {"Stagger"}
# Task objects whose change Nomad applies in place (1.0.x): everything else is destructive.
_IN_PLACE_OBJECTS = {"Constraint", "Affinity", "Service", "Spread"}


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Go's flatmap: map keys bare at the top and ``p[k]`` below, list items ``p[i]``."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}[{key}]" if prefix else str(key)))
    elif isinstance(value, list):
        for idx, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{idx}]"))
    elif value is not None:
        out[prefix] = _fmt(value)
    return out


def _primitives(obj: dict[str, Any] | None, *, only: set[str] | None = None, exclude: set[str] = frozenset()) -> dict[str, str]:  # type: ignore[assignment]
    """Primitive fields of a struct; map fields such as Meta/Env become ``Meta[k]``."""
    out: dict[str, str] = {}
    for key, value in (obj or {}).items():
        if key in exclude or (only is not None and key not in only):
            continue
        if isinstance(value, dict):
            if key in ("Meta", "Env"):
                for k, v in value.items():
                    out[f"{key}[{k}]"] = _fmt(v)
            continue
        if isinstance(value, list) or value is None:
            continue
        out[key] = _fmt(value)
    return out


def _field_diffs(old: dict[str, str], new: dict[str, str], *, contextual: bool) -> list[Diff]:
    diffs = []
    for name in sorted(set(old) | set(new)):
        o, n = old.get(name, ""), new.get(name, "")
        if name not in old and name not in new:
            continue
        if o == n:
            if not contextual:
                continue
            kind = "None"
        elif name not in old or (o == "" and name in new):
            kind = "Added"
        elif name not in new or n == "":
            kind = "Deleted"
        else:
            kind = "Edited"
        diffs.append({"Annotations": None, "Name": name, "New": n, "Old": o, "Type": kind})
    return diffs


def _object_diff(name: str, old: Any, new: Any, *, contextual: bool, exclude: set[str] = frozenset()) -> Diff | None:  # type: ignore[assignment]
    if old is None and new is None:
        return None
    if old == new and not contextual:
        return None
    flat_old = _primitives(old, exclude=exclude) if isinstance(old, dict) else {}
    flat_new = _primitives(new, exclude=exclude) if isinstance(new, dict) else {}
    if old is None:
        kind = "Added"
    elif new is None:
        kind = "Deleted"
    elif flat_old == flat_new and old == new:
        return None
    else:
        kind = "Edited"
    fields = _field_diffs(flat_old, flat_new, contextual=contextual)
    return {"Fields": fields or None, "Name": name, "Objects": None, "Type": kind}


def _config_diff(old: Any, new: Any, *, contextual: bool) -> Diff | None:
    if old == new:
        return None
    flat_old, flat_new = _flatten(old or {}), _flatten(new or {})
    kind = "Added" if not old else "Deleted" if not new else "Edited"
    fields = _field_diffs(flat_old, flat_new, contextual=contextual)
    return {"Fields": fields or None, "Name": "Config", "Objects": None, "Type": kind}


def _set_diffs(name: str, old: Any, new: Any, *, contextual: bool) -> list[Diff]:
    old_items, new_items = list(old or []), list(new or [])
    out = []
    for item in old_items:
        if item not in new_items:
            d = _object_diff(name, item, None, contextual=contextual)
            if d:
                out.append(d)
    for item in new_items:
        if item not in old_items:
            d = _object_diff(name, None, item, contextual=contextual)
            if d:
                out.append(d)
    return out


def _named_diffs(name: str, old: Any, new: Any, *, contextual: bool) -> list[Diff]:
    old_by = {s.get("Name"): s for s in old or []}
    new_by = {s.get("Name"): s for s in new or []}
    out = []
    for key in list(old_by) + [k for k in new_by if k not in old_by]:
        d = _object_diff(name, old_by.get(key), new_by.get(key), contextual=contextual)
        if d:
            out.append(d)
    return out


def _objects(spec: tuple[tuple[str, str, str], ...], old: dict[str, Any] | None, new: dict[str, Any] | None, *, contextual: bool) -> list[Diff]:
    out: list[Diff] = []
    for key, name, kind in spec:
        o = (old or {}).get(key)
        n = (new or {}).get(key)
        if kind == "set":
            out.extend(_set_diffs(name, o, n, contextual=contextual))
        elif kind == "named":
            out.extend(_named_diffs(name, o, n, contextual=contextual))
        elif kind == "config":
            d = _config_diff(o, n, contextual=contextual)
            if d:
                out.append(d)
        else:
            exclude = _UPDATE_EXCLUDED if key == "Update" else (
                {"Networks", "Devices"} if key == "Resources" else set()
            )
            d = _object_diff(name, o, n, contextual=contextual, exclude=exclude)
            if d:
                out.append(d)
    return out


def _datacenters(old: Any, new: Any, *, contextual: bool) -> Diff | None:
    o, n = list(old or []), list(new or [])
    if o == n and not contextual:
        return None
    fields = []
    for dc in sorted(set(o) | set(n)):
        if dc in o and dc in n:
            if contextual:
                fields.append({"Annotations": None, "Name": "Datacenters", "New": dc, "Old": dc, "Type": "None"})
        elif dc in n:
            fields.append({"Annotations": None, "Name": "Datacenters", "New": dc, "Old": "", "Type": "Added"})
        else:
            fields.append({"Annotations": None, "Name": "Datacenters", "New": "", "Old": dc, "Type": "Deleted"})
    if o == n:
        return None
    kind = "Added" if not o else "Deleted" if not n else "Edited"
    return {"Fields": fields or None, "Name": "Datacenters", "Objects": None, "Type": kind}


def _status(kind_if_changed: str, fields: list[Diff], objects: list[Diff], children: list[Diff]) -> str:
    changed = any(f["Type"] != "None" for f in fields) or any(o["Type"] != "None" for o in objects) or any(
        c["Type"] != "None" for c in children
    )
    return kind_if_changed if changed else "None"


def task_diff(old: dict[str, Any] | None, new: dict[str, Any] | None, *, contextual: bool) -> Diff:
    name = (new or old or {}).get("Name")
    kind = "Added" if old is None else "Deleted" if new is None else None
    fields = _field_diffs(_primitives(old, only=_TASK_OWN), _primitives(new, only=_TASK_OWN), contextual=False)
    objects = _objects(_TASK_OBJECTS, old, new, contextual=contextual)
    return {
        "Annotations": None, "Fields": fields or None, "Name": name, "Objects": objects or None,
        "Type": kind or _status("Edited", fields, objects, []),
    }


def group_diff(old: dict[str, Any] | None, new: dict[str, Any] | None, *, contextual: bool) -> Diff:
    name = (new or old or {}).get("Name")
    kind = "Added" if old is None else "Deleted" if new is None else None
    fields = _field_diffs(_primitives(old, only=_GROUP_OWN), _primitives(new, only=_GROUP_OWN), contextual=False)
    objects = _objects(_GROUP_OBJECTS, old, new, contextual=contextual)
    old_tasks = {t["Name"]: t for t in (old or {}).get("Tasks") or []}
    new_tasks = {t["Name"]: t for t in (new or {}).get("Tasks") or []}
    tasks = [
        task_diff(old_tasks.get(n), new_tasks.get(n), contextual=contextual)
        for n in sorted(set(old_tasks) | set(new_tasks))
    ]
    return {
        "Fields": fields or None, "Name": name, "Objects": objects or None, "Tasks": tasks or None,
        "Type": kind or _status("Edited", fields, objects, tasks), "Updates": None,
    }


def job_diff(old: dict[str, Any] | None, new: dict[str, Any], *, contextual: bool = True) -> Diff:
    """``old.Diff(new)``; ``old`` is None for a job that does not exist yet."""
    fields = _field_diffs(_primitives(old, exclude=_JOB_EXCLUDED), _primitives(new, exclude=_JOB_EXCLUDED), contextual=False)
    objects: list[Diff] = []
    dcs = _datacenters((old or {}).get("Datacenters"), new.get("Datacenters"), contextual=contextual)
    if dcs:
        objects.append(dcs)
    objects.extend(_objects(_JOB_OBJECTS, old, new, contextual=contextual))
    old_groups = {g["Name"]: g for g in (old or {}).get("TaskGroups") or []}
    new_groups = {g["Name"]: g for g in new.get("TaskGroups") or []}
    groups = [
        group_diff(old_groups.get(n), new_groups.get(n), contextual=contextual)
        for n in sorted(set(old_groups) | set(new_groups))
    ]
    kind = "Added" if old is None else _status("Edited", fields, objects, groups)
    return {
        "Fields": fields or None, "ID": new.get("ID"), "Objects": objects or None,
        "TaskGroups": groups or None, "Type": kind,
    }


def _combined_meta(job: dict[str, Any], group: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for source in (job.get("Meta"), group.get("Meta"), task.get("Meta")):
        meta.update(source or {})
    return meta


_DESTRUCTIVE_TASK_KEYS = (
    "Driver", "User", "Config", "Env", "Artifacts", "Vault", "Templates", "LogConfig",
    "Lifecycle", "VolumeMounts", "DispatchPayload", "KillSignal",
)


def task_updated(old_job: dict[str, Any], new_job: dict[str, Any], group_name: str, task_name: str) -> bool:
    """Does this task's change need a new allocation (Nomad 1.0's ``tasksUpdated``, per task)?"""
    old = next((g for g in old_job.get("TaskGroups") or [] if g["Name"] == group_name), None)
    new = next((g for g in new_job.get("TaskGroups") or [] if g["Name"] == group_name), None)
    if old is None or new is None:
        return True
    ot = next((t for t in old.get("Tasks") or [] if t["Name"] == task_name), None)
    nt = next((t for t in new.get("Tasks") or [] if t["Name"] == task_name), None)
    if ot is None or nt is None:
        return True
    if any(ot.get(k) != nt.get(k) for k in _DESTRUCTIVE_TASK_KEYS):
        return True
    if _combined_meta(old_job, old, ot) != _combined_meta(new_job, new, nt):
        return True  # job and group Meta reach every task
    ores, nres = ot.get("Resources") or {}, nt.get("Resources") or {}
    return any(ores.get(k) != nres.get(k) for k in ("CPU", "MemoryMB", "DiskMB", "IOPS", "Networks", "Devices"))


def tasks_updated(old_job: dict[str, Any], new_job: dict[str, Any], group_name: str) -> bool:
    """Nomad's ``tasksUpdated``: does this group need new allocations (destructive update)?"""
    old = next((g for g in old_job.get("TaskGroups") or [] if g["Name"] == group_name), None)
    new = next((g for g in new_job.get("TaskGroups") or [] if g["Name"] == group_name), None)
    if old is None or new is None:
        return True
    if any(old.get(key) != new.get(key) for key in ("Networks", "EphemeralDisk", "Volumes")):
        return True
    old_names = [t["Name"] for t in old.get("Tasks") or []]
    new_names = [t["Name"] for t in new.get("Tasks") or []]
    if sorted(old_names) != sorted(new_names):
        return True
    return any(task_updated(old_job, new_job, group_name, name) for name in new_names)
