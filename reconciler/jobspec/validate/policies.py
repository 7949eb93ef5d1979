"""A group's restart, reschedule, update and migrate policies.

Pure.  Source: ``RestartPolicy.Validate``, ``ReschedulePolicy.Validate``,
``UpdateStrategy.Validate``, ``MigrateStrategy.Validate`` in nomad/structs/structs.go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.canonical_defaults import SECOND
from reconciler.jobspec.validate.texts import format_go_duration, go_quote

RESTART_MIN_INTERVAL = 5 * SECOND
RESCHEDULE_MIN_DELAY = 5 * SECOND
RESCHEDULE_MIN_INTERVAL = 15 * SECOND
DELAY_FUNCTIONS = ("constant", "exponential", "fibonacci")


def validate_restart(policy: Mapping[str, Any] | None) -> list[str]:
    if not policy:
        return []
    errs: list[str] = []
    mode = policy.get("Mode", "")
    attempts = policy.get("Attempts", 0)
    interval = policy.get("Interval", 0)
    delay = policy.get("Delay", 0)
    if mode not in ("delay", "fail"):
        errs.append(f"Unsupported restart mode: {go_quote(mode)}")
    if attempts == 0 and mode != "fail":
        errs.append(f"Restart policy {go_quote(mode)} with {attempts} attempts is ambiguous")
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


def validate_reschedule(policy: Mapping[str, Any]) -> list[str]:
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
            f"Invalid delay function {go_quote(function)}, must be one of "
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


def validate_update(update: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    health_check = update.get("HealthCheck", "")
    max_parallel = update.get("MaxParallel", 0)
    canary = update.get("Canary", 0)
    min_healthy = update.get("MinHealthyTime", 0)
    healthy_deadline = update.get("HealthyDeadline", 0)
    progress_deadline = update.get("ProgressDeadline", 0)
    stagger = update.get("Stagger", 0)
    if health_check not in ("checks", "task_states", "manual"):
        errs.append(f"Invalid health check given: {go_quote(health_check)}")
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


def validate_migrate(migrate: Mapping[str, Any]) -> list[str]:
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
        errs.append(f"Invalid HealthCheck: {go_quote(health_check)}")
    if min_healthy < 0:
        errs.append(f"MinHealthyTime is {format_go_duration(min_healthy)} and must be >= 0")
    if healthy_deadline < 0:
        errs.append(f"HealthyDeadline is {format_go_duration(healthy_deadline)} and must be >= 0")
    if min_healthy > healthy_deadline:
        errs.append("MinHealthyTime must be less than HealthyDeadline")
    return errs
