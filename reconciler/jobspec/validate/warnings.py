"""Job.Warnings: what validate and register answer besides errors.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.validate.multiregion import multiregion_regions
from reconciler.jobspec.validate.texts import format_validation_errors, go_quote, prefixed


def job_warnings(job: Mapping[str, Any]) -> list[str]:
    warnings: list[str] = []
    groups = job.get("TaskGroups") or []
    for group in groups:
        group_warnings = _group_warnings(group, multiregion=bool(multiregion_regions(job)))
        if group_warnings:
            warnings.append(
                f"Group {go_quote(group.get('Name', ''))} has warnings: "
                + format_validation_errors(group_warnings)
            )
    # Auto-promotion happens only when every group with canaries promotes
    # itself; groups without canaries do not count (12-update-strategies
    # mixes them and Nomad 1.0.18 did not warn).
    updates = [group.get("Update") or {} for group in groups]
    promoting = any(u.get("AutoPromote") for u in updates)
    manual = any(u.get("Canary", 0) > 0 and not u.get("AutoPromote") for u in updates)
    if promoting and manual:
        warnings.append("auto_promote must be true for all groups to enable automatic promotion")
    return warnings


def _group_warnings(group: Mapping[str, Any], *, multiregion: bool) -> list[str]:
    warnings: list[str] = []
    update = group.get("Update")
    count = group.get("Count", 0)
    # a multiregion job's group may leave its count to the regions (structs.go v1.0.18)
    if update and update.get("MaxParallel", 0) > count and not (multiregion and count == 0):
        warnings.append(
            "Update max parallel count is greater than task group count "
            f"({update['MaxParallel']} > {count}). A destructive change would result in the "
            "simultaneous replacement of all allocations."
        )
    for task in group.get("Tasks") or []:
        task_warnings = _task_warnings(task)
        if task_warnings:
            warnings.append(prefixed(task_warnings, f"Task {go_quote(task.get('Name', ''))}:"))
    return warnings


def _task_warnings(task: Mapping[str, Any]) -> list[str]:
    warnings: list[str] = []
    resources = task.get("Resources") or {}
    if resources.get("IOPS", 0):
        warnings.append(
            "IOPS has been deprecated as of Nomad 0.9.0. Please remove IOPS from resource stanza."
        )
    if resources.get("Networks"):
        warnings.append(
            "task network resources have been deprecated as of Nomad 0.12.0. "
            "Please configure networking via group network block."
        )
    for index, template in enumerate(task.get("Templates") or []):
        if template.get("VaultGrace", 0):
            warnings.append(
                prefixed(
                    [
                        "VaultGrace has been deprecated as of Nomad 0.11 and ignored since "
                        "Vault 0.5. Please remove VaultGrace / vault_grace from template stanza."
                    ],
                    f"Template[{index}]",
                )
            )
    return warnings
