"""Services and their checks, at group and task level.

Pure.  Source: ``Service.Validate``, ``ServiceCheck.validate`` (nomad/structs/services.go)
and the service parts of ``TaskGroup.Validate``/``Task.Validate``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.canonical_defaults import SECOND
from reconciler.jobspec.validate.texts import format_go_duration, format_validation_errors, go_quote

MIN_CHECK_INTERVAL = SECOND
MIN_CHECK_TIMEOUT = SECOND


def validate_group_services(group: Mapping[str, Any]) -> list[str]:
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
        service_errs = validate_service(service)
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
                errs.append(f"check {go_quote(check_name)} is duplicate")
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


def validate_service(service: Mapping[str, Any]) -> list[str]:
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
    for check in service.get("Checks") or []:
        check_name = check.get("Name", "")
        requires_port = check.get("Type") in ("grpc", "http", "tcp")
        if not service.get("PortLabel") and not check.get("PortLabel") and requires_port:
            errs.append(
                f"Check {check_name} invalid: check requires a port but neither check nor "
                f"service {go_quote(name)} have a port"
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

def validate_task_services(task: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    known: set[str] = set()
    for index, service in enumerate(task.get("Services") or []):
        name = service.get("Name", "")
        service_errs = validate_service(service)
        if service_errs:
            errs.append(
                f"service[{index}] {go_quote(name)} validation failed: "
                + format_validation_errors(service_errs)
            )
        key = name + service.get("PortLabel", "")
        if key in known:
            errs.append(f"service {go_quote(name)} is duplicate")
        known.add(key)
        checks: set[str] = set()
        for check in service.get("Checks") or []:
            check_name = check.get("Name", "")
            if check_name in checks:
                errs.append(f"check {go_quote(check_name)} is duplicate")
            checks.add(check_name)
    return errs
