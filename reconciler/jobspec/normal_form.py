"""The normal form both sides of a drift comparison share, and what the server manages.

Pure: dicts in, new dicts out.  ``canonical.canonicalize`` brings a declared
job to this form, ``canonical.strip_server_fields`` a read-back job
(``GET /v1/job/:id``), so comparing the two shows only real drift.  The
normal form drops ``null`` values and empty lists/maps in the job's structure
(Nomad nils empty ``Meta``, ``Constraints``, ``Args`` ...) but keeps opaque
user maps (``OPAQUE_KEYS``) as written, only dropped when empty.
"""

from __future__ import annotations

from typing import Any

#: Fields Nomad manages itself; never part of a declared job.  ``Stop`` is kept:
#: a job someone stopped by hand is drift, not bookkeeping.
SERVER_FIELDS: frozenset[str] = frozenset(
    {
        "Status",
        "StatusDescription",
        "Stable",
        "Version",
        "SubmitTime",
        "CreateIndex",
        "ModifyIndex",
        "JobModifyIndex",
        "NomadTokenID",
        "VersionTag",
        "ParentID",
        "Dispatched",
        "DispatchIdempotencyToken",
        "Payload",
        # secrets: the server never returns them, so they cannot be compared
        "ConsulToken",
        "VaultToken",
    }
)

#: Scaling-policy fields the server assigns on register.
SCALING_SERVER_FIELDS: frozenset[str] = frozenset(
    {"ID", "Namespace", "Target", "CreateIndex", "ModifyIndex"}
)

#: Maps that belong to the user (driver config, metadata ...): kept verbatim.
OPAQUE_KEYS: frozenset[str] = frozenset(
    {"Config", "Meta", "Env", "Policy", "GetterOptions", "GetterHeaders", "Header", "CanaryMeta"}
)


def remove_server_fields(job: dict[str, Any]) -> dict[str, Any]:
    """Remove ``SERVER_FIELDS`` and ``SCALING_SERVER_FIELDS`` from ``job`` in place; returns it."""
    for key in SERVER_FIELDS:
        job.pop(key, None)
    for group in job.get("TaskGroups") or ():
        scaling = group.get("Scaling")
        if isinstance(scaling, dict):
            for key in SCALING_SERVER_FIELDS:
                scaling.pop(key, None)
    return job


def to_normal_form(value: Any) -> Any:
    """Drop ``None`` values and empty containers, except inside opaque user maps."""
    return _to_normal_form(value)


def _to_normal_form(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in OPAQUE_KEYS and isinstance(item, dict):  # Vault.Env is a bool
                if item:
                    out[key] = item
                continue
            normal = _to_normal_form(item)
            if normal is None or normal == {} or normal == []:
                continue
            out[key] = normal
        return out
    if isinstance(value, list):
        return [_to_normal_form(item) for item in value]
    return value
