"""Job.Validate: the job's own fields, then each group; parameterized jobs.

Pure.  ``validate_job`` is the package's entry point (see ``__init__``).  Rules
that differ between releases name the tag of nomad/structs/structs.go (or the
admission hook, nomad/job_endpoint_hooks.go) where they changed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from reconciler.jobspec.canonical import canonicalize
from reconciler.jobspec.validate.connect import attach_connect
from reconciler.jobspec.validate.connect_hooks import mutate_job
from reconciler.jobspec.validate.connect_validators import hook_errors
from reconciler.jobspec.validate.group import validate_group
from reconciler.jobspec.validate.later import (
    attach_disconnect,
    checks_stop_after_client_disconnect,
    ui_errors,
)
from reconciler.jobspec.validate.multiregion import multiregion_errors, multiregion_regions
from reconciler.jobspec.validate.periodic import validate_periodic
from reconciler.jobspec.validate.placement import placement_errors
from reconciler.jobspec.validate.target import OLDEST, Target, Version
from reconciler.jobspec.validate.texts import ValidationResult, format_validation_errors, go_quote
from reconciler.jobspec.validate.volumes import drop_unknown_volumes
from reconciler.jobspec.validate.warnings import job_warnings

JOB_TYPES = ("service", "batch", "system", "_core")
SYSBATCH = "sysbatch"  # a job type from 1.2.0 (structs.go v1.2.0)


def validate_job(
    job: Mapping[str, Any],
    *,
    version: Version = OLDEST,
    time_zones: Collection[str] | None = None,
    volume_rules: Version | None = None,
) -> ValidationResult:
    """Nomad's verdict on ``job`` (API JSON, as ``nomad job run -output`` prints it).

    ``version``: the Nomad release whose rules apply; ``time_zones``: the IANA
    zone names the server's host knows (``None``: a periodic ``time_zone`` is
    only checked for its form); ``volume_rules``: check volume requests as this
    release does instead (the Nomad fake keeps 1.0's, see its ``validate``).
    """
    target = Target(version=version, time_zones=time_zones, volume_rules=volume_rules)
    try:
        canonical = canonicalize(job)
        if target.at_least(1, 5, 0) and not canonical.get("Datacenters"):
            canonical["Datacenters"] = ["*"]  # Job.Canonicalize, structs.go v1.5.0
        for group in canonical.get("TaskGroups") or []:
            drop_unknown_volumes(group)
        attach_connect(job, canonical)
        attach_disconnect(job, canonical)
        # The connect and expose-check hooks as 1.0 runs them; they change in every later
        # minor release (network modes, upstreams ...): past 1.0 only their known parts.
        native_only = target.at_least(1, 1, 0)
        refusal = mutate_job(canonical, native_only=native_only)
        if refusal is not None:
            return ValidationResult(errors=(refusal,), refused=True)
        errors = hook_errors(canonical, target) + job_errors(canonical, target)
        warnings = job_warnings(canonical)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        # Wrong JSON types: Nomad would refuse to decode the body at all.
        return ValidationResult(errors=(f"job does not match Nomad's job structure: {exc}",))
    return ValidationResult(errors=tuple(errors), warnings=tuple(warnings))




def job_errors(job: dict[str, Any], target: Target) -> list[str]:
    errs: list[str] = []
    job_type = job.get("Type", "")
    job_id = str(job.get("ID", ""))
    if not job.get("Region") and not job.get("Multiregion"):
        errs.append("Missing job region")
    if not job_id:
        errs.append("Missing job ID")
    elif " " in job_id:
        errs.append("Job ID contains a space")
    elif "\0" in job_id:
        errs.append("Job ID contains a null character")
    name = str(job.get("Name", ""))
    if not name:
        errs.append("Missing job name")
    elif "\0" in name:
        errs.append("Job Name contains a null character")
    if not job.get("Namespace"):
        errs.append("Job must be in a namespace")
    if job_type == "":
        errs.append("Missing job type")
    elif job_type not in JOB_TYPES and not (job_type == SYSBATCH and target.at_least(1, 2, 0)):
        errs.append(f"Invalid job type: {go_quote(job_type)}")
    priority = job.get("Priority", 0)
    # From 1.5.0 the admission hook checks the priority, after Job.Validate (below).
    if not 1 <= priority <= 100 and not target.at_least(1, 5, 0):
        errs.append("Job priority must be between [1, 100]")
    datacenters = job.get("Datacenters") or []
    if not datacenters and not multiregion_regions(job):
        errs.append("Missing job datacenters")
    else:
        errs += ["Job datacenter must be non-empty string" for dc in datacenters if dc == ""]
    groups: list[dict[str, Any]] = job.get("TaskGroups") or []
    if not groups:
        errs.append("Missing job task groups")
    errs += placement_errors(job, job_type, target)
    errs += ui_errors(job, target)

    seen: dict[str, int] = {}
    for index, group in enumerate(groups):
        group_name = group.get("Name", "")
        if not group_name:
            errs.append(f"Job task group {index + 1} missing name")
        elif group_name in seen:
            errs.append(
                f"Job task group {index + 1} redefines '{group_name}' from group {seen[group_name] + 1}"
            )
        else:
            seen[group_name] = index
        if (group.get("ShutdownDelay") or 0) < 0:
            errs.append("ShutdownDelay must be a positive value")
        stop_after = group.get("StopAfterClientDisconnect") or 0
        if not checks_stop_after_client_disconnect(target):
            stop_after = 0
        if stop_after > 0 and job_type not in ("batch", "service"):
            errs.append("stop_after_client_disconnect can only be set in batch and service jobs")
        elif stop_after < 0:
            errs.append("stop_after_client_disconnect must be a positive value")
        if job_type == "system" and group.get("Count", 0) > 1:
            errs.append(
                f"Job task group {group_name} has count {group['Count']}. "
                "Count cannot exceed 1 with system scheduler"
            )
    for group in groups:
        group_errs = validate_group(group, job, target)
        if group_errs:
            errs.append(
                f"Task group {group.get('Name', '')} validation failed: "
                + format_validation_errors(group_errs)
            )

    # From 1.2.0 sysbatch jobs may be periodic or parameterized too (structs.go v1.2.0).
    batch_types = ("batch", SYSBATCH) if target.at_least(1, 2, 0) else ("batch",)
    batch_only = " or ".join(f'"{name}"' for name in batch_types)
    periodic = job.get("Periodic")
    if periodic and periodic.get("Enabled"):
        if job_type not in batch_types:
            errs.append(f"Periodic can only be used with {batch_only} scheduler")
        periodic_errs = validate_periodic(periodic, target)
        if periodic_errs:
            errs.append(format_validation_errors(periodic_errs))
    parameterized = job.get("ParameterizedJob")
    if parameterized is not None:
        if job_type not in batch_types:
            errs.append(f"Parameterized job can only be used with {batch_only} scheduler")
        parameterized_errs = validate_parameterized(parameterized)
        if parameterized_errs:
            errs.append(format_validation_errors(parameterized_errs))
    errs += multiregion_errors(job)
    if target.at_least(1, 5, 0):
        # jobValidate.Validate (nomad/job_endpoint_hooks.go v1.5.0), after Job.Validate;
        # the maximum is the server's job_max_priority, 100 unless configured.
        if job_type == "_core":
            errs.append("job type cannot be core")
        if not 1 <= priority <= 100:
            errs.append("job priority must be between [1, 100]")
    return errs

def validate_parameterized(parameterized: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    payload = parameterized.get("Payload", "")
    if payload not in ("optional", "required", "forbidden"):
        errs.append(f"Unknown payload requirement: {go_quote(payload)}")
    required = set(parameterized.get("MetaRequired") or [])
    # helper.SliceSetDisjoint: Nomad lists the keys from a Go map (random order when
    # several); here in the order meta_optional gives them.
    both = list(dict.fromkeys(k for k in parameterized.get("MetaOptional") or [] if k in required))
    if both:
        errs.append(
            "Required and optional meta keys should be disjoint. Following keys exist in both: "
            f"[{' '.join(both)}]"
        )
    return errs
