"""The services of a group and of a task, as lists: uniqueness, tasks, ports, address modes.

Pure.  Source: ``TaskGroup.validateServices``, ``validateScriptChecksInGroupServices``
and ``validateServices`` (the task's) in nomad/structs/structs.go v1.0.18.  Nomad
1.1.0 to 1.1.2 also refused two group or task services with the same name and
port in one group ("Service X is duplicate", structs.go v1.1.0, gone in v1.1.3).
Later group-level rules (providers, "Services are not unique", v1.3.0 on) are not
modelled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.validate.services import validate_service
from reconciler.jobspec.validate.target import Target
from reconciler.jobspec.validate.texts import format_validation_errors, go_quote

DRIVER_ONLY_IN_TASKS = (
    'service {name} cannot use address_mode="driver", only services defined in a "task" '
    "block can use this mode"
)


def validate_group_services(group: Mapping[str, Any], target: Target) -> list[str]:
    """TaskGroup.validateServices."""
    errs: list[str] = []
    unique = target.at_least(1, 1, 0) and not target.at_least(1, 1, 3)
    known_tasks = {task.get("Name", "") for task in group.get("Tasks") or []}
    known_services: set[str] = set()
    for task in group.get("Tasks") or []:
        for service in task.get("Services") or []:
            key = service.get("Name", "") + service.get("PortLabel", "")
            if unique and key in known_services:
                errs.append(f"Service {service.get('Name', '')} is duplicate")
            for check in service.get("Checks") or []:
                if check.get("TaskName"):
                    errs.append(
                        f"Check {check.get('Name', '')} is invalid: only task group service "
                        "checks can be assigned tasks"
                    )
            known_services.add(key)
    for index, service in enumerate(group.get("Services") or []):
        name = service.get("Name", "")
        service_errs = validate_service(service, target)
        if service_errs:
            errs.append(
                f"Service[{index}] {name} validation failed: "
                + format_validation_errors(service_errs)
            )
            continue
        if service.get("AddressMode") == "driver":
            errs.append(DRIVER_ONLY_IN_TASKS.format(name=go_quote(name)))
        key = name + service.get("PortLabel", "")
        if unique and key in known_services:
            errs.append(f"Service {name} is duplicate")
        known_services.add(key)
        for check in service.get("Checks") or []:
            task_name = check.get("TaskName", "")
            if not task_name:
                continue
            check_name = check.get("Name", "")
            # gone from v1.4.2 (structs.go): any check may name its task
            if check.get("Type") not in ("script", "grpc") and not target.at_least(1, 4, 2):
                errs.append(
                    f"Check {check_name} invalid: only script and gRPC checks should have tasks"
                )
            if check.get("AddressMode") == "driver":
                # Nomad names the service here, not the check
                errs.append(
                    f'Check {go_quote(name)} invalid: cannot use address_mode="driver", only '
                    'checks defined in a "task" service block can use this mode'
                )
            if task_name not in known_tasks:
                errs.append(f"Check {check_name} invalid: refers to non-existent task {task_name}")
    return errs


def script_checks_without_task(group: Mapping[str, Any]) -> list[str]:
    """validateScriptChecksInGroupServices: a group's script check needs a task to run in."""
    return [
        f"Service [{group.get('Name', '')}]->{service.get('Name', '')} or Check "
        f"{check.get('Name', '')} must specify task parameter"
        for service in group.get("Services") or []
        if not service.get("TaskName")
        for check in service.get("Checks") or []
        if check.get("Type") == "script" and not check.get("TaskName")
    ]


_GO_ATOI = re.compile(r"[+-]?[0-9]+")


def validate_task_services(
    task: Mapping[str, Any], networks: list[Any], target: Target
) -> list[str]:
    """validateServices (the task's): each service, unique names, and the ports they use."""
    errs: list[str] = []
    service_ports: dict[str, set[str]] = {}
    known: set[str] = set()
    for index, service in enumerate(task.get("Services") or []):
        name = service.get("Name", "")
        service_errs = validate_service(service, target)
        if service_errs:
            errs.append(
                f"service[{index}] {go_quote(name)} validation failed: "
                + format_validation_errors(service_errs)
            )
        if service.get("AddressMode") == "alloc":
            errs.append(
                f'service {go_quote(name)} cannot use address_mode="alloc", only services '
                'defined in a "group" block can use this mode'
            )
        key = name + service.get("PortLabel", "")
        if key in known:
            errs.append(f"service {go_quote(name)} is duplicate")
        known.add(key)
        label = service.get("PortLabel", "")
        # numeric labels are ports of the driver's network in address_mode "driver"
        if label and not (service.get("AddressMode") == "driver" and _GO_ATOI.fullmatch(label)):
            service_ports.setdefault(label, set()).add(name)
        if service.get("Connect") is not None:
            errs.append(
                f'service {go_quote(name)} cannot have "connect" block, only services defined '
                'in a "group" block can'
            )
        checks: set[str] = set()
        for check in service.get("Checks") or []:
            problem, port = _task_check_problem(check, service, checks)
            errs += problem
            if port:
                service_ports.setdefault(port, set()).add(name)
    labels = _port_labels(networks[:1])
    labels |= _port_labels((task.get("Resources") or {}).get("Networks") or [])
    for port in sorted(service_ports):
        if port not in labels:
            names = ", ".join(sorted(service_ports[port]))
            errs.append(f"port label {go_quote(port)} referenced by services {names} does not exist")
    return errs


def _task_check_problem(
    check: Mapping[str, Any], service: Mapping[str, Any], seen: set[str]
) -> tuple[list[str], str | None]:
    """One check of a task's service: its problems, and the port label it needs."""
    errs: list[str] = []
    name = check.get("Name", "")
    if name in seen:
        errs.append(f"check {go_quote(name)} is duplicate")
    seen.add(name)
    mode = check.get("AddressMode", "")
    if mode == "alloc":
        # Nomad names the service here, not the check
        errs.append(
            f'check {go_quote(service.get("Name", ""))} cannot use address_mode="alloc", only '
            'checks defined in a "group" service block can use this mode'
        )
    if check.get("Type") not in ("grpc", "http", "tcp"):  # ServiceCheck.RequiresPort
        return errs, None
    port = check.get("PortLabel") or service.get("PortLabel", "")
    if not port:
        errs.append(f"check {go_quote(name)} is missing a port")
        return errs, None
    if _GO_ATOI.fullmatch(port):
        number = int(port)
        if mode == "driver":
            if number <= 0:
                errs.append(f"check {go_quote(name)} has invalid numeric port {number}")
        else:
            errs.append(
                f'check {go_quote(name)} cannot use a numeric port {number} without setting '
                'address_mode="driver"'
            )
        return errs, None
    return errs, port


def _port_labels(networks: list[Any]) -> set[str]:
    return {
        str(port.get("Label", ""))
        for network in networks
        if network
        for key in ("ReservedPorts", "DynamicPorts")
        for port in network.get(key) or []
    }
