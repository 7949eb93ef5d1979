"""Job validation as the modelled Nomad release answers it, with go-multierror's text.

The project's validator (``reconciler.jobspec.validate``) judges; this module
picks the release's rules and formats the answer.  Pure functions of data.
"""

from __future__ import annotations

from typing import Any

Job = dict[str, Any]


def multierror(errors: list[str]) -> str:
    """go-multierror's text: ``N error(s) occurred:\\n\\t* a\\n\\t* b\\n\\n``."""
    head = "1 error occurred:" if len(errors) == 1 else f"{len(errors)} errors occurred:"
    return head + "".join(f"\n\t* {e}" for e in errors) + "\n\n"


class Refused(str):
    """An admission mutator's refusal (e.g. Connect's): Nomad fails the whole request with
    this text, HTTP 500, on validate as on register and plan (job_endpoint.go v1.0.18)."""


def validate(api_job: Job, version: tuple[int, int, int] = (1, 0, 18)) -> tuple[list[str], list[str]]:
    """(errors, warnings) of Nomad ``version``'s job validation, using the project's validator
    when present (time zones: this host's IANA database, as a server reads its own).

    Volume requests are checked as Nomad 1.0 checks them, whatever the version: the
    recorded corpus the tests sync to every version is 1.0.18's, and its CSI volume
    has no access or attachment mode, which Nomad refuses from 1.1.1 on.  A known
    divergence from later releases (``lint --nomad-version`` applies their rules)."""
    try:
        from reconciler.jobspec.validate import validate_job
    except ImportError:
        return _fallback_validate(api_job), []
    import zoneinfo

    result = validate_job(
        api_job, version=version, time_zones=zoneinfo.available_timezones(), volume_rules=(1, 0, 18)
    )
    if getattr(result, "refused", False):
        return [Refused(result.errors[0])], []
    return list(result.errors), list(result.warnings)


def format_errors(errors: list[str]) -> str:
    if len(errors) == 1 and isinstance(errors[0], Refused):
        return str(errors[0])  # the mutator's own text, no multierror around it
    try:
        from reconciler.jobspec.validate import format_validation_errors
    except ImportError:
        return multierror(errors)
    return str(format_validation_errors(errors))


def format_warnings(warnings: list[str]) -> str:
    try:
        from reconciler.jobspec.validate import format_validation_warnings
    except ImportError:
        return f"{len(warnings)} warning(s):\n" + "".join(f"\n* {w}" for w in warnings) if warnings else ""
    return format_validation_warnings(warnings)


def _fallback_validate(job: Job) -> list[str]:
    """The commonest of Nomad's checks, used only while ``reconciler.jobspec.validate`` is absent."""
    errors: list[str] = []
    if " " in (job.get("ID") or ""):
        errors.append("Job ID contains a space")
    jtype = job.get("Type") or "service"
    if jtype not in ("service", "batch", "system", "sysbatch"):
        errors.append(f'Invalid job type: "{jtype}"')
    priority = job.get("Priority")
    if priority is not None and not 1 <= priority <= 100:
        errors.append("Job priority must be between [1, 100]")
    if not job.get("Datacenters"):
        errors.append("Missing job datacenters")
    groups = job.get("TaskGroups") or []
    if not groups:
        errors.append("Missing job task groups")
    seen: dict[str, int] = {}
    for idx, group in enumerate(groups, start=1):
        name = group.get("Name") or ""
        if name in seen:
            errors.append(f"Job task group {idx} redefines '{name}' from group {seen[name]}")
            continue
        seen[name] = idx
        group_errors: list[str] = []
        if (group.get("Count") or 0) < 0:
            group_errors.append("Task group count can't be negative")
        if not group.get("Tasks"):
            group_errors.append("Missing tasks for task group")
        for task in group.get("Tasks") or []:
            if not task.get("Driver"):
                group_errors.append(f"Task {task.get('Name')} validation failed: {multierror(['Missing task driver'])}")
        if group_errors:
            errors.append(f"Task group {name} validation failed: {multierror(group_errors)}")
    return errors
