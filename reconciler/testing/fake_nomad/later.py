"""The fields of a submitted job that Nomad added after 1.0, kept where the release stores them.

``jobs.to_struct_job`` builds the 1.0.18 struct, which has none of these;
``keep_submitted`` copies them from the submitted API job into that struct when
the fake imitates a release whose structs hold them, with the defaults that
release fills on register (``versions.store_for_version`` then adds the rest).
Written from Nomad's ``api`` and ``nomad/structs`` packages at the tags named,
apart from the project's converter and canonical form (the fake is what they are
checked against).  Pure: mutates only the struct it is given.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

V = tuple[int, int, int]

#: (release whose structs hold it, field) per kind of object.
_KEPT: dict[str, tuple[tuple[V, str], ...]] = {
    "job": (((1, 6, 0), "NodePool"), ((1, 8, 0), "UI")),  # structs.go v1.6.0, v1.8.0
    "group": (
        ((1, 3, 0), "MaxClientDisconnect"),  # structs.go v1.3.0
        ((1, 7, 2), "PreventRescheduleOnLost"),  # structs.go v1.7.2
        ((1, 8, 0), "Disconnect"),  # structs/group.go v1.8.0
        ((1, 1, 0), "Consul"),  # structs.go v1.1.0
    ),
    "task": (
        ((1, 5, 0), "Identity"), ((1, 7, 0), "Identities"), ((1, 7, 0), "Actions"),  # structs.go
        ((1, 7, 0), "Consul"),  # structs.go v1.7.0
    ),
    "service": (((1, 3, 0), "Provider"),),  # structs/services.go v1.3.0
}

#: structs.WorkloadIdentity at v2.0.5 (workload_id.go), as its JSON reads back.
_IDENTITY: dict[str, Any] = {
    "Name": "", "Audience": None, "ChangeMode": "", "ChangeSignal": "", "Env": False, "File": False,
    "ServiceName": "", "TTL": 0,
}  # fmt: skip


def keep_submitted(struct: dict[str, Any], submitted: Mapping[str, Any], version: V) -> None:
    """Copy the later fields ``submitted`` sets into ``struct`` where ``version`` stores them."""
    _copy("job", submitted, struct, version)
    groups = {g.get("Name"): g for g in submitted.get("TaskGroups") or [] if isinstance(g, Mapping)}
    for group in struct.get("TaskGroups") or []:
        given = groups.get(group.get("Name")) or {}
        _copy("group", given, group, version)
        if version >= (1, 10, 0):
            # command/agent/job_endpoint.go v1.10.0 ApiTgToStructsTG no longer copies the
            # fields ``disconnect`` replaced: stored unset, whatever the job says
            group["StopAfterClientDisconnect"] = None
            group.pop("MaxClientDisconnect", None)
            group.pop("PreventRescheduleOnLost", None)
        if version >= (1, 8, 0) and isinstance(group.get("Disconnect"), dict):
            _disconnect(group["Disconnect"])
        _services(given.get("Services"), group.get("Services"), version)
        tasks = {t.get("Name"): t for t in given.get("Tasks") or [] if isinstance(t, Mapping)}
        for task in group.get("Tasks") or []:
            given_task = tasks.get(task.get("Name")) or {}
            _copy("task", given_task, task, version)
            _services(given_task.get("Services"), task.get("Services"), version)
            if version >= (1, 7, 0) and task.get("Identities"):
                task["Identities"] = [_identity(i, version) for i in task["Identities"]]
            _templates(task.get("Templates"), version)
        for owner in (group, *(group.get("Tasks") or [])):
            restart = owner.get("RestartPolicy")
            if isinstance(restart, dict) and version < (1, 6, 2):
                restart.pop("RenderTemplates", None)  # structs.go v1.6.2 added it


def _copy(kind: str, given: Mapping[str, Any], obj: dict[str, Any], version: V) -> None:
    for since, key in _KEPT[kind]:
        value = given.get(key)
        if version >= since and value not in (None, "", [], {}):
            obj[key] = copy.deepcopy(value)


def _services(given: Any, stored: Any, version: V) -> None:
    for source, service in zip(given or [], stored or [], strict=False):
        if isinstance(source, Mapping):
            _copy("service", source, service, version)


def _templates(templates: Any, version: V) -> None:
    """structs.go v2.0.5 ChangeScript.RunOnFirstRender (a value field)."""
    for template in templates or []:
        script = template.get("ChangeScript") if isinstance(template, dict) else None
        if isinstance(script, dict) and version >= (2, 0, 5):
            script.setdefault("RunOnFirstRender", False)


def _disconnect(disconnect: dict[str, Any]) -> None:
    """structs/group.go v1.8.0 (to v2.0.5): LostAfter is a value field; Canonicalize fills
    Replace and Reconcile."""
    disconnect["LostAfter"] = disconnect.get("LostAfter") or 0
    disconnect.setdefault("StopOnClientAfter", None)
    if disconnect.get("Replace") is None:
        disconnect["Replace"] = True
    disconnect["Reconcile"] = disconnect.get("Reconcile") or "best_score"


def _identity(identity: Mapping[str, Any], version: V) -> dict[str, Any]:
    """A named workload identity as stored (workload_id.go Canonicalize: ChangeSignal upper-cased)."""
    full = dict(_IDENTITY)
    if version >= (1, 9, 0):
        full["Filepath"] = ""
    if version >= (2, 0, 5):
        full["ExtraClaims"] = None
    full.update({k: v for k, v in identity.items() if v is not None})
    full["ChangeSignal"] = str(full["ChangeSignal"]).upper()
    return full
