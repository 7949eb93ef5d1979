"""The server's Connect admission hooks: what they add to a group, and what they refuse.

Pure.  Source: nomad/job_endpoint_hook_connect.go and job_endpoint_hook_expose_check.go
v1.0.18.  Nomad's validate endpoint runs its mutators (canonicalize, connect,
expose-check, implied constraints), then its validators (connect, expose-check,
``Job.Validate``) on the mutated job (nomad/job_endpoint.go v1.0.18):

* a mutator's error fails the whole request (HTTP 500, ``error in job mutator
  <name>: <error>``, no ``ValidationErrors``): ``mutate_job`` returns that text;
* each validator's first error becomes one entry of ``ValidationErrors``, before
  ``Job.Validate``'s: ``connect_validators.hook_errors``.

The connect mutator injects the sidecar and gateway tasks (validated like any task)
and their ports.  Not modelled: ``${NOMAD_*}`` interpolation of the service name, and
the random suffix Nomad gives an injected task whose name is taken (``-xxxxxx`` here).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.canonical_defaults import SECOND
from reconciler.jobspec.validate.connect import (
    INGRESS_PREFIX,
    NATIVE_PREFIX,
    PROXY_PREFIX,
    TERMINATING_PREFIX,
    gateway_prefix,
    has_sidecar,
    is_gateway,
    is_native,
    task_kind_value,
)
from reconciler.jobspec.validate.texts import go_quote

Group = dict[str, Any]


class MutatorError(Exception):
    """An admission mutator refused the job; ``str()`` is Nomad's whole error text."""


def mutate_job(job: dict[str, Any], *, native_only: bool = False) -> str | None:
    """Run the connect and expose-check mutators on the canonical ``job`` in place;
    the request's error text when one refuses it.  ``native_only``: only what every
    release up to 2.0.x does alike, naming the task of a Connect native service."""
    try:
        for group in job.get("TaskGroups") or []:
            # the connect mutator leaves groups without a network to the validators
            if group.get("Networks"):
                try:
                    _connect_group(group, native_only=native_only)
                except MutatorError as exc:
                    raise MutatorError(f"error in job mutator connect: {exc}") from None
        if native_only:
            return None
        for group in job.get("TaskGroups") or []:
            try:
                _expose_checks(group)
            except MutatorError as exc:
                raise MutatorError(f"error in job mutator expose-check: {exc}") from None
    except MutatorError as exc:
        return str(exc)
    return None


# --- connect mutator (groupConnectHook) ----------------------------------------------


def _connect_group(group: Group, *, native_only: bool) -> None:
    for service in group.get("Services") or []:
        connect = service.get("Connect")
        name = service.get("Name", "")
        if native_only and (has_sidecar(connect) or not is_native(connect)):
            continue
        if has_sidecar(connect):
            task = _task_of_kind(group, f"{PROXY_PREFIX}:{name}")
            if task is None:
                task = _injected_task(group, PROXY_PREFIX, name, sidecar=True)
            if connect.get("SidecarTask") is not None:
                _merge_sidecar_task(connect["SidecarTask"], task)
            port = (connect["SidecarService"] or {}).get("Port") or f"{PROXY_PREFIX}-{name}"
            _inject_port(group, port)
        elif is_native(connect):
            task = named_native_task(group, name, service.get("TaskName", ""))
            task["Kind"] = f"{NATIVE_PREFIX}:{name}"
            service["TaskName"] = task.get("Name", "")
        elif is_gateway(connect):
            gateway = connect["Gateway"] = dict(connect["Gateway"])
            host_network = group["Networks"][0].get("Mode") == "host"
            if not host_network:
                gateway["Proxy"] = _proxy_for_bridge(gateway)
            if gateway.get("Terminating") is not None and not service.get("PortLabel"):
                service["PortLabel"] = f"{TERMINATING_PREFIX}-{name}"
                _inject_port(group, service["PortLabel"])
            prefix = gateway_prefix(gateway)
            if not any(
                task_kind_value(str(t.get("Kind", "")), p) == name
                for t in group.get("Tasks") or []
                for p in (INGRESS_PREFIX, TERMINATING_PREFIX)
            ):
                task = _injected_task(group, prefix, name, sidecar=False)
                if connect.get("SidecarTask") is not None:
                    _merge_sidecar_task(connect["SidecarTask"], task)


def named_native_task(group: Mapping[str, Any], service: str, task_name: str) -> dict[str, Any]:
    """getNamedTaskForNativeService: the named task, or the group's only one."""
    tasks = group.get("Tasks") or []
    group_name = group.get("Name", "")
    if not task_name:
        if len(tasks) == 1:
            return tasks[0]  # type: ignore[no-any-return]
        raise MutatorError(
            f"task for Consul Connect Native service {group_name}->{service} is ambiguous "
            "and must be set"
        )
    for task in tasks:
        if task.get("Name") == task_name:
            return task  # type: ignore[no-any-return]
    raise MutatorError(
        f"task {task_name} named by Consul Connect Native service {group_name}->{service} "
        "does not exist"
    )


def _task_of_kind(group: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    return next((t for t in group.get("Tasks") or [] if t.get("Kind") == kind), None)


def _injected_task(group: Group, prefix: str, service: str, *, sidecar: bool) -> dict[str, Any]:
    """newConnectSidecarTask / newConnectGatewayTask, as Task.Canonicalize leaves them."""
    name = f"{prefix}-{service}"
    if any(t.get("Name") == name for t in group.get("Tasks") or []):
        name += "-xxxxxx"  # Nomad appends 6 random characters
    consul = ">= 1.6.0-beta1" if sidecar else ">= 1.8.0"
    task: dict[str, Any] = {
        "Name": name,
        "Kind": f"{prefix}:{service}",
        "Driver": "docker",
        "Config": {},
        "ShutdownDelay": 5 * SECOND,
        "LogConfig": {"MaxFiles": 2, "MaxFileSizeMB": 2},
        "Resources": {"CPU": 250, "MemoryMB": 128},
        "Constraints": [
            {"LTarget": "${attr.consul.version}", "RTarget": consul, "Operand": "semver"}
        ],
        "RestartPolicy": copy.deepcopy(group.get("RestartPolicy")),
    }
    if sidecar:
        task["Lifecycle"] = {"Hook": "prestart", "Sidecar": True}
    group.setdefault("Tasks", []).append(task)
    return task


def _merge_sidecar_task(sidecar: Mapping[str, Any], task: dict[str, Any]) -> None:
    """SidecarTask.MergeIntoTask, on the block as api.SidecarTask.Canonicalize leaves it."""
    if sidecar.get("Name"):
        task["Name"] = sidecar["Name"]
    driver = sidecar.get("Driver") or ""
    if driver and driver != task.get("Driver"):
        task["Driver"], task["Config"] = driver, sidecar.get("Config")
    else:
        task["Config"] = {**(task.get("Config") or {}), **(sidecar.get("Config") or {})}
    if sidecar.get("User"):
        task["User"] = sidecar["User"]
    resources = dict(sidecar.get("Resources") or {})
    for key, default in (("CPU", 100), ("MemoryMB", 300)):  # api.DefaultResources
        if resources.get(key) is None:
            resources[key] = default
    merged = dict(task.get("Resources") or {})
    for key in ("CPU", "MemoryMB", "DiskMB"):
        if resources.get(key):
            merged[key] = resources[key]
    for key in ("Networks", "Devices"):
        if resources.get(key):
            merged[key] = resources[key]
    task["Resources"] = merged
    log_config = dict(sidecar.get("LogConfig") or {})
    merged_logs = dict(task.get("LogConfig") or {})
    for key in ("MaxFiles", "MaxFileSizeMB"):
        value = 10 if log_config.get(key) is None else log_config[key]  # api.DefaultLogConfig
        if value > 0:
            merged_logs[key] = value
    task["LogConfig"] = merged_logs
    kill_timeout = sidecar.get("KillTimeout")
    task["KillTimeout"] = 5 * SECOND if kill_timeout is None else kill_timeout
    task["ShutdownDelay"] = sidecar.get("ShutdownDelay") or 0
    if sidecar.get("KillSignal"):
        task["KillSignal"] = sidecar["KillSignal"]


def _inject_port(group: Group, label: str) -> None:
    network = group["Networks"][0]
    ports = network.setdefault("DynamicPorts", [])
    if not any(port.get("Label") == label for port in ports):
        ports.append({"Label": label, "Value": 0, "To": -1, "HostNetwork": "default"})


def _proxy_for_bridge(gateway: Mapping[str, Any]) -> dict[str, Any]:
    """gatewayProxyForBridge: bind addresses a gateway needs inside a network namespace."""
    proxy = gateway.get("Proxy")
    if proxy is not None and (
        proxy.get("EnvoyGatewayNoDefaultBind")
        or proxy.get("EnvoyGatewayBindTaggedAddresses")
        or proxy.get("EnvoyGatewayBindAddresses")
    ):
        return dict(proxy)
    out: dict[str, Any] = {
        key: (proxy or {}).get(key) for key in ("ConnectTimeout", "EnvoyDNSDiscoveryType", "Config")
    }
    if out["ConnectTimeout"] is None:
        out["ConnectTimeout"] = 5 * SECOND
    ingress, terminating = gateway.get("Ingress"), gateway.get("Terminating")
    if ingress is not None:
        out["EnvoyGatewayNoDefaultBind"] = True
        out["EnvoyGatewayBindAddresses"] = {
            (service or {}).get("Name", ""): {"Address": "0.0.0.0", "Port": listener.get("Port", 0)}
            for listener in ingress.get("Listeners") or []
            if listener is not None
            for service in listener.get("Services") or []
        }
    elif terminating is not None:
        out["EnvoyGatewayNoDefaultBind"] = True
        out["EnvoyGatewayBindAddresses"] = {"default": {"Address": "0.0.0.0", "Port": -1}}
    return out


# --- expose-check mutator ----------------------------------------------------------------


_GO_ATOI = re.compile(r"[+-]?[0-9]+")


def _expose_checks(group: Group) -> None:
    for service in group.get("Services") or []:
        for check in service.get("Checks") or []:
            if not check.get("Expose") or not has_sidecar(service.get("Connect")):
                continue
            exposable = str(check.get("Type", "")).lower() in ("grpc", "http") and str(
                check.get("Path", "")
            ).startswith("/")
            if not exposable:
                continue
            problem = bridge_for_expose(group)
            if problem:
                raise MutatorError(problem)
            if not check.get("PortLabel"):
                label = f"svc_{service.get('Name', '')}_ck_xxxxxx"  # 6 random characters
                group["Networks"][0].setdefault("DynamicPorts", []).append(
                    {"Label": label, "Value": 0, "To": -1, "HostNetwork": "default"}
                )
                check["PortLabel"] = label
            port_label = str(service.get("PortLabel", ""))
            if _port_value(group, port_label) <= 0 and not (
                _GO_ATOI.fullmatch(port_label) and int(port_label) > 0
            ):
                raise MutatorError(
                    "unable to determine local service port for service check "
                    f"{group.get('Name', '')}->{service.get('Name', '')}->{check.get('Name', '')}"
                )


def _port_value(group: Mapping[str, Any], label: str) -> int:
    """Networks.Port: the first reserved, then dynamic, port of that label, per network."""
    for network in group.get("Networks") or []:
        for key in ("ReservedPorts", "DynamicPorts"):
            for port in network.get(key) or []:
                if port.get("Label", "") == label:
                    return int(port.get("Value", 0))
    return 0


def bridge_for_expose(group: Mapping[str, Any]) -> str | None:
    """tgValidateUseOfBridgeMode."""
    if not any(c.get("Expose") for s in group.get("Services") or [] for c in s.get("Checks") or []):
        return None
    networks = group.get("Networks") or []
    name = go_quote(group.get("Name", ""))
    if len(networks) != 1:
        return f"group {name} must specify one bridge network for exposing service check(s)"
    if networks[0].get("Mode", "") != "bridge":
        return f"group {name} must use bridge network for exposing service check(s)"
    return None
