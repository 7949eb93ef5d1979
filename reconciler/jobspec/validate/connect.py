"""A service's ``connect`` block: ConsulConnect.Validate and the gateway structs under it.

Pure.  Source: nomad/structs/services.go v1.0.18 (``ConsulConnect.Validate``,
``ConsulGateway.Validate`` and the proxy, bind address, ingress and terminating
validators).  Each returns the first problem only, as Nomad does.  The blocks are
read as the HTTP API decodes them (``api.ConsulConnect`` canonicalized, then
converted, command/agent/job_endpoint.go v1.0.18): see ``raw_connect``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.canonical_defaults import SECOND
from reconciler.jobspec.validate.texts import go_quote

PROXY_PREFIX = "connect-proxy"  # structs.ConnectProxyPrefix and its siblings, structs.go v1.0.18
NATIVE_PREFIX = "connect-native"
INGRESS_PREFIX = "connect-ingress"
TERMINATING_PREFIX = "connect-terminating"
DEFAULT_GATEWAY_CONNECT_TIMEOUT = 5 * SECOND  # api/services.go v1.0.18

Connect = Mapping[str, Any] | None


def has_sidecar(connect: Connect) -> bool:
    return connect is not None and connect.get("SidecarService") is not None


def is_native(connect: Connect) -> bool:
    return connect is not None and bool(connect.get("Native"))


def is_gateway(connect: Connect) -> bool:
    return connect is not None and connect.get("Gateway") is not None


def gateway_prefix(gateway: Mapping[str, Any]) -> str:
    return INGRESS_PREFIX if gateway.get("Ingress") is not None else TERMINATING_PREFIX


def task_kind_value(kind: str, prefix: str) -> str | None:
    """TaskKind's ``hasPrefix``/``Value``: ``"connect-proxy:web"`` → ``"web"``."""
    if kind.startswith(prefix + ":") and len(kind) > len(prefix) + 1:
        return kind.split(":", 1)[1]
    return None


def raw_connect(connect: Any) -> dict[str, Any] | None:
    """The connect block as the server holds it (``None`` when absent), with the
    api package's defaults (api/services.go v1.0.18): a gateway proxy's
    ``connect_timeout`` (5s) and an ingress listener's protocol (``tcp``)."""
    if not isinstance(connect, Mapping):
        return None
    out = copy.deepcopy(dict(connect))
    gateway = out.get("Gateway")
    if isinstance(gateway, dict):
        proxy = gateway.get("Proxy")
        if isinstance(proxy, dict) and proxy.get("ConnectTimeout") is None:
            proxy["ConnectTimeout"] = DEFAULT_GATEWAY_CONNECT_TIMEOUT
        ingress = gateway.get("Ingress")
        for listener in (ingress.get("Listeners") or []) if isinstance(ingress, dict) else []:
            if isinstance(listener, dict) and not listener.get("Protocol"):
                listener["Protocol"] = "tcp"
    return out


def attach_connect(job: Mapping[str, Any], canonical: dict[str, Any]) -> None:
    """Give the canonical form's services their ``connect`` blocks as the server holds
    them: the normal form drops empty parts (``gateway {}``) that Nomad validates."""
    groups = zip(job.get("TaskGroups") or [], canonical.get("TaskGroups") or [], strict=False)
    for raw_group, group in groups:
        _attach(raw_group.get("Services"), group.get("Services"))
        tasks = zip(raw_group.get("Tasks") or [], group.get("Tasks") or [], strict=False)
        for raw_task, task in tasks:
            _attach(raw_task.get("Services"), task.get("Services"))


def _attach(raw_services: Any, services: Any) -> None:
    for raw, service in zip(raw_services or [], services or [], strict=False):
        connect = raw_connect(_get_folded(raw, "Connect"))
        if connect is None:
            service.pop("Connect", None)
        else:
            service["Connect"] = connect


def _get_folded(mapping: Mapping[str, Any], key: str) -> Any:
    """A key as Go's JSON decoder matches it (case-insensitively)."""
    if key in mapping:
        return mapping[key]
    return next((v for k, v in mapping.items() if k.lower() == key.lower()), None)


def connect_error(connect: Connect, *, gateways: bool = True) -> str | None:
    """ConsulConnect.Validate: exactly one of sidecar, native, gateway (services.go v1.0.18,
    the same to v2.0.x); then the gateway, as 1.0 checks it (``gateways``: from 1.1.0
    ConsulGateway.Validate changed, and is not modelled)."""
    if connect is None:
        return None
    kinds = sum((has_sidecar(connect), is_native(connect), is_gateway(connect)))
    if kinds != 1:
        return (
            "Consul Connect must be exclusively native, make use of a sidecar, "
            "or represent a Gateway"
        )
    if is_gateway(connect) and gateways:
        return gateway_error(connect["Gateway"])
    return None


def gateway_error(gateway: Mapping[str, Any]) -> str | None:
    """ConsulGateway.Validate: the proxy, ingress and terminating entries, then exactly one entry."""
    proxy, ingress, terminating = (gateway.get(k) for k in ("Proxy", "Ingress", "Terminating"))
    problem = (
        (proxy is not None and _gateway_proxy_error(proxy))
        or (ingress is not None and _ingress_error(ingress))
        or (terminating is not None and _terminating_error(terminating))
    )
    if problem:
        return problem
    if (ingress is not None) + (terminating is not None) != 1:
        return "One Consul Gateway Configuration Entry must be set"
    return None


def _gateway_proxy_error(proxy: Mapping[str, Any]) -> str | None:
    if proxy.get("ConnectTimeout") is None:
        return "Consul Gateway Proxy connection_timeout must be set"
    if (proxy.get("EnvoyDNSDiscoveryType") or "") not in ("", "STRICT_DNS", "LOGICAL_DNS"):
        return "Consul Gateway Proxy Envoy DNS Discovery type must be STRICT_DNS or LOGICAL_DNS"
    # a Go map: Nomad reports whichever bad address it meets first (random when several)
    for address in (proxy.get("EnvoyGatewayBindAddresses") or {}).values():
        if address is None:
            continue
        if not address.get("Address"):
            return "Consul Gateway Bind Address must be set"
        port = address.get("Port") or 0
        if port <= 0 and port != -1:  # -1: Nomad fills in the dynamic port
            return "Consul Gateway Bind Address must set valid Port"
    return None


def _ingress_error(ingress: Mapping[str, Any]) -> str | None:
    listeners = ingress.get("Listeners") or []
    if not listeners:
        return "Consul Ingress Gateway requires at least one listener"
    for listener in listeners:
        if listener is None:
            continue
        if (listener.get("Port") or 0) <= 0:
            return "Consul Ingress Listener requires valid Port"
        protocol = listener.get("Protocol") or ""
        if protocol not in ("http", "tcp"):
            return f'Consul Ingress Listener requires protocol of "http" or "tcp", got {go_quote(protocol)}'
        services = listener.get("Services") or []
        if not services:
            return "Consul Ingress Listener requires one or more services"
        for service in services:
            problem = service is not None and _ingress_service_error(service, protocol == "http")
            if problem:
                return problem
    return None


def _ingress_service_error(service: Mapping[str, Any], http: bool) -> str | None:
    name, hosts = service.get("Name") or "", service.get("Hosts") or []
    if not name:
        return "Consul Ingress Service requires a name"
    if http:
        if name != "*" and not hosts:
            return "Consul Ingress Service requires one or more hosts when using HTTP protocol"
    elif name == "*":
        return "Consul Ingress Service supports wildcard names only with HTTP protocol"
    elif hosts:
        return "Consul Ingress Service supports hosts only when using HTTP protocol"
    return None


def _terminating_error(terminating: Mapping[str, Any]) -> str | None:
    services = terminating.get("Services") or []
    if not services:
        return "Consul Terminating Gateway requires at least one service"
    for service in services:
        if service is None:
            continue
        if not service.get("Name"):
            return "Consul Linked Service requires Name"
        ca, cert, key, sni = (bool(service.get(k)) for k in ("CAFile", "CertFile", "KeyFile", "SNI"))
        if (cert or key) and not ca:
            return "Consul Linked Service TLS requires CAFile"
        if cert != key:
            return "Consul Linked Service TLS Cert and Key must both be set"
        if sni and not ca:
            return "Consul Linked Service TLS SNI requires CAFile"
    return None
