"""Nomad 1.0.18's job validation, offline, with Nomad's exact texts.

Pure: ``validate_job(job)`` takes a job in API JSON, canonicalizes it the way
the server does before validating, and returns what ``PUT /v1/validate/job``
would: ``errors`` are the entries of ``ValidationErrors`` (top-level items of
the multierror, nested ones already rendered inside), ``warnings`` the entries
behind ``Warnings``.  ``format_validation_errors`` renders errors exactly as
the register/plan endpoints' HTTP 500 body (go-multierror's list format), and
``format_validation_warnings`` the ``Warnings`` string; the Nomad fake reuses both.

Covered: the checks of ``Job.Validate``/``TaskGroup.Validate``/``Task.Validate``
that a declared job can hit (identity, type, priority, datacenters, groups,
tasks, constraints, affinities, spreads, restart/reschedule/update/migrate
policies, ephemeral disk, log config, services and checks, templates,
artifacts, vault, lifecycle, periodic incl. cron syntax, parameterized) and
``Job.Warnings``.  Not covered (needs a server or is rare): namespace and
driver existence, Connect/CSI/device details, network port collisions.  Nomad ≥1.1 adds checks (e.g. ``sysbatch``, reschedule on
system jobs as an error in 1.11) not modelled here.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.jobspec.canonical import SECOND, canonicalize

JOB_TYPES = ("service", "batch", "system", "_core")
RESTART_MIN_INTERVAL = 5 * SECOND
RESCHEDULE_MIN_DELAY = 5 * SECOND
RESCHEDULE_MIN_INTERVAL = 15 * SECOND
DELAY_FUNCTIONS = ("constant", "exponential", "fibonacci")
MIN_CHECK_INTERVAL = SECOND
MIN_CHECK_TIMEOUT = SECOND
MIN_CPU = 1  # structs.MinResources
MIN_MEMORY_MB = 10
MIN_DISK_MB = 10  # EphemeralDisk.Validate


@dataclass(frozen=True)
class ValidationResult:
    """What Nomad's validate endpoint answers: ``ValidationErrors`` and the warnings."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


def format_validation_errors(errors: Sequence[str]) -> str:
    """go-multierror's list format, as in a rejected register's HTTP 500 body.

    ``"1 error occurred:\\n\\t* X\\n\\n"`` or ``"N errors occurred:\\n\\t* X\\n\\t* Y\\n\\n"``;
    ``""`` when there are none.
    """
    if not errors:
        return ""
    if len(errors) == 1:
        return f"1 error occurred:\n\t* {errors[0]}\n\n"
    points = "\n\t".join(f"* {error}" for error in errors)
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"


def format_validation_warnings(warnings: Sequence[str]) -> str:
    """The ``Warnings`` string of validate/register responses (``""`` when none)."""
    if not warnings:
        return ""
    return f"{len(warnings)} warning(s):\n" + "".join(f"\n* {w}" for w in warnings)


def format_go_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``: ``1h0m0s``, ``1m30s``, ``1.5s``, ``500ms``, ``0s``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(int(ns))
    if ns < SECOND:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _fraction(ns, size) + unit
    hours, rest = divmod(ns, 3600 * SECOND)
    minutes, rest = divmod(rest, 60 * SECOND)
    seconds = _fraction(rest, SECOND) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def validate_job(job: Mapping[str, Any]) -> ValidationResult:
    """Nomad's verdict on ``job`` (API JSON, as ``nomad job run -output`` prints it)."""
    try:
        canonical = canonicalize(job)
        errors = _validate_job(canonical)
        warnings = _job_warnings(canonical)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        # Wrong JSON types: Nomad would refuse to decode the body at all.
        return ValidationResult(errors=(f"job does not match Nomad's job structure: {exc}",))
    return ValidationResult(errors=tuple(errors), warnings=tuple(warnings))


# --- job --------------------------------------------------------------------


def _validate_job(job: dict[str, Any]) -> list[str]:
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
    elif job_type not in JOB_TYPES:
        errs.append(f"Invalid job type: {_go_quote(job_type)}")
    priority = job.get("Priority", 0)
    if not 1 <= priority <= 100:
        errs.append("Job priority must be between [1, 100]")
    datacenters = job.get("Datacenters") or []
    if not datacenters and not job.get("Multiregion"):
        errs.append("Missing job datacenters")
    else:
        errs += ["Job datacenter must be non-empty string" for dc in datacenters if dc == ""]
    groups: list[dict[str, Any]] = job.get("TaskGroups") or []
    if not groups:
        errs.append("Missing job task groups")
    errs += _placement_errors(job, job_type)

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
        group_errs = _validate_group(group, job)
        if group_errs:
            errs.append(
                f"Task group {group.get('Name', '')} validation failed: "
                + format_validation_errors(group_errs)
            )

    periodic = job.get("Periodic")
    if periodic and periodic.get("Enabled"):
        if job_type != "batch":
            errs.append('Periodic can only be used with "batch" scheduler')
        periodic_errs = _validate_periodic(periodic)
        if periodic_errs:
            errs.append(format_validation_errors(periodic_errs))
    parameterized = job.get("ParameterizedJob")
    if parameterized is not None:
        if job_type != "batch":
            errs.append('Parameterized job can only be used with "batch" scheduler')
        parameterized_errs = _validate_parameterized(parameterized)
        if parameterized_errs:
            errs.append(format_validation_errors(parameterized_errs))
    return errs


def _placement_errors(obj: Mapping[str, Any], job_type: str) -> list[str]:
    errs: list[str] = []
    for index, constraint in enumerate(obj.get("Constraints") or []):
        constraint_errs = _validate_constraint(constraint)
        if constraint_errs:
            errs.append(
                f"Constraint {index + 1} validation failed: "
                + format_validation_errors(constraint_errs)
            )
    if job_type == "system":
        if obj.get("Affinities"):
            errs.append("System jobs may not have an affinity stanza")
    else:
        for index, affinity in enumerate(obj.get("Affinities") or []):
            affinity_errs = _validate_affinity(affinity)
            if affinity_errs:
                errs.append(
                    f"Affinity {index + 1} validation failed: "
                    + format_validation_errors(affinity_errs)
                )
    return errs


def _spread_errors(obj: Mapping[str, Any], job_type: str) -> list[str]:
    if job_type == "system":
        return ["System jobs may not have a spread stanza"] if obj.get("Spreads") else []
    errs: list[str] = []
    for index, spread in enumerate(obj.get("Spreads") or []):
        spread_errs = _validate_spread(spread)
        if spread_errs:
            errs.append(
                f"Spread {index + 1} validation failed: " + format_validation_errors(spread_errs)
            )
    return errs


def _validate_constraint(constraint: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    operand = constraint.get("Operand", "")
    rtarget = str(constraint.get("RTarget", ""))
    if operand == "":
        errs.append("Missing constraint operand")
    require_ltarget = True
    if operand == "distinct_hosts":
        require_ltarget = False
    elif operand in ("set_contains_all", "set_contains_any", "set_contains"):
        if not rtarget:
            errs.append("Set contains constraint requires an RTarget")
    elif operand == "regexp":
        try:
            re.compile(rtarget)
        except re.error as exc:
            errs.append(f"Regular expression failed to compile: {exc}")
    elif operand == "distinct_property":
        if rtarget:
            if not rtarget.isdigit():
                errs.append(
                    f"Failed to convert RTarget {_go_quote(rtarget)} to uint64: "
                    f"strconv.ParseUint: parsing {_go_quote(rtarget)}: invalid syntax"
                )
            elif int(rtarget) < 1:
                errs.append(
                    f"Distinct Property must have an allowed count of 1 or greater: {rtarget} < 1"
                )
    elif operand in ("is_set", "is_not_set"):
        if rtarget:
            errs.append(f"Operator {_go_quote(operand)} does not support an RTarget")
    elif operand in ("=", "==", "is", "!=", "not", "<", "<=", ">", ">="):
        if not rtarget:
            errs.append(f"Operator {_go_quote(operand)} requires an RTarget")
    elif operand not in ("version", "semver", ""):
        errs.append(f"Unknown constraint type {_go_quote(operand)}")
    if require_ltarget and not constraint.get("LTarget"):
        errs.append("No LTarget provided but is required by constraint")
    return errs


AFFINITY_SET_OPERATORS = ("set_contains_all", "set_contains_any", "set_contains")
AFFINITY_COMPARISONS = ("=", "==", "is", "!=", "not", "<", "<=", ">", ">=")


def _validate_affinity(affinity: Mapping[str, Any]) -> list[str]:
    """Affinity.Validate (nomad/structs/structs.go v1.0.18).  Not modelled: whether a
    ``regexp``, ``version`` or ``semver`` target compiles (Go's own parsers and texts)."""
    errs: list[str] = []
    operand = affinity.get("Operand", "")
    rtarget = affinity.get("RTarget", "")
    if operand == "":
        errs.append("Missing affinity operand")
    if operand in AFFINITY_SET_OPERATORS:
        if not rtarget:
            errs.append("Set contains operators require an RTarget")
    elif operand in AFFINITY_COMPARISONS:
        if not rtarget:
            errs.append(f'Operator "{operand}" requires an RTarget')
    elif operand not in ("regexp", "version", "semver"):
        errs.append(f'Unknown affinity operator "{operand}"')
    if not affinity.get("LTarget"):
        errs.append("No LTarget provided but is required")
    weight = affinity.get("Weight", 0)
    if weight == 0:
        errs.append("Affinity weight cannot be zero")
    if weight > 100 or weight < -100:
        errs.append("Affinity weight must be within the range [-100,100]")
    return errs


def _validate_spread(spread: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    if not spread.get("Attribute"):
        errs.append("Missing spread attribute")
    weight = spread.get("Weight", 0)
    if weight <= 0 or weight > 100:
        errs.append("Spread stanza must have a positive weight from 0 to 100")
    seen: set[str] = set()
    total = 0
    for target in spread.get("SpreadTarget") or []:
        value = target.get("Value", "")
        if value in seen:
            errs.append(f"Spread target value {_go_quote(value)} already defined")
        seen.add(value)
        percent = target.get("Percent", 0)
        if percent < 0 or percent > 100:
            errs.append(
                f"Spread target percentage for value {_go_quote(value)} must be between 0 and 100"
            )
        total += percent
    if total > 100:
        errs.append(f"Sum of spread target percentages must not be greater than 100%; got {total}%")
    return errs


def _validate_periodic(periodic: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    spec = str(periodic.get("Spec", ""))
    if not spec:
        errs.append("Must specify a spec")
    spec_type = periodic.get("SpecType", "")
    if spec_type == "cron":
        problem = cron_spec_error(spec)
        if problem is not None:
            errs.append(f"Invalid cron spec {_go_quote(spec)}: {problem}")
    elif spec_type != "_internal_test":
        errs.append(f"Unknown periodic specification type {_go_quote(spec_type)}")
    return errs


def _validate_parameterized(parameterized: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    payload = parameterized.get("Payload", "")
    if payload not in ("optional", "required", "forbidden"):
        errs.append(f"Unknown payload requirement: {_go_quote(payload)}")
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


# --- cron (github.com/gorhill/cronexpr, as Nomad 1.0 uses it) ----------------

_PREDEFINED_CRON = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_DAYS = "sun|mon|tue|wed|thu|fri|sat"
_CRON_FIELDS: dict[str, str] = {
    "second": r"0?[0-9]|[1-5][0-9]",
    "minute": r"0?[0-9]|[1-5][0-9]",
    "hour": r"[01]?[0-9]|2[0-3]",
    "day-of-month": r"0?[1-9]|[12][0-9]|3[01]",
    "month": rf"0?[1-9]|1[012]|{_MONTHS}|january|february|march|april|june|july|august|september|october|november|december",
    "day-of-week": rf"0?[0-7]|{_DAYS}|sunday|monday|tuesday|wednesday|thursday|friday|saturday",
    "year": r"19[789][0-9]|20[0-9]{2}",
}
_CRON_SPECIAL: dict[str, str] = {
    "day-of-month": r"l|(?:0?[1-9]|[12][0-9]|3[01])w|lw|\?",
    "day-of-week": r"[0-7]l|[0-7]#[1-5]|\?",
}


def cron_spec_error(spec: str) -> str | None:
    """``None`` if cronexpr accepts ``spec``, else its error text (``missing field(s)`` ...)."""
    spec = spec.strip()
    if spec in _PREDEFINED_CRON:
        return None
    fields = spec.split()
    if len(fields) < 5:
        return "missing field(s)"
    fields = fields[:7]
    names = ["minute", "hour", "day-of-month", "month", "day-of-week", "year"]
    if len(fields) == 7:
        names = ["second", *names]
    for name, field in zip(names, fields, strict=False):
        for entry in field.split(","):
            if entry and not _cron_entry_ok(entry.lower(), name):
                return f"syntax error in {name} field: '{entry}'"
    return None


def _cron_entry_ok(entry: str, name: str) -> bool:
    value = f"(?:{_CRON_FIELDS[name]})"
    layouts = [
        r"\*",
        value,
        f"{value}-{value}",
        r"\*/\d+",
        rf"{value}/\d+",
        f"{value}-{value}/\\d+",
    ]
    if name in _CRON_SPECIAL:
        layouts.append(_CRON_SPECIAL[name])
    return any(re.fullmatch(layout, entry) for layout in layouts)


# --- task group ----------------------------------------------------------------


def _validate_group(group: dict[str, Any], job: dict[str, Any]) -> list[str]:
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
    errs += _placement_errors(group, job_type)

    _nested(errs, _validate_restart(group.get("RestartPolicy")))
    errs += _spread_errors(group, job_type)
    reschedule = group.get("ReschedulePolicy")
    if job_type == "system":
        if reschedule:
            errs.append("System jobs should not have a reschedule policy")
    elif reschedule:
        # no policy at all (unknown job type) is not an error: 10-invalid-registrations
        _nested(errs, _validate_reschedule(reschedule))
    disk_mb = int((group.get("EphemeralDisk") or {}).get("SizeMB") or 0)
    if disk_mb < MIN_DISK_MB:  # EphemeralDisk.Validate: a plain error, not nested
        errs.append(f"minimum DiskMB value is {MIN_DISK_MB}; got {disk_mb}")

    update = group.get("Update")
    if update:
        if job_type not in ("service", "system"):
            errs.append(f"Job type {_go_quote(job_type)} does not allow update block")
        _nested(errs, _validate_update(update))
    migrate = group.get("Migrate")
    if job_type == "service":
        if migrate:
            _nested(errs, _validate_migrate(migrate))
    elif migrate:
        errs.append(f"Job type {_go_quote(job_type)} does not allow migrate block")

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
    for volume_name, volume in volumes.items():
        if volume.get("Type") not in ("host", "csi"):
            errs.append(f"Volume {volume_name} has unrecognised type {volume.get('Type', '')}")
            continue
        if not volume.get("Source"):
            errs.append(f"Volume {volume_name} has an empty source")

    service_errs = _validate_group_services(group)
    if service_errs:
        errs.append(
            "Task group service validation failed: " + format_validation_errors(service_errs)
        )
    scaling_errs = _validate_scaling(group)
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
        task_errs = _validate_task(task, group=group, job_type=job_type)
        if task_errs:
            errs.append(
                f"Task {task_name} validation failed: " + format_validation_errors(task_errs)
            )
    return errs


def _nested(errs: list[str], inner: list[str]) -> None:
    """Nomad appends a sub-validator's multierror as one (rendered) item."""
    if inner:
        errs.append(format_validation_errors(inner))


def _validate_restart(policy: Mapping[str, Any] | None) -> list[str]:
    if not policy:
        return []
    errs: list[str] = []
    mode = policy.get("Mode", "")
    attempts = policy.get("Attempts", 0)
    interval = policy.get("Interval", 0)
    delay = policy.get("Delay", 0)
    if mode not in ("delay", "fail"):
        errs.append(f"Unsupported restart mode: {_go_quote(mode)}")
    if attempts == 0 and mode != "fail":
        errs.append(f"Restart policy {_go_quote(mode)} with {attempts} attempts is ambiguous")
    if interval < RESTART_MIN_INTERVAL:
        errs.append(
            f"Interval can not be less than {format_go_duration(RESTART_MIN_INTERVAL)} "
            f"(got {format_go_duration(interval)})"
        )
    if attempts * delay > interval:
        errs.append(
            f"Nomad can't restart the TaskGroup {attempts} times in an interval of "
            f"{format_go_duration(interval)} with a delay of {format_go_duration(delay)}"
        )
    return errs


def _validate_reschedule(policy: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    attempts = policy.get("Attempts", 0)
    interval = policy.get("Interval", 0)
    delay = policy.get("Delay", 0)
    max_delay = policy.get("MaxDelay", 0)
    unlimited = bool(policy.get("Unlimited", False))
    function = policy.get("DelayFunction", "")
    if attempts > 0:
        if interval <= 0:
            errs.append("Interval must be a non zero value if Attempts > 0")
        if unlimited:
            errs.append(
                f"Reschedule Policy with Attempts = {attempts}, Interval = "
                f"{format_go_duration(interval)}, and Unlimited = true is ambiguous"
            )
            errs.append("If Attempts >0, Unlimited cannot also be set to true")
    delay_ok = True
    if delay < RESCHEDULE_MIN_DELAY:
        errs.append(
            f"Delay cannot be less than {format_go_duration(RESCHEDULE_MIN_DELAY)} "
            f"(got {format_go_duration(delay)})"
        )
        delay_ok = False
    if function not in DELAY_FUNCTIONS:
        errs.append(
            f"Invalid delay function {_go_quote(function)}, must be one of "
            '["constant" "exponential" "fibonacci"]'
        )
        delay_ok = False
    if function != "constant":
        if max_delay < RESCHEDULE_MIN_DELAY:
            errs.append(
                f"Max Delay cannot be less than {format_go_duration(RESCHEDULE_MIN_DELAY)} "
                f"(got {format_go_duration(delay)})"
            )
            delay_ok = False
        if max_delay < delay:
            errs.append(
                f"Max Delay cannot be less than Delay {format_go_duration(delay)} "
                f"(got {format_go_duration(max_delay)})"
            )
            delay_ok = False
    if not unlimited:
        if interval < RESCHEDULE_MIN_INTERVAL:
            errs.append(
                f"Interval cannot be less than {format_go_duration(RESCHEDULE_MIN_INTERVAL)} "
                f"(got {format_go_duration(interval)})"
            )
        if delay_ok:
            errs += _reschedule_delay_errors(attempts, interval, delay, max_delay, function)
    return errs


def _reschedule_delay_errors(
    attempts: int, interval: int, delay: int, max_delay: int, function: str
) -> list[str]:
    """Can ``attempts`` reschedules fit in ``interval``?  (ReschedulePolicy.viableAttempts)"""
    possible, recommended, valid = 0, 0, True
    if function == "constant":
        recommended = attempts * delay
        if interval < recommended:
            possible, valid = interval // delay, False
    elif function == "exponential":
        for i in range(attempts):
            next_delay = (2**i) * delay
            if next_delay > max_delay:
                recommended += max_delay
            else:
                recommended = next_delay
            if recommended < interval:
                possible += 1
        valid = possible >= attempts
    else:  # fibonacci
        slots = [delay, delay]
        capped = False
        for i in range(2, attempts):
            if capped:
                next_delay = slots[i - 1] + max_delay
            else:
                next_delay = slots[i - 1] + slots[i - 2]
                if next_delay > max_delay:
                    next_delay, capped = max_delay, True
            slots.append(next_delay)
        recommended = slots[-1]
        if interval < recommended:
            valid = False
            possible = next((i for i, slot in enumerate(slots) if slot > interval), 0)
    if valid:
        return []
    if function == "constant":
        first = (
            f"Nomad can only make {possible} attempts in {format_go_duration(interval)} with "
            f'initial delay {format_go_duration(delay)} and delay function "{function}"'
        )
    else:
        first = (
            f"Nomad can only make {possible} attempts in {format_go_duration(interval)} with "
            f'initial delay {format_go_duration(delay)}, delay function "{function}", and '
            f"delay ceiling {format_go_duration(max_delay)}"
        )
    rounded = (recommended + SECOND // 2) // SECOND * SECOND  # Go's Duration.Round(time.Second)
    # multierror.Append flattens these into the policy's own list.
    return [
        first,
        f"Set the interval to at least {format_go_duration(rounded)} "
        f"to accommodate {attempts} attempts",
    ]


def _validate_update(update: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    health_check = update.get("HealthCheck", "")
    max_parallel = update.get("MaxParallel", 0)
    canary = update.get("Canary", 0)
    min_healthy = update.get("MinHealthyTime", 0)
    healthy_deadline = update.get("HealthyDeadline", 0)
    progress_deadline = update.get("ProgressDeadline", 0)
    stagger = update.get("Stagger", 0)
    if health_check not in ("checks", "task_states", "manual"):
        errs.append(f"Invalid health check given: {_go_quote(health_check)}")
    if max_parallel < 0:
        errs.append(f"Max parallel can not be less than zero: {max_parallel} < 0")
    if canary < 0:
        errs.append(f"Canary count can not be less than zero: {canary} < 0")
    if canary == 0 and update.get("AutoPromote"):
        errs.append("Auto Promote requires a Canary count greater than zero")
    if min_healthy < 0:
        errs.append(
            f"Minimum healthy time may not be less than zero: {format_go_duration(min_healthy)}"
        )
    if healthy_deadline <= 0:
        errs.append(
            f"Healthy deadline must be greater than zero: {format_go_duration(healthy_deadline)}"
        )
    if progress_deadline < 0:
        errs.append(
            f"Progress deadline must be zero or greater: {format_go_duration(progress_deadline)}"
        )
    if min_healthy >= healthy_deadline:
        errs.append(
            "Minimum healthy time must be less than healthy deadline: "
            f"{format_go_duration(min_healthy)} > {format_go_duration(healthy_deadline)}"
        )
    if progress_deadline != 0 and healthy_deadline >= progress_deadline:
        errs.append(
            "Healthy deadline must be less than progress deadline: "
            f"{format_go_duration(healthy_deadline)} > {format_go_duration(progress_deadline)}"
        )
    if stagger <= 0:
        errs.append(f"Stagger must be greater than zero: {format_go_duration(stagger)}")
    return errs


def _validate_migrate(migrate: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    max_parallel = migrate.get("MaxParallel", 0)
    min_healthy = migrate.get("MinHealthyTime", 0)
    healthy_deadline = migrate.get("HealthyDeadline", 0)
    if max_parallel < 0:
        errs.append(f"MaxParallel must be >= 0 but found {max_parallel}")
    health_check = migrate.get("HealthCheck", "")
    if health_check == "":
        if max_parallel > 0:
            errs.append("Missing HealthCheck")
    elif health_check not in ("checks", "task_states"):
        errs.append(f"Invalid HealthCheck: {_go_quote(health_check)}")
    if min_healthy < 0:
        errs.append(f"MinHealthyTime is {format_go_duration(min_healthy)} and must be >= 0")
    if healthy_deadline < 0:
        errs.append(f"HealthyDeadline is {format_go_duration(healthy_deadline)} and must be >= 0")
    if min_healthy > healthy_deadline:
        errs.append("MinHealthyTime must be less than HealthyDeadline")
    return errs


def _validate_scaling(group: Mapping[str, Any]) -> list[str]:
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
    if count < low:
        errs.append(
            "Scaling policy invalid: task group count must not be less than minimum count "
            "in scaling policy"
        )
    return errs


def _validate_group_services(group: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    known_tasks = {task.get("Name", "") for task in group.get("Tasks") or []}
    known_services: set[str] = set()
    for task in group.get("Tasks") or []:
        for service in task.get("Services") or []:
            key = service.get("Name", "") + service.get("PortLabel", "")
            if key in known_services:
                errs.append(f"Service {service.get('Name', '')} is duplicate")
            for check in service.get("Checks") or []:
                if check.get("TaskName"):
                    errs.append(
                        f"Check {check.get('Name', '')} is invalid: only task group service "
                        "checks can be assigned tasks"
                    )
            known_services.add(key)
    for index, service in enumerate(group.get("Services") or []):
        service_name = service.get("Name", "")
        service_errs = _validate_service(service)
        if service_errs:
            errs.append(
                f"Service[{index}] {service_name} validation failed: "
                + format_validation_errors(service_errs)
            )
            continue
        key = service_name + service.get("PortLabel", "")
        if key in known_services:
            errs.append(f"Service {service_name} is duplicate")
        known_services.add(key)
        checks: set[str] = set()
        for check in service.get("Checks") or []:
            # unnamed checks all default to 'service: "<name>" check' and collide here
            check_name = check.get("Name", "")
            if check_name in checks:
                errs.append(f"check {_go_quote(check_name)} is duplicate")
            checks.add(check_name)
            task_name = check.get("TaskName", "")
            if not task_name:
                continue
            if check.get("Type") not in ("script", "grpc"):
                errs.append(
                    f"Check {check.get('Name', '')} invalid: only script and gRPC checks should have tasks"
                )
            if task_name not in known_tasks:
                errs.append(
                    f"Check {check.get('Name', '')} invalid: refers to non-existent task {task_name}"
                )
    return errs


_SERVICE_NAME = re.compile(r"^(?i:[a-z0-9]|[a-z0-9][a-z0-9\-]{0,61}[a-z0-9])$")
_ENV_VAR = re.compile(r"\$\{[^}]*\}")


def _validate_service(service: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    name = str(service.get("Name", ""))
    if not _SERVICE_NAME.match(_ENV_VAR.sub("ENV-VAR", name)):
        errs.append(
            "Service name must be valid per RFC 1123 and can contain only alphanumeric "
            f"characters or dashes: {_go_quote(name)}"
        )
    mode = service.get("AddressMode", "")
    if mode not in ("", "auto", "host", "driver", "alloc"):
        errs.append(
            f'Service address_mode must be "auto", "host", or "driver"; not {_go_quote(mode)}'
        )
    for check in service.get("Checks") or []:
        check_name = check.get("Name", "")
        requires_port = check.get("Type") in ("grpc", "http", "tcp")
        if not service.get("PortLabel") and not check.get("PortLabel") and requires_port:
            errs.append(
                f"Check {check_name} invalid: check requires a port but neither check nor "
                f"service {_go_quote(name)} have a port"
            )
            continue
        problem = _check_problem(check)
        if problem:
            errs.append(f"Check {check_name} invalid: {problem}")
    return errs


def _check_problem(check: Mapping[str, Any]) -> str | None:
    """ServiceCheck.validate: the first problem only, as Nomad returns early."""
    check_type = str(check.get("Type", "")).lower()
    if check_type == "http":
        path = str(check.get("Path", ""))
        if not path:
            return "http type must have a valid http path"
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", path):
            return "http type must have a relative http path"
    elif check_type == "script":
        if not check.get("Command"):
            return "script type must have a valid script path"
    elif check_type not in ("grpc", "tcp"):
        return (
            f"invalid type ({_go_quote(check.get('Type', ''))}), must be one of "
            '"http", "tcp", or "script" type'
        )
    interval, timeout = check.get("Interval", 0), check.get("Timeout", 0)
    if interval == 0:
        return "missing required value interval. Interval cannot be less than 1s"
    if interval < MIN_CHECK_INTERVAL:
        return f"interval ({format_go_duration(interval)}) cannot be lower than 1s"
    if timeout == 0:
        return "missing required value timeout. Timeout cannot be less than 1s"
    if timeout < MIN_CHECK_TIMEOUT:
        return f"timeout ({format_go_duration(timeout)}) is lower than required minimum timeout 1s"
    status = check.get("InitialStatus", "")
    if status not in ("", "passing", "warning", "critical"):
        return (
            f"invalid initial check state ({status}), must be one of "
            '"passing", "warning", "critical" or empty'
        )
    mode = check.get("AddressMode", "")
    if mode == "auto":
        return 'invalid address_mode "auto" - auto only valid for services'
    if mode not in ("", "host", "driver", "alloc"):
        return f"invalid address_mode {_go_quote(mode)}"
    if check.get("Expose") and check_type not in ("grpc", "http"):
        return "expose may only be set on HTTP or gRPC checks"
    restart = check.get("CheckRestart") or {}
    restart_errs = []
    if restart.get("Limit", 0) < 0:
        restart_errs.append(
            f"limit must be greater than or equal to 0 but found {restart['Limit']}"
        )
    if restart.get("Grace", 0) < 0:
        restart_errs.append(
            f"grace period must be greater than or equal to 0 but found {restart['Grace']}"
        )
    return format_validation_errors(restart_errs) or None


# --- task ----------------------------------------------------------------------


def _validate_task(
    task: Mapping[str, Any], *, group: Mapping[str, Any], job_type: str
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
    if minimum:
        _nested(errs, [format_validation_errors(minimum)])
    log_config = task.get("LogConfig") or {}
    log_errs = []
    if log_config.get("MaxFiles", 0) < 1:
        log_errs.append(f"minimum number of files is 1; got {log_config.get('MaxFiles', 0)}")
    if log_config.get("MaxFileSizeMB", 0) < 1:
        log_errs.append(f"minimum file size is 1MB; got {log_config.get('MaxFileSizeMB', 0)}")
    _nested(errs, log_errs)

    for index, constraint in enumerate(task.get("Constraints") or []):
        constraint_errs = _validate_constraint(constraint)
        if constraint_errs:
            errs.append(
                f"Constraint {index + 1} validation failed: "
                + format_validation_errors(constraint_errs)
            )
        if constraint.get("Operand") in ("distinct_hosts", "distinct_property"):
            errs.append(
                f"Constraint {index + 1} has disallowed Operand at task level: {constraint['Operand']}"
            )
    errs += _placement_errors({"Affinities": task.get("Affinities")}, job_type)
    _nested(errs, _validate_task_services(task))

    disk = (group.get("EphemeralDisk") or {}).get("SizeMB", 0)
    log_usage = log_config.get("MaxFiles", 0) * log_config.get("MaxFileSizeMB", 0)
    if disk <= log_usage:
        errs.append(
            f"log storage ({log_usage} MB) must be less than requested disk capacity ({disk} MB)"
        )
    for index, artifact in enumerate(task.get("Artifacts") or []):
        artifact_errs = _validate_artifact(artifact)
        if artifact_errs:
            errs.append(
                f"Artifact {index + 1} validation failed: "
                + format_validation_errors(artifact_errs)
            )
    vault = task.get("Vault")
    if vault:
        vault_errs = _validate_vault(vault)
        if vault_errs:
            errs.append("Vault validation failed: " + format_validation_errors(vault_errs))
    destinations: dict[str, int] = {}
    for index, template in enumerate(task.get("Templates") or []):
        template_errs = _validate_template(template)
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
    for index, mount in enumerate(task.get("VolumeMounts") or []):
        mode = mount.get("PropagationMode", "")
        if mode not in ("", "private", "host-to-task", "bidirectional"):
            errs.append(f'Volume Mount ({index}) has an invalid propagation mode: "{mode}"')
    return errs


def _validate_task_services(task: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    known: set[str] = set()
    for index, service in enumerate(task.get("Services") or []):
        name = service.get("Name", "")
        service_errs = _validate_service(service)
        if service_errs:
            errs.append(
                f"service[{index}] {_go_quote(name)} validation failed: "
                + format_validation_errors(service_errs)
            )
        key = name + service.get("PortLabel", "")
        if key in known:
            errs.append(f"service {_go_quote(name)} is duplicate")
        known.add(key)
        checks: set[str] = set()
        for check in service.get("Checks") or []:
            check_name = check.get("Name", "")
            if check_name in checks:
                errs.append(f"check {_go_quote(check_name)} is duplicate")
            checks.add(check_name)
    return errs


def _validate_artifact(artifact: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    if not artifact.get("GetterSource"):
        errs.append("source must be specified")
    mode = artifact.get("GetterMode", "")
    if mode not in ("", "any", "file", "dir"):
        errs.append(f"invalid artifact mode {_go_quote(mode)}; must be one of: any, file, dir")
    if path_escapes_alloc_dir("task", artifact.get("RelativeDest", "")):
        errs.append("destination escapes allocation directory")
    checksum = (artifact.get("GetterOptions") or {}).get("checksum")
    if checksum:
        problem = checksum_problem(str(checksum))
        if problem:
            errs.append(problem)
    return errs


_CHECKSUM_HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}


def checksum_problem(checksum: str) -> str | None:
    """Artifact ``checksum`` option in go-getter's ``type:value`` form, as Nomad checks it."""
    kind, sep, value = checksum.partition(":")
    if not sep or not value:
        return f"checksum must be given as 'type:value'; got {_go_quote(checksum)}"
    if "${" in value:
        return None  # interpolated at run time
    expected = _CHECKSUM_HEX_LENGTHS.get(kind)
    if expected is None:
        return f"unsupported checksum type: {kind}"
    if not re.fullmatch(r"[0-9a-fA-F]*", value):
        return f"invalid {kind} checksum: encoding/hex: invalid byte"
    if len(value) != expected:
        return f"invalid {kind} checksum: {value} length != {expected}"
    return None


def _validate_vault(vault: Mapping[str, Any]) -> list[str]:
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
        errs.append(f"Unknown change mode {_go_quote(mode)}")
    return errs


def _validate_template(template: Mapping[str, Any]) -> list[str]:
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


# --- warnings ------------------------------------------------------------------


def _job_warnings(job: Mapping[str, Any]) -> list[str]:
    warnings: list[str] = []
    groups = job.get("TaskGroups") or []
    for group in groups:
        group_warnings = _group_warnings(group)
        if group_warnings:
            warnings.append(
                f"Group {_go_quote(group.get('Name', ''))} has warnings: "
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


def _group_warnings(group: Mapping[str, Any]) -> list[str]:
    warnings: list[str] = []
    update = group.get("Update")
    count = group.get("Count", 0)
    if update and update.get("MaxParallel", 0) > count:
        warnings.append(
            "Update max parallel count is greater than task group count "
            f"({update['MaxParallel']} > {count}). A destructive change would result in the "
            "simultaneous replacement of all allocations."
        )
    for task in group.get("Tasks") or []:
        task_warnings = _task_warnings(task)
        if task_warnings:
            warnings.append(_prefixed(task_warnings, f"Task {_go_quote(task.get('Name', ''))}:"))
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
                _prefixed(
                    [
                        "VaultGrace has been deprecated as of Nomad 0.11 and ignored since "
                        "Vault 0.5. Please remove VaultGrace / vault_grace from template stanza."
                    ],
                    f"Template[{index}]",
                )
            )
    return warnings


def _prefixed(errors: Sequence[str], prefix: str) -> str:
    """go-multierror's ``Prefix``: every item gets ``prefix + " "``; rendered as a multierror."""
    return format_validation_errors([f"{prefix} {error}" for error in errors])


def _go_quote(value: Any) -> str:
    """Go's ``%q`` for the plain strings job fields hold."""
    text = str(value)
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


_MULTI_HEAD = re.compile(r"(\d+) errors? occurred:\n\t\* ")


def error_leaves(error: str) -> list[tuple[tuple[str, ...], str]]:
    """Split one rendered validation error into ``(prefixes, leaf)`` pairs.

    ``"Task group g validation failed: 1 error occurred:\\n\\t* Task t validation
    failed: ...\\n\\t* Missing task driver\\n\\n..."`` gives
    ``[(("Task group g validation failed:", "Task t validation failed:"), "Missing task driver")]``:
    one line per problem for ``lint``, with Nomad's own words.
    """
    leaves, _ = _parse_item(error, 0, ())
    return leaves


def _parse_item(
    text: str, at: int, prefixes: tuple[str, ...]
) -> tuple[list[tuple[tuple[str, ...], str]], int]:
    # An item is "<prefix><N error(s) occurred:...>" or plain text up to the next newline.
    line_end = text.find("\n", at)
    head = _MULTI_HEAD.search(text, at)
    if head is not None and "\n" not in text[at : head.start()]:
        prefix = text[at : head.start()].strip()
        inner = (*prefixes, prefix) if prefix else prefixes
        leaves: list[tuple[tuple[str, ...], str]] = []
        at = head.end()
        for number in range(int(head.group(1))):
            if number:
                at += len("\n\t* ")
            found, at = _parse_item(text, at, inner)
            leaves += found
        return leaves, at + len("\n\n")
    stop = len(text) if line_end == -1 else line_end
    return [(prefixes, text[at:stop])], stop
