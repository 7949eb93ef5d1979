"""One service and its checks: ``Service.Validate`` and ``ServiceCheck.validate``.

Pure.  Source: nomad/structs/services.go v1.0.18.  The lists of services of a
group or a task are ``service_lists``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.canonical_defaults import SECOND
from reconciler.jobspec.validate.connect import connect_error, has_sidecar, is_native
from reconciler.jobspec.validate.target import Target
from reconciler.jobspec.validate.texts import format_go_duration, format_validation_errors, go_quote

MIN_CHECK_INTERVAL = SECOND
MIN_CHECK_TIMEOUT = SECOND


_SERVICE_NAME = re.compile(r"^(?i:[a-z0-9]|[a-z0-9][a-z0-9\-]{0,61}[a-z0-9])$")
_ENV_VAR = re.compile(r"\$\{[^}]*\}")


def validate_service(service: Mapping[str, Any], target: Target) -> list[str]:
    errs: list[str] = []
    name = str(service.get("Name", ""))
    if not _SERVICE_NAME.match(_ENV_VAR.sub("ENV-VAR", name)):
        errs.append(
            "Service name must be valid per RFC 1123 and can contain only alphanumeric "
            f"characters or dashes: {go_quote(name)}"
        )
    mode = service.get("AddressMode", "")
    if mode not in ("", "auto", "host", "driver", "alloc"):
        errs.append(
            f'Service address_mode must be "auto", "host", or "driver"; not {go_quote(mode)}'
        )
    connect = service.get("Connect")
    for check in service.get("Checks") or []:
        check_name = check.get("Name", "")
        requires_port = check.get("Type") in ("grpc", "http", "tcp")
        if not service.get("PortLabel") and not check.get("PortLabel") and requires_port:
            errs.append(
                f"Check {check_name} invalid: check requires a port but neither check nor "
                f"service {go_quote(name)} have a port"
            )
            continue
        if check.get("Type") == "tcp" and has_sidecar(connect):
            # the service listens on the loopback of its network namespace
            errs.append(
                f"Check {check_name} invalid: tcp checks are not valid for Connect enabled services"
            )
            continue
        problem = _check_problem(check)
        if problem:
            errs.append(f"Check {check_name} invalid: {problem}")
    if connect is not None:
        problem = connect_error(connect, gateways=not target.at_least(1, 1, 0))
        if problem:
            errs.append(problem)
        # the connect mutator names the task when the group has a network and one task
        if is_native(connect) and not service.get("TaskName"):
            errs.append(f"Service {name} is Connect Native and requires setting the task")
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
            f"invalid type ({go_quote(check.get('Type', ''))}), must be one of "
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
        return f"invalid address_mode {go_quote(mode)}"
    if check.get("Expose") and check_type not in ("grpc", "http"):
        return "expose may only be set on HTTP or gRPC checks"
    # pass/fail thresholds: the check types Consul and Nomad both support (case-sensitive).
    # "must be non-negative" is never said: the api package raises negative values to 0.
    for key, field in (
        ("SuccessBeforePassing", "success_before_passing"),
        ("FailuresBeforeCritical", "failures_before_critical"),
    ):
        if (check.get(key) or 0) > 0 and check.get("Type", "") not in ("tcp", "http", "grpc"):
            return f"{field} not supported for check of type {go_quote(check.get('Type', ''))}"
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
