"""TaskGroup.validateNetworks: port labels and static ports of the group's and tasks' networks.

Pure.  Source: nomad/structs/structs.go v1.0.18.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.validate.texts import go_quote

MAX_PORT = 65535  # math.MaxUint16


def network_errors(group: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    labels: dict[str, str] = {}
    static: dict[str, dict[int, str]] = {}  # host network -> port -> its owner

    def reserve(port: Mapping[str, Any], owner: str) -> None:
        value = int(port.get("Value") or 0)
        if value == 0:
            return
        ports = static.setdefault(port.get("HostNetwork") or "default", {})
        if value in ports:
            errs.append(f"Static port {value} already reserved by {ports[value]}")
        elif value > MAX_PORT:
            errs.append(f"Port {port.get('Label', '')} ({value}) cannot be greater than {MAX_PORT}")
        else:
            ports[value] = owner

    for network in group.get("Networks") or []:
        for port in _ports(network):
            label = port.get("Label", "")
            if label in labels:
                errs.append(f"Port label {label} already in use by {labels[label]}")
            else:
                labels[label] = "taskgroup network"
            reserve(port, f"taskgroup network:{label}")
            to = int(port.get("To") or 0)
            if to < -1:
                errs.append(f"Port {go_quote(label)} cannot be mapped to negative value {to}")
            elif to > MAX_PORT:
                errs.append(
                    f"Port {go_quote(label)} cannot be mapped to a port ({to}) greater than {MAX_PORT}"
                )
    for task in group.get("Tasks") or []:
        for network in (task.get("Resources") or {}).get("Networks") or []:
            for port in _ports(network):
                label = port.get("Label", "")
                if label in labels:
                    errs.append(f"Port label {label} already in use by {labels[label]}")
                reserve(port, f"{task.get('Name', '')}:{label}")
    return errs


def _ports(network: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*(network.get("ReservedPorts") or []), *(network.get("DynamicPorts") or [])]
