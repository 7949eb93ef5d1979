"""A request body decoded the way Nomad's HTTP agent decodes it: Go's ``encoding/json``.

Case-insensitive keys, unknown keys dropped, type errors and syntax errors
with Go's own text (HTTP 400, message verbatim).  Pure functions of data.
"""

from __future__ import annotations

from typing import Any


class DecodeError(ValueError):
    """A body Go's json decoder would refuse (HTTP 400, message verbatim)."""


# --- decoding: Go json semantics -------------------------------------------------
# Field kinds: a scalar kind, ("list", kind), ("map", kind), or the name of a struct.
_SCHEMA: dict[str, dict[str, Any]] = {
    "JobRegisterRequest": {
        "Job": "Job", "EnforceIndex": "bool", "JobModifyIndex": "uint64",
        "PolicyOverride": "bool", "PreserveCounts": "bool", "Diff": "bool", "Submission": "any",
        "Region": "string", "Namespace": "string",
    },
    "Job": {
        "ID": "string", "Name": "string", "Type": "string", "Region": "string",
        "Namespace": "string", "Priority": "int", "AllAtOnce": "bool",
        "Datacenters": ("list", "string"), "Meta": ("map", "string"),
        "TaskGroups": ("list", "TaskGroup"), "Update": "UpdateStrategy", "Stop": "bool",
        "Constraints": ("list", "Constraint"), "Affinities": ("list", "Affinity"),
        "Spreads": ("list", "Spread"), "Periodic": "PeriodicConfig",
        "ParameterizedJob": "ParameterizedJobConfig", "ParentID": "string",
        "Dispatched": "bool", "VaultToken": "string", "VaultNamespace": "string",
        "ConsulToken": "string", "NomadTokenID": "string", "Status": "string",
        "StatusDescription": "string", "Stable": "bool", "Version": "uint64",
        "SubmitTime": "int64", "CreateIndex": "uint64", "ModifyIndex": "uint64",
        "JobModifyIndex": "uint64", "Multiregion": "any", "Payload": "any",
        "Reschedule": "ReschedulePolicy", "Migrate": "MigrateStrategy",
        # later releases (api/jobs.go v1.6.0, v1.8.0); ``later.keep_submitted`` keeps them
        "NodePool": "string", "UI": "any",
    },
    "TaskGroup": {
        "Name": "string", "Count": "int", "Tasks": ("list", "Task"),
        "Update": "UpdateStrategy", "RestartPolicy": "RestartPolicy",
        "ReschedulePolicy": "ReschedulePolicy", "EphemeralDisk": "EphemeralDisk",
        "Migrate": "MigrateStrategy", "Meta": ("map", "string"),
        "Constraints": ("list", "Constraint"), "Affinities": ("list", "Affinity"),
        "Spreads": ("list", "Spread"), "Services": ("list", "Service"),
        "Networks": ("list", "any"), "Volumes": "any", "Scaling": "any",
        "ShutdownDelay": "duration", "StopAfterClientDisconnect": "duration",
        # api/tasks.go v1.3.0, v1.7.2, v1.8.0
        "MaxClientDisconnect": "duration", "PreventRescheduleOnLost": "bool", "Disconnect": "any",
        "Consul": "any",  # v1.1.0
    },
    "Task": {
        "Name": "string", "Driver": "string", "User": "string", "Config": "any",
        "Env": ("map", "string"), "Meta": ("map", "string"), "Resources": "Resources",
        "KillTimeout": "duration", "KillSignal": "string", "Leader": "bool",
        "ShutdownDelay": "duration", "Kind": "string", "LogConfig": "LogConfig",
        "RestartPolicy": "RestartPolicy", "Constraints": ("list", "Constraint"),
        "Affinities": ("list", "Affinity"), "Services": ("list", "Service"),
        "Artifacts": ("list", "any"), "Templates": ("list", "any"), "Vault": "any",
        "Lifecycle": "any", "DispatchPayload": "any", "VolumeMounts": ("list", "any"),
        "CSIPluginConfig": "any", "ScalingPolicies": "any",
        "Identity": "any", "Identities": ("list", "any"), "Actions": ("list", "any"),  # v1.5.0, v1.7.0
        "Consul": "any",  # v1.7.0
    },
    "UpdateStrategy": {
        "Stagger": "duration", "MaxParallel": "int", "HealthCheck": "string",
        "MinHealthyTime": "duration", "HealthyDeadline": "duration",
        "ProgressDeadline": "duration", "Canary": "int", "AutoRevert": "bool",
        "AutoPromote": "bool",
    },
    "RestartPolicy": {"Attempts": "int", "Interval": "duration", "Delay": "duration", "Mode": "string",
                      "RenderTemplates": "bool"},  # v1.6.2
    "ReschedulePolicy": {
        "Attempts": "int", "Interval": "duration", "Delay": "duration",
        "DelayFunction": "string", "MaxDelay": "duration", "Unlimited": "bool",
    },
    "MigrateStrategy": {
        "MaxParallel": "int", "HealthCheck": "string", "MinHealthyTime": "duration",
        "HealthyDeadline": "duration",
    },
    "EphemeralDisk": {"Sticky": "bool", "Migrate": "bool", "SizeMB": "int"},
    "Resources": {
        "CPU": "int", "MemoryMB": "int", "DiskMB": "int", "IOPS": "int",
        "Networks": ("list", "any"), "Devices": ("list", "any"),
    },
    "LogConfig": {"MaxFiles": "int", "MaxFileSizeMB": "int"},
    "Constraint": {"LTarget": "string", "RTarget": "string", "Operand": "string"},
    "Affinity": {"LTarget": "string", "RTarget": "string", "Operand": "string", "Weight": "int"},
    "Spread": {"Attribute": "string", "Weight": "int", "SpreadTarget": ("list", "any")},
    "Service": {
        "Name": "string", "PortLabel": "string", "AddressMode": "string",
        "TaskName": "string", "Tags": ("list", "string"), "CanaryTags": ("list", "string"),
        "EnableTagOverride": "bool", "Checks": ("list", "any"), "Meta": ("map", "string"),
        "CanaryMeta": ("map", "string"), "Connect": "any", "Provider": "string",  # v1.3.0
    },
    "PeriodicConfig": {
        "Enabled": "bool", "Spec": "string", "SpecType": "string",
        "ProhibitOverlap": "bool", "TimeZone": "string",
    },
    "ParameterizedJobConfig": {
        "Payload": "string", "MetaRequired": ("list", "string"), "MetaOptional": ("list", "string"),
    },
    "ScalingRequest": {
        "Count": "int", "Target": ("map", "string"), "Message": "string", "Error": "bool",
        "Meta": "any", "PolicyOverride": "bool",
    },
}

_GO_TYPE = {
    "string": "string", "int": "int", "int64": "int64", "uint64": "uint64",
    "bool": "bool", "duration": "time.Duration",
}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _scalar_ok(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("int", "int64", "uint64", "duration"):
        return isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    return True


def decode_struct(value: Any, struct: str, *, path: str = "") -> Any:
    """Decode ``value`` into ``struct`` like Go: canonical key names, unknown keys dropped.

    Raises ``DecodeError`` with Go's ``cannot unmarshal`` text on a type mismatch.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise DecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go "
            + (f"struct field {path} of type api.{struct}" if path else f"value of type api.{struct}")
        )
    fields = _SCHEMA[struct]
    by_lower = {name.lower(): name for name in fields}
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = by_lower.get(key.lower())
        if name is None:
            continue  # Go silently ignores unknown keys
        field_path = f"{path}.{name}" if path else name
        out[name] = _decode_field(item, fields[name], struct, field_path)
    return out


def _decode_field(value: Any, kind: Any, owner: str, path: str) -> Any:
    if value is None or kind == "any":
        return value
    if isinstance(kind, tuple):
        container, elem = kind
        if container == "list":
            if not isinstance(value, list):
                raise _type_error(value, owner, path, f"[]{_go_name(elem)}")
            return [_decode_field(v, elem, elem if elem in _SCHEMA else owner, path) for v in value]
        if not isinstance(value, dict):
            raise _type_error(value, owner, path, f"map[string]{_go_name(elem)}")
        return {k: _decode_field(v, elem, owner, path) for k, v in value.items()}
    if kind in _SCHEMA:
        if not isinstance(value, dict):
            raise _type_error(value, owner, path, f"api.{kind}")
        return decode_struct(value, kind, path=path)
    if not _scalar_ok(kind, value):
        raise _type_error(value, owner, path, _GO_TYPE[kind])
    if kind in ("int", "int64", "uint64", "duration"):
        return int(value)
    return value


def _go_name(kind: str) -> str:
    return _GO_TYPE.get(kind, f"api.{kind}" if kind in _SCHEMA else "interface {}")


def _type_error(value: Any, owner: str, path: str, go_type: str) -> DecodeError:
    # Go names the struct that holds the field and the JSON path of the field from the root.
    return DecodeError(
        f"json: cannot unmarshal {_json_kind(value)} into Go struct field {owner}.{path} of type {go_type}"
    )


def go_json_error(text: str, exc: Exception) -> str:
    """Go's ``encoding/json`` message for a body Python's json module could not parse."""
    pos = getattr(exc, "pos", 0)
    stripped = text.strip()
    if not stripped:
        return "EOF"
    if pos >= len(text.rstrip()):
        return "unexpected EOF"
    char = text[pos]
    if pos == len(text) - len(text.lstrip()):
        return f"invalid character {char!r} looking for beginning of value".replace('"', "'")
    return f"invalid character {char!r} after object key:value pair".replace('"', "'")
