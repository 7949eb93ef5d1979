"""ACL tokens and namespace policies, as Nomad 1.0.18 resolves them.

Responsible for bootstrap, token and policy records, turning a request's
``X-Nomad-Token`` into an identity (with Nomad's texts for anonymous,
unknown and malformed tokens) and answering "may this identity do
capability X in namespace N".  No HTTP here.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

READ_CAPS = {"list-jobs", "read-job", "read-logs", "read-fs", "parse-job", "read-job-scaling"}
WRITE_CAPS = READ_CAPS | {
    "submit-job", "dispatch-job", "alloc-exec", "alloc-lifecycle", "scale-job", "alloc-node-exec",
    "csi-write-volume", "csi-mount-volume",
}
_POLICY_CAPS = {"read": READ_CAPS, "write": WRITE_CAPS, "scale": {"list-jobs", "read-job", "scale-job", "read-job-scaling"}}


class ACLDenied(Exception):
    """Carries the HTTP status and Nomad's text for an ACL refusal."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


@dataclass
class Token:
    accessor_id: str
    secret_id: str
    name: str
    type: str  # "management" | "client"
    policies: list[str] | None
    create_index: int
    create_time: str
    global_: bool = False

    def to_json(self) -> dict[str, Any]:
        digest = hashlib.sha256(f"{self.name}{self.type}{self.policies}{self.secret_id}".encode()).digest()
        return {
            "AccessorID": self.accessor_id, "CreateIndex": self.create_index, "CreateTime": self.create_time,
            "Global": self.global_, "Hash": base64.b64encode(digest).decode(), "ModifyIndex": self.create_index,
            "Name": self.name, "Policies": self.policies, "SecretID": self.secret_id, "Type": self.type,
        }


@dataclass
class Policy:
    name: str
    description: str
    rules: str
    namespaces: dict[str, set[str]] = field(default_factory=dict)
    create_index: int = 0

    def to_json(self) -> dict[str, Any]:
        digest = hashlib.sha256(f"{self.name}{self.rules}".encode()).digest()
        return {
            "CreateIndex": self.create_index, "Description": self.description,
            "Hash": base64.b64encode(digest).decode(), "ModifyIndex": self.create_index,
            "Name": self.name, "Rules": self.rules,
            "RulesJSON": {
                "Agent": None, "HostVolumes": None,
                "Namespaces": [
                    {"Capabilities": sorted(caps), "Name": ns, "Policy": ""}
                    for ns, caps in self.namespaces.items()
                ],
                "Node": None, "Operator": None, "Plugin": None, "Quota": None, "Raw": self.rules,
            },
        }


_NS_BLOCK = re.compile(r'namespace\s+"([^"]+)"\s*\{(.*?)\}', re.S)
_CAPS = re.compile(r"capabilities\s*=\s*\[(.*?)\]", re.S)
_POLICY = re.compile(r'policy\s*=\s*"(\w+)"')


def parse_rules(rules: str) -> dict[str, set[str]]:
    """Namespace capabilities from a policy's HCL rules (``namespace "x" {...}`` blocks)."""
    out: dict[str, set[str]] = {}
    for name, body in _NS_BLOCK.findall(rules):
        caps: set[str] = set()
        for match in _CAPS.findall(body):
            caps |= set(re.findall(r'"([^"]+)"', match))
        for policy in _POLICY.findall(body):
            caps |= _POLICY_CAPS.get(policy, set())
        out[name] = caps
    return out


@dataclass(frozen=True)
class Identity:
    management: bool
    namespaces: dict[str, frozenset[str]]

    def allows(self, capability: str, namespace: str) -> bool:
        if self.management:
            return True
        caps = self.namespaces.get(namespace) or self.namespaces.get("*") or frozenset()
        return capability in caps


ANONYMOUS = Identity(False, {})
MANAGEMENT = Identity(True, {})


class ACLStore:
    """Tokens and policies; callers hold the fake's state lock."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bootstrap_index: int | None = None
        self.tokens: dict[str, Token] = {}
        self.policies: dict[str, Policy] = {}

    def new_token(self, *, name: str, type_: str, policies: list[str] | None, index: int, now: str, global_: bool = False) -> Token:
        token = Token(str(uuid.uuid4()), str(uuid.uuid4()), name, type_, policies, index, now, global_)
        self.tokens[token.secret_id] = token
        return token

    def resolve(self, secret: str | None) -> Identity:
        """The caller's identity; raises ``ACLDenied`` for malformed or unknown tokens."""
        if not self.enabled:
            return MANAGEMENT
        if not secret:
            return ANONYMOUS
        if len(secret) != 36:
            raise ACLDenied(500, "acl token lookup failed: index error: UUID must be 36 characters")
        token = self.tokens.get(secret)
        if token is None:
            raise ACLDenied(403, "ACL token not found")
        if token.type == "management":
            return MANAGEMENT
        merged: dict[str, set[str]] = {}
        for name in token.policies or []:
            policy = self.policies.get(name)
            for ns, caps in (policy.namespaces if policy else {}).items():
                merged.setdefault(ns, set()).update(caps)
        return Identity(False, {ns: frozenset(caps) for ns, caps in merged.items()})
