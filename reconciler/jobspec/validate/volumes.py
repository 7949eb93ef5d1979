"""A group's volume requests (``volume "x" { type = "csi" ... }``), per Nomad release.

Pure.  Nomad 1.0 checks only a request's type and source, in ``TaskGroup.Validate``
(structs.go v1.0.18).  From 1.1.0 ``VolumeRequest.Validate`` (nomad/structs/volumes.go)
checks access and attachment modes, read-only-ness and ``per_alloc``; its rules
changed in minor *and* patch releases (fixes were backported), so each variant
below names the releases that ship it, as read from volumes.go at each tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.validate.target import Target, Version
from reconciler.jobspec.validate.texts import format_validation_errors

#: (first release, variant); a release uses the last entry at or below it.
VARIANTS: tuple[tuple[Version, str], ...] = (
    ((1, 0, 0), "1.0"),
    ((1, 1, 0), "1.1.0"),
    ((1, 1, 1), "1.2"),  # v1.1.1 to v1.1.12, v1.2.0 to v1.2.6
    ((1, 1, 13), "1.3"),  # v1.1.13 to v1.1.18, v1.2.7+, v1.3.0 to v1.3.9, v1.4.0 to v1.4.4
    ((1, 2, 0), "1.2"),
    ((1, 2, 7), "1.3"),
    ((1, 3, 10), "1.3-system"),  # v1.3.10+, v1.4.5+: per_alloc refused for system jobs
    ((1, 4, 0), "1.3"),
    ((1, 4, 5), "1.3-system"),
    ((1, 5, 0), "1.5"),  # v1.5.0 to v1.9.x
    ((1, 10, 0), "1.10"),  # v1.10.0 to v1.11.0: host access modes, sticky
    ((1, 11, 1), "1.11"),  # v1.11.1, v2.0.x: the host access mode named in its message
)

READER_MODES = ("single-node-reader-only", "multi-node-reader-only")
HOST_ACCESS_MODES = ("", "single-node-writer", "single-node-single-writer", "single-node-multi-writer")


def drop_unknown_volumes(group: dict[str, Any]) -> None:
    """The HTTP API drops volume requests of a type other than host and csi before
    validating (``ApiTgToStructsTG``, command/agent/job_endpoint.go v1.0.18 to v2.0.x),
    so Nomad never reports their type; a mount of one is a mount of an undefined volume."""
    volumes = group.get("Volumes")
    if isinstance(volumes, dict):
        group["Volumes"] = {
            name: volume
            for name, volume in volumes.items()
            if isinstance(volume, dict) and volume.get("Type") in ("host", "csi")
        }


def variant_for(version: Version) -> str:
    return [name for since, name in VARIANTS if since <= version][-1]


def volume_errors(group: Mapping[str, Any], job_type: str, target: Target) -> list[str]:
    """The items a group's volumes add to its ``TaskGroup.Validate`` multierror."""
    variant = variant_for(target.volume_version)
    volumes: Mapping[str, Any] = group.get("Volumes") or {}
    errs: list[str] = []
    if variant == "1.0":
        for name, volume in volumes.items():
            if volume.get("Type") not in ("host", "csi"):
                errs.append(f"Volume {name} has unrecognised type {volume.get('Type', '')}")
            elif not volume.get("Source"):
                errs.append(f"Volume {name} has an empty source")
        return errs
    canaries = int((group.get("Update") or {}).get("Canary") or 0)
    count = int(group.get("Count") or 0)
    for name, volume in volumes.items():
        head = f"Task group volume validation for {name} failed: "
        kind = volume.get("Type", "")
        if kind not in ("host", "csi"):
            errs.append(f"{head}volume has unrecognized type {kind}")
            continue
        problems = _request_errors(volume, variant, job_type=job_type, count=count, canaries=canaries)
        if problems:
            errs.append(head + format_validation_errors(problems))
    return errs


def _request_errors(
    volume: Mapping[str, Any], variant: str, *, job_type: str, count: int, canaries: int
) -> list[str]:
    kind = volume.get("Type", "")
    access = str(volume.get("AccessMode") or "")
    attachment = str(volume.get("AttachmentMode") or "")
    read_only = bool(volume.get("ReadOnly"))
    per_alloc = bool(volume.get("PerAlloc"))
    has_mount_options = volume.get("MountOptions") is not None
    host, csi = kind == "host", kind == "csi"
    errs: list[str] = []
    if variant in ("1.1.0", "1.2"):
        if host and attachment:
            errs.append("host volumes cannot have an attachment mode")
        if host and access:
            errs.append("host volumes cannot have an access mode")
        if variant == "1.2":
            if host and has_mount_options:
                errs.append("host volumes cannot have mount options")
            if csi and not attachment:
                errs.append("CSI volumes must have an attachment mode")
            if csi and not access:
                errs.append("CSI volumes must have an access mode")
        if access in READER_MODES and not read_only:
            errs.append(f"{access} volumes must be read-only")
        if attachment == "block-device" and has_mount_options:
            errs.append("block devices cannot have mount options")
        if per_alloc and canaries > 0:
            errs.append("volume cannot be per_alloc when canaries are in use")
        if not volume.get("Source"):
            errs.append("volume has an empty source")
        return errs

    if not volume.get("Source"):
        errs.append("volume has an empty source")
    system = job_type in ("system", "sysbatch")
    if variant in ("1.5", "1.10", "1.11") and per_alloc:
        if system:
            errs.append("volume cannot be per_alloc for system or sysbatch jobs")
        if canaries > 0:
            errs.append("volume cannot be per_alloc when canaries are in use")
        if variant != "1.5" and volume.get("Sticky"):
            errs.append("volume cannot be per_alloc and sticky at the same time")
    if host:
        if variant in ("1.10", "1.11"):
            if has_mount_options:
                errs.append("host volumes cannot have mount options")
            if access == "single-node-reader-only":
                if not read_only:
                    errs.append(f"{access} volumes must be read-only")
            elif access not in HOST_ACCESS_MODES:
                # v1.10.0 to v1.11.0 forgot the argument: Go prints %!s(MISSING)
                shown = access if variant == "1.11" else "%!s(MISSING)"
                errs.append(f"host volumes cannot be mounted with {shown} access mode")
            return errs
        if attachment:
            errs.append("host volumes cannot have an attachment mode")
        if access:
            errs.append("host volumes cannot have an access mode")
        if has_mount_options:
            errs.append("host volumes cannot have mount options")
        if variant in ("1.3", "1.3-system") and per_alloc:
            errs.append("host volumes do not support per_alloc")
        return errs
    if not attachment:
        errs.append("CSI volumes must have an attachment mode")
    elif attachment == "block-device" and has_mount_options:
        errs.append("block devices cannot have mount options")
    shared = count > 1 and not per_alloc
    if not access:
        errs.append("CSI volumes must have an access mode")
    elif access == "single-node-reader-only":
        if not read_only:
            errs.append(f"{access} volumes must be read-only")
        if shared:
            errs.append(f"volume with {access} access mode allows only one reader")
    elif access == "single-node-writer":
        if shared:
            errs.append(f"volume with {access} access mode allows only one reader or writer")
    elif access == "multi-node-reader-only":
        if not read_only:
            errs.append(f"{access} volumes must be read-only")
    elif access == "multi-node-single-writer" and not read_only and shared:
        errs.append(f"volume with {access} access mode allows only one writer")
    if variant in ("1.3", "1.3-system") and per_alloc:
        if variant == "1.3-system" and system:
            errs.append("volume cannot be per_alloc for system or sysbatch jobs")
        if canaries > 0:
            errs.append("volume cannot be per_alloc when canaries are in use")
    return errs
