"""The server's connect and expose-check admission validators.

Pure.  Source: ``groupConnectValidate`` (nomad/job_endpoint_hook_connect.go) and the
expose-check hook's ``Validate`` (job_endpoint_hook_expose_check.go), v1.0.18 unless
a function says otherwise.  They run on the job the mutators (``connect_hooks``)
left; each validator's first error is one entry of ``ValidationErrors``, before
``Job.Validate``'s (nomad/job_endpoint.go v1.0.18).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.jobspec.validate.connect import has_sidecar, is_gateway, is_native
from reconciler.jobspec.validate.connect_hooks import (
    MutatorError,
    bridge_for_expose,
    named_native_task,
)
from reconciler.jobspec.validate.target import Target
from reconciler.jobspec.validate.texts import go_quote


def hook_errors(job: Mapping[str, Any], target: Target) -> list[str]:
    """The connect and expose-check validators' errors (each its first), in that order.

    Past 1.0 only what is known to be the same: a native service's task (to v2.0.x)
    and, from 1.1.0 to 1.10.x, a sidecar's network and lowercase names."""
    errs: list[str] = []
    groups = job.get("TaskGroups") or []
    checks: tuple[Callable[[Mapping[str, Any]], str | None], ...]
    if not target.at_least(1, 1, 0):
        checks = (_connect_validate, _expose_validate)
    elif not target.at_least(2, 0, 0):
        checks = (_sidecar_and_native_validate,)
    else:
        checks = (_native_validate,)
    for check in checks:
        for group in groups:
            problem = check(group)
            if problem:
                errs.append(problem)
                break
    return errs


def _connect_validate(group: Mapping[str, Any]) -> str | None:
    """groupConnectValidate: the network a sidecar or gateway needs; a native service's task."""
    networks = group.get("Networks") or []
    name = group.get("Name", "")
    for service in group.get("Services") or []:
        connect = service.get("Connect")
        if has_sidecar(connect):
            if len(networks) != 1:
                return (
                    "Consul Connect sidecars require exactly 1 network, "
                    f"found {len(networks)} in group {go_quote(name)}"
                )
            mode = networks[0].get("Mode", "")
            if mode != "bridge":
                return (
                    f"Consul Connect sidecar requires bridge network, found {go_quote(mode)} "
                    f"in group {go_quote(name)}"
                )
        elif is_native(connect):
            try:
                named_native_task(group, service.get("Name", ""), service.get("TaskName", ""))
            except MutatorError as exc:
                return str(exc)
        elif is_gateway(connect):
            if len(networks) != 1:
                return (
                    "Consul Connect gateways require exactly 1 network, "
                    f"found {len(networks)} in group {go_quote(name)}"
                )
            if networks[0].get("Mode", "") not in ("bridge", "host"):
                return (
                    "Consul Connect Gateway service requires Task Group with network mode "
                    'of type "bridge" or "host"'
                )
    return None


def _sidecar_and_native_validate(group: Mapping[str, Any]) -> str | None:
    """groupConnectValidate's sidecar and native parts, v1.1.0 to v1.10.x (gateways and
    upstreams, which changed in between, are not modelled)."""
    networks = group.get("Networks") or []
    name = str(group.get("Name", ""))
    for service in group.get("Services") or []:
        connect = service.get("Connect")
        service_name = str(service.get("Name", ""))
        if has_sidecar(connect):
            if len(networks) != 1:
                return (
                    "Consul Connect sidecars require exactly 1 network, "
                    f"found {len(networks)} in group {go_quote(name)}"
                )
            mode = networks[0].get("Mode", "")
            if mode != "bridge":
                return (
                    f"Consul Connect sidecar requires bridge network, found {go_quote(mode)} "
                    f"in group {go_quote(name)}"
                )
            # Consul assumes lowercase names (job_endpoint_hook_connect.go v1.1.0)
            if service_name != service_name.lower():
                return (
                    f"Consul Connect service name {go_quote(service_name)} in group "
                    f"{go_quote(name)} must not contain uppercase characters"
                )
            if name != name.lower():
                return (
                    f"Consul Connect group {go_quote(name)} with service "
                    f"{go_quote(service_name)} must not contain uppercase characters"
                )
        elif is_native(connect):
            try:
                named_native_task(group, service_name, service.get("TaskName", ""))
            except MutatorError as exc:
                return str(exc)
    return None


def _native_validate(group: Mapping[str, Any]) -> str | None:
    """groupConnectNativeValidate alone (getNamedTaskForNativeService: the same texts
    from v1.0.18 to v2.0.x)."""
    for service in group.get("Services") or []:
        connect = service.get("Connect")
        if is_native(connect) and not has_sidecar(connect):
            try:
                named_native_task(group, service.get("Name", ""), service.get("TaskName", ""))
            except MutatorError as exc:
                return str(exc)
    return None


def _expose_validate(group: Mapping[str, Any]) -> str | None:
    """tgValidateUseOfBridgeMode, then tgValidateUseOfCheckExpose."""
    problem = bridge_for_expose(group)
    if problem:
        return problem
    name = group.get("Name", "")
    for service in group.get("Services") or []:
        for check in service.get("Checks") or []:
            if check.get("Expose") and not has_sidecar(service.get("Connect")):
                return (
                    f"exposed service check {name}->{service.get('Name', '')}->"
                    f"{check.get('Name', '')} requires use of sidecar_proxy"
                )
    for task in group.get("Tasks") or []:
        for service in task.get("Services") or []:
            for check in service.get("Checks") or []:
                if check.get("Expose"):
                    return (
                        f"exposed service check {name}[{task.get('Name', '')}]->"
                        f"{service.get('Name', '')}->{check.get('Name', '')} is not a "
                        "task-group service"
                    )
    return None
