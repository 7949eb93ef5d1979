"""Task.Validate: resources, logs, placement, artifacts, vault, templates, lifecycle.

Pure.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.validate.connect import PROXY_PREFIX, has_sidecar, task_kind_value
from reconciler.jobspec.validate.later import action_errors
from reconciler.jobspec.validate.placement import (
    placement_errors,
    validate_affinity,
    validate_constraint,
)
from reconciler.jobspec.validate.service_lists import validate_task_services
from reconciler.jobspec.validate.target import Target
from reconciler.jobspec.validate.texts import format_validation_errors, go_quote, nest

MIN_CPU = 1  # structs.MinResources
MIN_MEMORY_MB = 10




def validate_task(
    task: Mapping[str, Any], *, group: Mapping[str, Any], job_type: str, target: Target
) -> list[str]:
    errs: list[str] = []
    name = str(task.get("Name", ""))
    if not name:
        errs.append("Missing task name")
    if "/" in name or "\\" in name:
        errs.append("Task name cannot include slashes")
    elif "\0" in name:
        errs.append("Task name cannot include null characters")
    if not task.get("Driver"):
        errs.append("Missing task driver")
    if task.get("KillTimeout", 0) < 0:
        errs.append("KillTimeout must be a positive value")
    if task.get("ShutdownDelay", 0) < 0:
        errs.append("ShutdownDelay must be a positive value")
    # Resources.Validate: its MeetsMinResources multierror is one item of its own
    # multierror (nomad/structs/structs.go v1.0.18).  No "Task can't ask for disk
    # resources": the HTTP API drops a task's DiskMB before validating
    # (ApiResourcesToStructs in command/agent/job_endpoint.go), so Nomad never says it.
    resources = task.get("Resources") or {}
    minimum = []
    cpu, memory = int(resources.get("CPU") or 0), int(resources.get("MemoryMB") or 0)
    if cpu < MIN_CPU:
        minimum.append(f"minimum CPU value is {MIN_CPU}; got {cpu}")
    if memory < MIN_MEMORY_MB:
        minimum.append(f"minimum MemoryMB value is {MIN_MEMORY_MB}; got {memory}")
    resource_errs = [format_validation_errors(minimum)] if minimum else []
    for index, device in enumerate(resources.get("Devices") or []):
        device_errs = validate_device(device)
        if device_errs:
            resource_errs.append(
                f"device {index + 1} failed validation: " + format_validation_errors(device_errs)
            )
    nest(errs, resource_errs)
    log_config = task.get("LogConfig") or {}
    log_errs = []
    if log_config.get("MaxFiles", 0) < 1:
        log_errs.append(f"minimum number of files is 1; got {log_config.get('MaxFiles', 0)}")
    if log_config.get("MaxFileSizeMB", 0) < 1:
        log_errs.append(f"minimum file size is 1MB; got {log_config.get('MaxFileSizeMB', 0)}")
    nest(errs, log_errs)

    for index, constraint in enumerate(task.get("Constraints") or []):
        constraint_errs = validate_constraint(constraint)
        if constraint_errs:
            errs.append(
                f"Constraint {index + 1} validation failed: "
                + format_validation_errors(constraint_errs)
            )
        if constraint.get("Operand") in ("distinct_hosts", "distinct_property"):
            errs.append(
                f"Constraint {index + 1} has disallowed Operand at task level: {constraint['Operand']}"
            )
    errs += placement_errors({"Affinities": task.get("Affinities")}, job_type, target)
    nest(errs, validate_task_services(task, list(group.get("Networks") or []), target))

    disk = (group.get("EphemeralDisk") or {}).get("SizeMB", 0)
    log_usage = log_config.get("MaxFiles", 0) * log_config.get("MaxFileSizeMB", 0)
    if disk <= log_usage:
        errs.append(
            f"log storage ({log_usage} MB) must be less than requested disk capacity ({disk} MB)"
        )
    for index, artifact in enumerate(task.get("Artifacts") or []):
        artifact_errs = validate_artifact(artifact)
        if artifact_errs:
            errs.append(
                f"Artifact {index + 1} validation failed: "
                + format_validation_errors(artifact_errs)
            )
    vault = task.get("Vault")
    if vault:
        vault_errs = validate_vault(vault)
        if vault_errs:
            errs.append("Vault validation failed: " + format_validation_errors(vault_errs))
    destinations: dict[str, int] = {}
    for index, template in enumerate(task.get("Templates") or []):
        template_errs = validate_template(template)
        if template_errs:
            errs.append(
                f"Template {index + 1} validation failed: "
                + format_validation_errors(template_errs)
            )
        destination = template.get("DestPath", "")
        if destination in destinations:
            errs.append(f"Template {index + 1} has same destination as {destinations[destination]}")
        else:
            destinations[destination] = index + 1
    errs += action_errors(task, target)
    payload = task.get("DispatchPayload")
    if payload and path_escapes_alloc_dir("", payload.get("File", "")):
        errs.append(
            "Dispatch Payload validation failed: "
            + format_validation_errors(["dispatch payload escapes allocation directory"])
        )
    lifecycle = task.get("Lifecycle")
    if lifecycle:
        hook = lifecycle.get("Hook", "")
        if hook == "":
            errs.append("Lifecycle validation failed: no lifecycle hook provided")
        elif hook not in ("prestart", "poststart", "poststop"):
            errs.append(f"Lifecycle validation failed: invalid hook: {hook}")
    errs += connect_proxy_errors(task, group)
    for index, mount in enumerate(task.get("VolumeMounts") or []):
        mode = mount.get("PropagationMode", "")
        if mode not in ("", "private", "host-to-task", "bidirectional"):
            errs.append(f'Volume Mount ({index}) has an invalid propagation mode: "{mode}"')
    errs += csi_plugin_errors(task)
    return errs

def connect_proxy_errors(task: Mapping[str, Any], group: Mapping[str, Any]) -> list[str]:
    """A task of kind ``connect-proxy:<service>`` (injected, or written by hand) must
    serve a sidecar service of its group (Task.Validate, structs.go v1.0.18)."""
    service = task_kind_value(str(task.get("Kind") or ""), PROXY_PREFIX)
    if service is None:
        return []
    errs: list[str] = []
    if task.get("Services"):
        errs.append("Connect proxy task must not have a service stanza")
    if task.get("Leader"):
        errs.append("Connect proxy task must not have leader set")
    names: list[str] = []
    for candidate in group.get("Services") or []:
        if not has_sidecar(candidate.get("Connect")):
            continue
        if candidate.get("Name") == service:
            return errs
        names.append(str(candidate.get("Name", "")))
    if not names:
        errs.append(f"No Connect services in task group with Connect proxy ({go_quote(service)})")
    else:
        errs.append(
            f"Connect proxy service name ({go_quote(service)}) not found in Connect services "
            f"from task group: [{' '.join(names)}]"
        )
    return errs


def validate_device(device: Mapping[str, Any]) -> list[str]:
    """RequestedDevice.Validate (structs.go v1.0.18 to v2.0.x): a name, and its own
    constraints (no ``distinct_*``) and affinities.  The name's ``vendor/type/name``
    pieces are only read when placing, never validated."""
    errs: list[str] = []
    if not device.get("Name"):
        errs.append(
            "device name must be given as one of the following: type, vendor/type, "
            "or vendor/type/name"
        )
    for index, constraint in enumerate(device.get("Constraints") or []):
        operand = constraint.get("Operand", "")
        if operand in ("distinct_hosts", "distinct_property"):
            errs.append(
                f"Constraint {index + 1} validation failed: using unsupported operand "
                f"{go_quote(operand)}"
            )
            continue
        constraint_errs = validate_constraint(constraint)
        if constraint_errs:
            errs.append(
                f"Constraint {index + 1} validation failed: "
                + format_validation_errors(constraint_errs)
            )
    for index, affinity in enumerate(device.get("Affinities") or []):
        affinity_errs = validate_affinity(affinity)
        if affinity_errs:
            errs.append(
                f"Affinity {index + 1} validation failed: " + format_validation_errors(affinity_errs)
            )
    return errs


def validate_artifact(artifact: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    if not artifact.get("GetterSource"):
        errs.append("source must be specified")
    mode = artifact.get("GetterMode", "")
    if mode not in ("", "any", "file", "dir"):
        errs.append(f"invalid artifact mode {go_quote(mode)}; must be one of: any, file, dir")
    if path_escapes_alloc_dir("task", artifact.get("RelativeDest", "")):
        errs.append("destination escapes allocation directory")
    options = artifact.get("GetterOptions") or {}
    if "checksum" in options:
        problem = checksum_problem(str(options["checksum"]))
        if problem:
            errs.append(problem)
    return errs


_CHECKSUM_SIZES = {"md5": 16, "sha1": 20, "sha256": 32, "sha512": 64}  # bytes
_ENV_REFERENCE = re.compile(r"\$\{[a-zA-Z0-9_\-\.]+\}")  # args.ContainsEnv (helper/args)


def checksum_problem(checksum: str) -> str | None:
    """TaskArtifact.validateChecksum (structs.go v1.0.18, the same to v2.0.x): the
    ``checksum`` option in go-getter's ``type:value`` form, the value in hex."""
    if _ENV_REFERENCE.search(checksum):
        return None  # interpolated at run time
    checksum = checksum.strip()  # strings.TrimSpace
    if not checksum:
        return "checksum value cannot be empty"
    parts = checksum.split(":")
    if len(parts) != 2:
        return f'checksum must be given as "type:value"; got {go_quote(checksum)}'
    kind, value = parts
    problem = _hex_problem(value)
    if problem:
        return f"invalid checksum: {problem}"
    if kind not in _CHECKSUM_SIZES:
        return f"unsupported checksum type: {kind}"
    if len(value) // 2 != _CHECKSUM_SIZES[kind]:
        return f"invalid {kind} checksum: {value}"
    return None


def _hex_problem(value: str) -> str | None:
    """Go's hex.DecodeString error: the first bad byte (pairwise), else an odd length."""
    data = value.encode()
    for index in range(0, len(data) - 1, 2):
        for byte in data[index : index + 2]:
            if chr(byte) not in "0123456789abcdefABCDEF":
                return f"encoding/hex: invalid byte: {_go_unicode(byte)}"
    if len(data) % 2:
        if chr(data[-1]) not in "0123456789abcdefABCDEF":
            return f"encoding/hex: invalid byte: {_go_unicode(data[-1])}"
        return "encoding/hex: odd length hex string"
    return None


def _go_unicode(byte: int) -> str:
    """Go's ``%#U`` of a byte taken as a rune: ``U+0078 'x'`` (no character if unprintable)."""
    char = chr(byte)
    return f"U+{byte:04X} '{char}'" if char.isprintable() else f"U+{byte:04X}"


def csi_plugin_errors(task: Mapping[str, Any]) -> list[str]:
    """Task.Validate's csi_plugin checks (structs.go v1.0.18)."""
    plugin = task.get("CSIPluginConfig")
    if plugin is None:
        return []
    errs = []
    if not plugin.get("ID"):
        errs.append("CSIPluginConfig must have a non-empty PluginID")
    kind = plugin.get("Type") or ""
    if kind not in ("node", "controller", "monolith"):
        errs.append(
            "CSIPluginConfig PluginType must be one of 'node', 'controller', or 'monolith', "
            f'got: "{kind}"'
        )
    return errs


def validate_vault(vault: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    policies = vault.get("Policies") or []
    if not policies:
        errs.append("Policy list cannot be empty")
    if "root" in policies:
        errs.append('Can not specify "root" policy')
    mode = vault.get("ChangeMode", "")
    if mode == "signal":
        if not vault.get("ChangeSignal"):
            errs.append(f'Signal must be specified when using change mode "{mode}"')
    elif mode not in ("noop", "restart"):
        errs.append(f"Unknown change mode {go_quote(mode)}")
    return errs


def validate_template(template: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    if not template.get("SourcePath") and not template.get("EmbeddedTmpl"):
        errs.append("Must specify a source path or have an embedded template")
    destination = template.get("DestPath", "")
    if not destination:
        errs.append("Must specify a destination for the template")
    if path_escapes_alloc_dir("task", destination):
        errs.append("destination escapes allocation directory")
    mode = template.get("ChangeMode", "")
    if mode == "signal":
        if not template.get("ChangeSignal"):
            errs.append("Must specify signal value when change mode is signal")
        if template.get("Envvars"):
            errs.append("cannot use signals with env var templates")
    elif mode not in ("noop", "restart"):
        errs.append("Invalid change mode. Must be one of the following: noop, signal, restart")
    if template.get("Splay", 0) < 0:
        errs.append("Must specify positive splay value")
    perms = template.get("Perms", "")
    if perms and not re.fullmatch(r"[0-7]{1,4}", str(perms)):
        errs.append(
            f'Failed to parse "{perms}" as octal: strconv.ParseUint: parsing "{perms}": invalid syntax'
        )
    return errs


def path_escapes_alloc_dir(prefix: str, path: str) -> bool:
    """Nomad's ``PathEscapesAllocDir``: does ``path`` (relative to the task dir) leave the alloc dir?"""
    if not path:
        return False
    # Go's filepath.Join does not restart at an absolute path: "/etc" stays inside.
    root = "/alloc-root"
    joined = posixpath.normpath(f"{root}/{prefix}/{path}")
    return joined != root and not joined.startswith(root + "/")
