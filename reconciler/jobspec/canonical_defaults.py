"""The values Nomad 1.0.18 fills into a job it reads back: zero values and defaults.

Pure data for ``canonical``: the non-pointer fields of Nomad's api structs
(a JSON job that omits them still reads back with their zero value) and the
defaults of ``api.Job.Canonicalize``, the api→struct conversion and the
server's ``Job.Canonicalize`` (Nomad 1.0.18).  Durations are integer
nanoseconds, as in Nomad's API JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
# Non-pointer fields of Nomad's api structs: a JSON job that omits them still
# reads back with their zero value.
ZERO_TASK: Mapping[str, Any] = {
    "User": "",
    "Leader": False,
    "ShutdownDelay": 0,
    "KillSignal": "",
    "Kind": "",
}
# MBits: a pointer in the api (left nil for group networks), an int in the struct.
ZERO_NETWORK: Mapping[str, Any] = {"Mode": "", "Device": "", "CIDR": "", "IP": "", "MBits": 0}
ZERO_PORT: Mapping[str, Any] = {"Label": "", "Value": 0, "To": 0, "HostNetwork": ""}
DEFAULT_HOST_NETWORK = "default"
ZERO_SERVICE: Mapping[str, Any] = {"EnableTagOverride": False, "TaskName": "", "PortLabel": ""}
ZERO_CHECK: Mapping[str, Any] = {
    "Type": "",
    "Command": "",
    "Path": "",
    "Protocol": "",
    "PortLabel": "",
    "Expose": False,
    "AddressMode": "",
    "Interval": 0,
    "Timeout": 0,
    "InitialStatus": "",
    "TLSSkipVerify": False,
    "Method": "",
    "GRPCService": "",
    "GRPCUseTLS": False,
    "TaskName": "",
    "SuccessBeforePassing": 0,
    "FailuresBeforeCritical": 0,
}
ZERO_CHECK_RESTART: Mapping[str, Any] = {"Limit": 0, "IgnoreWarnings": False}
ZERO_CONSTRAINT: Mapping[str, Any] = {"LTarget": "", "RTarget": "", "Operand": ""}
ZERO_VOLUME: Mapping[str, Any] = {"Name": "", "Type": "", "Source": "", "ReadOnly": False}

DEFAULT_UPDATE: Mapping[str, Any] = {
    "Stagger": 30 * SECOND,
    "MaxParallel": 1,
    "HealthCheck": "checks",
    "MinHealthyTime": 10 * SECOND,
    "HealthyDeadline": 5 * MINUTE,
    "ProgressDeadline": 10 * MINUTE,
    "AutoRevert": False,
    "AutoPromote": False,
    "Canary": 0,
}
# What the server keeps at job level when the update has no MaxParallel > 0.
ZERO_UPDATE: Mapping[str, Any] = {
    "Stagger": 0,
    "MaxParallel": 0,
    "HealthCheck": "",
    "MinHealthyTime": 0,
    "HealthyDeadline": 0,
    "ProgressDeadline": 0,
    "AutoRevert": False,
    "AutoPromote": False,
    "Canary": 0,
}
SERVICE_RESTART: Mapping[str, Any] = {
    "Attempts": 2,
    "Interval": 30 * MINUTE,
    "Delay": 15 * SECOND,
    "Mode": "fail",
}
BATCH_RESTART: Mapping[str, Any] = {
    "Attempts": 3,
    "Interval": 24 * HOUR,
    "Delay": 15 * SECOND,
    "Mode": "fail",
}
SERVICE_RESCHEDULE: Mapping[str, Any] = {
    "Attempts": 0,
    "Interval": 0,
    "Delay": 30 * SECOND,
    "DelayFunction": "exponential",
    "MaxDelay": HOUR,
    "Unlimited": True,
}
BATCH_RESCHEDULE: Mapping[str, Any] = {
    "Attempts": 1,
    "Interval": 24 * HOUR,
    "Delay": 5 * SECOND,
    "DelayFunction": "constant",
    "MaxDelay": 0,
    "Unlimited": False,
}
DEFAULT_MIGRATE: Mapping[str, Any] = {
    "MaxParallel": 1,
    "HealthCheck": "checks",
    "MinHealthyTime": 10 * SECOND,
    "HealthyDeadline": 5 * MINUTE,
}
# Added by the server to groups with a vault block (nomad/job_endpoint_hooks.go).
VAULT_CONSTRAINT: Mapping[str, Any] = {
    "LTarget": "${attr.vault.version}",
    "RTarget": ">= 0.6.1",
    "Operand": "semver",
}
DEFAULT_EPHEMERAL_DISK: Mapping[str, Any] = {"Sticky": False, "Migrate": False, "SizeMB": 300}
DEFAULT_LOG_CONFIG: Mapping[str, Any] = {"MaxFiles": 10, "MaxFileSizeMB": 10}
