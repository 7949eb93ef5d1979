"""TaskGroup.Validate: names, counts, policies, volumes, services, scaling, then each task.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.validate.later import group_disconnect_errors
from reconciler.jobspec.validate.multiregion import multiregion_regions
from reconciler.jobspec.validate.networks import network_errors
from reconciler.jobspec.validate.placement import placement_errors, spread_errors
from reconciler.jobspec.validate.policies import (
    validate_migrate,
    validate_reschedule,
    validate_restart,
    validate_update,
)
from reconciler.jobspec.validate.service_lists import (
    script_checks_without_task,
    validate_group_services,
)
from reconciler.jobspec.validate.target import Target
from reconciler.jobspec.validate.task import validate_task
from reconciler.jobspec.validate.texts import format_validation_errors, go_quote, nest
from reconciler.jobspec.validate.volumes import volume_errors

MIN_DISK_MB = 10  # EphemeralDisk.Validate


def validate_group(group: dict[str, Any], job: dict[str, Any], target: Target) -> list[str]:
    errs: list[str] = []
    job_type = job.get("Type", "")
    name = group.get("Name", "")
    if not name:
        errs.append("Missing task group name")
    elif "\0" in name:
        errs.append("Task group name contains null character")
    if group.get("Count", 0) < 0:
        errs.append("Task group count can't be negative")
    tasks: list[dict[str, Any]] = group.get("Tasks") or []
    if not tasks:
        errs.append("Missing tasks for task group")
    disconnect_errs, stop = group_disconnect_errors(group, job_type, target)
    errs += disconnect_errs
    if stop:
        return errs
    errs += placement_errors(group, job_type, target)

    def sub(inner: list[str]) -> None:
        # From 1.8.0 TaskGroup.Validate appends with multierror.Append, which
        # flattens a sub-validator's errors into the group's (structs.go v1.8.0).
        if target.at_least(1, 8, 0):
            errs.extend(inner)
        else:
            nest(errs, inner)

    sub(validate_restart(group.get("RestartPolicy")))
    errs += spread_errors(group, job_type, target)
    reschedule = group.get("ReschedulePolicy")
    if job_type == "system":
        if reschedule:
            errs.append("System jobs should not have a reschedule policy")
    elif reschedule:
        # no policy at all (unknown job type) is not an error: 10-invalid-registrations
        sub(validate_reschedule(reschedule))
    disk_mb = int((group.get("EphemeralDisk") or {}).get("SizeMB") or 0)
    if disk_mb < MIN_DISK_MB:  # EphemeralDisk.Validate: a plain error, not nested
        errs.append(f"minimum DiskMB value is {MIN_DISK_MB}; got {disk_mb}")

    update = group.get("Update")
    if update:
        if job_type not in ("service", "system"):
            errs.append(f"Job type {go_quote(job_type)} does not allow update block")
        sub(validate_update(update))
    migrate = group.get("Migrate")
    if job_type == "service":
        if migrate:
            sub(validate_migrate(migrate))
    elif migrate:
        errs.append(f"Job type {go_quote(job_type)} does not allow migrate block")

    seen: dict[str, int] = {}
    leaders = 0
    for index, task in enumerate(tasks):
        task_name = task.get("Name", "")
        if not task_name:
            errs.append(f"Task {index + 1} missing name")
        elif task_name in seen:
            errs.append(f"Task {index + 1} redefines '{task_name}' from task {seen[task_name] + 1}")
        else:
            seen[task_name] = index
        if task.get("Leader"):
            leaders += 1
    if leaders > 1:
        errs.append("Only one task may be marked as leader")

    volumes: Mapping[str, Any] = group.get("Volumes") or {}
    errs += volume_errors(group, job_type, target)

    network_errs = network_errors(group)
    if network_errs:
        errs.append(
            "Task group network validation failed: " + format_validation_errors(network_errs)
        )
    service_errs = validate_group_services(group, target)
    if service_errs:
        errs.append(
            "Task group service validation failed: " + format_validation_errors(service_errs)
        )
    script_errs = script_checks_without_task(group)
    if script_errs:
        errs.append(
            "Task group service check validation failed: " + format_validation_errors(script_errs)
        )
    scaling_errs = validate_scaling(group, job)
    if scaling_errs:
        errs.append(
            "Task group scaling policy validation failed: " + format_validation_errors(scaling_errs)
        )

    for task in tasks:
        task_name = task.get("Name", "")
        for index, mount in enumerate(task.get("VolumeMounts") or []):
            volume = mount.get("Volume", "")
            if not volume:
                errs.append(
                    f"Task {task_name} has a volume mount ({index}) referencing an empty volume"
                )
            elif volume not in volumes:
                errs.append(
                    f"Task {task_name} has a volume mount ({index}) referencing undefined volume {volume}"
                )
        task_errs = validate_task(task, group=group, job_type=job_type, target=target)
        if task_errs:
            errs.append(
                f"Task {task_name} validation failed: " + format_validation_errors(task_errs)
            )
    return errs

def validate_scaling(group: Mapping[str, Any], job: Mapping[str, Any]) -> list[str]:
    scaling = group.get("Scaling")
    if not scaling:
        return []
    policy: list[str] = []
    low, high = scaling.get("Min", 0), scaling.get("Max", 0)
    if high < 0:
        policy.append("maximum count must be specified and non-negative")
    elif high < low:
        policy.append("maximum count must not be less than minimum count")
    if low < 0:
        policy.append("minimum count must be specified and non-negative")
    errs = [f"Scaling policy invalid: {problem}" for problem in policy]
    count = group.get("Count", 0)
    if high < count:
        errs.append(
            "Scaling policy invalid: task group count must not be greater than maximum count "
            "in scaling policy"
        )
    # a multiregion job's group may leave its count to the regions (structs.go v1.0.18)
    regions_decide = bool(multiregion_regions(job)) and count == 0 and job.get("Region") == "global"
    if count < low and not regions_decide:
        errs.append(
            "Scaling policy invalid: task group count must not be less than minimum count "
            "in scaling policy"
        )
    return errs
