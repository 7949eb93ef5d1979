"""canonicalize_for_version: the read-back of each later Nomad release (tables per version).

Expected values come from Nomad's source at the tags named in
``reconciler/jobspec/canonical_versions.py``; 1.0.18 is also pinned by the
recording (tests/golden/api/15-host-network.jsonl).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.jobspec.canonical import canonicalize, strip_server_fields
from reconciler.jobspec.canonical_versions import Version, canonicalize_for_version

SECOND = 1_000_000_000
GOLDEN_API = Path(__file__).resolve().parents[1] / "golden" / "api"

VERSIONS: tuple[Version, ...] = (
    (1, 0, 18), (1, 1, 0), (1, 2, 16), (1, 3, 0), (1, 4, 3), (1, 5, 5), (1, 6, 0), (1, 6, 2),
    (1, 7, 0), (1, 7, 3), (1, 8, 0), (1, 8, 4), (1, 9, 2), (1, 10, 0), (1, 10, 3), (1, 11, 0),
    (2, 0, 0), (2, 0, 5),
)  # fmt: skip


def rich_job(**job_fields: Any) -> dict[str, Any]:
    """One job touching every kind of object the version layer fills."""
    check = {"Type": "http", "Path": "/", "Interval": 10 * SECOND, "Timeout": 2 * SECOND}
    task = {
        "Name": "web",
        "Driver": "docker",
        "Config": {"image": "nginx"},
        "Resources": {"Networks": [{"MBits": 1, "DynamicPorts": [{"Label": "admin"}]}]},
        "Services": [{"Name": "web-admin", "PortLabel": "admin", "Checks": [dict(check)]}],
        "Templates": [{"EmbeddedTmpl": "x", "DestPath": "local/x"}],
        "Artifacts": [{"GetterSource": "https://example.com/a.tgz"}],
        "VolumeMounts": [{"Volume": "data", "Destination": "/data"}],
        "Vault": {"Policies": ["web"]},
    }
    group = {
        "Name": "app",
        "Networks": [
            {
                "Mode": "bridge",
                "DynamicPorts": [{"Label": "http"}],
                "ReservedPorts": [{"Label": "db", "Value": 8080}],
            }
        ],
        "Services": [{"Name": "web", "PortLabel": "http", "Checks": [dict(check)]}],
        "Volumes": {"data": {"Name": "data", "Type": "host", "Source": "data"}},
        "Tasks": [task],
    }
    return canonicalize({"ID": "j", "TaskGroups": [group], **job_fields})


def at(version: Version, **job_fields: Any) -> dict[str, Any]:
    return canonicalize_for_version(rich_job(**job_fields), version)


def group(job: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = job["TaskGroups"][0]
    return result


def task(job: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = group(job)["Tasks"][0]
    return result


Getter = Callable[[dict[str, Any]], Any]
FIELDS: dict[str, Getter] = {
    "Datacenters": lambda j: j.get("Datacenters"),
    "NodePool": lambda j: j.get("NodePool"),
    "ConsulNamespace": lambda j: j.get("ConsulNamespace"),
    "group Consul": lambda j: group(j).get("Consul"),
    "PreventRescheduleOnLost": lambda j: group(j).get("PreventRescheduleOnLost"),
    "port HostNetwork": lambda j: group(j)["Networks"][0]["DynamicPorts"][0]["HostNetwork"],
    "port IgnoreCollision": lambda j: group(j)["Networks"][0]["ReservedPorts"][0].get(
        "IgnoreCollision"
    ),
    "task port IgnoreCollision": lambda j: task(j)["Resources"]["Networks"][0]["DynamicPorts"][
        0
    ].get("IgnoreCollision"),
    "service Provider": lambda j: group(j)["Services"][0].get("Provider"),
    "service Namespace": lambda j: group(j)["Services"][0].get("Namespace"),
    "service OnUpdate": lambda j: group(j)["Services"][0].get("OnUpdate"),
    "service Cluster": lambda j: group(j)["Services"][0].get("Cluster"),
    "service Kind": lambda j: group(j)["Services"][0].get("Kind"),
    "group service TaskName": lambda j: group(j)["Services"][0].get("TaskName"),
    "task service TaskName": lambda j: task(j)["Services"][0].get("TaskName"),
    "task check TaskName": lambda j: task(j)["Services"][0]["Checks"][0].get("TaskName"),
    "check OnUpdate": lambda j: task(j)["Services"][0]["Checks"][0].get("OnUpdate"),
    "check Notes": lambda j: group(j)["Services"][0]["Checks"][0].get("Notes"),
    "Resources Cores": lambda j: task(j)["Resources"].get("Cores"),
    "Resources SecretsMB": lambda j: task(j)["Resources"].get("SecretsMB"),
    "LogConfig Disabled": lambda j: task(j)["LogConfig"].get("Disabled"),
    "restart RenderTemplates": lambda j: (
        group(j)["RestartPolicy"].get("RenderTemplates"),
        task(j)["RestartPolicy"].get("RenderTemplates"),
    ),
    "template ErrMissingKey": lambda j: task(j)["Templates"][0].get("ErrMissingKey"),
    "template Once": lambda j: task(j)["Templates"][0].get("Once"),
    "vault Policies": lambda j: task(j)["Vault"].get("Policies"),
    "vault Cluster": lambda j: task(j)["Vault"].get("Cluster"),
    "artifact Chown": lambda j: task(j)["Artifacts"][0].get("Chown"),
    "volume Sticky": lambda j: group(j)["Volumes"]["data"].get("Sticky"),
    "mount SELinuxLabel": lambda j: task(j)["VolumeMounts"][0].get("SELinuxLabel"),
    "Identity": lambda j: task(j).get("Identity"),
}

DEFAULT_IDENTITY_17 = {
    "Name": "default",
    "Audience": ["nomadproject.io"],
    "ChangeMode": "",
    "ChangeSignal": "",
    "Env": False,
    "File": False,
    "ServiceName": "",
    "TTL": 0,
}
# (field, [(first version, value from then on)]): before the first entry the value is None.
HISTORY: dict[str, list[tuple[Version, Any]]] = {
    "Datacenters": [((1, 5, 0), ["*"])],
    "NodePool": [((1, 6, 0), "default")],
    "ConsulNamespace": [((1, 1, 0), "")],
    "group Consul": [
        ((1, 1, 0), {"Namespace": ""}),
        ((1, 7, 0), {"Namespace": "", "Cluster": "default"}),
        ((1, 7, 3), {"Namespace": "", "Cluster": "default", "Partition": ""}),
        ((1, 10, 0), None),
    ],
    "PreventRescheduleOnLost": [((1, 7, 2), False)],
    "port HostNetwork": [((1, 0, 0), "default")],
    "port IgnoreCollision": [((1, 9, 0), False)],
    "task port IgnoreCollision": [((1, 9, 0), False)],
    "service Provider": [((1, 3, 0), "consul")],
    "service Namespace": [((1, 1, 0), "default")],
    "service OnUpdate": [((1, 1, 0), "require_healthy")],
    "service Cluster": [((1, 7, 0), "default")],
    "service Kind": [((1, 10, 3), "")],
    "group service TaskName": [((1, 0, 0), "")],
    "task service TaskName": [((1, 0, 0), ""), ((1, 4, 0), "web")],
    "task check TaskName": [((1, 0, 0), ""), ((1, 4, 0), "web")],
    "check OnUpdate": [((1, 1, 0), "require_healthy")],
    "check Notes": [((1, 8, 1), "")],
    "Resources Cores": [((1, 1, 0), 0)],
    "Resources SecretsMB": [((1, 8, 3), 0)],
    "LogConfig Disabled": [((1, 5, 5), False)],
    "restart RenderTemplates": [((1, 0, 0), (None, None)), ((1, 6, 2), (False, False))],
    "template ErrMissingKey": [((1, 4, 3), False)],
    "template Once": [((1, 10, 2), False)],
    "vault Policies": [((1, 0, 0), ["web"]), ((1, 10, 0), None)],
    "vault Cluster": [((1, 7, 0), "default")],
    "artifact Chown": [((1, 9, 2), False)],
    "volume Sticky": [((1, 10, 0), False)],
    "mount SELinuxLabel": [((1, 8, 0), "")],
    "Identity": [
        ((1, 7, 0), DEFAULT_IDENTITY_17),
        ((1, 9, 0), {**DEFAULT_IDENTITY_17, "Filepath": ""}),
    ],
}


def expected(name: str, version: Version) -> Any:
    value = None
    for since, then in HISTORY[name]:
        if version >= since:
            value = then
    return value


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: ".".join(map(str, v)))
@pytest.mark.parametrize("name", sorted(HISTORY))
def test_field_read_back_per_version(name: str, version: Version) -> None:
    assert FIELDS[name](at(version)) == expected(name, version)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: ".".join(map(str, v)))
def test_pure_idempotent_and_1_0_unchanged(version: Version) -> None:
    job = rich_job()
    before = copy.deepcopy(job)
    once = canonicalize_for_version(job, version)
    assert job == before
    assert canonicalize_for_version(once, version) == once
    if version < (1, 1, 0):
        assert once == job and once is not job


# (first version, LTarget, RTarget, where): the implied constraints of the rich job.
CONSTRAINTS: list[tuple[Version, Version, str, str, str]] = [
    ((1, 3, 0), (1, 7, 0), "${attr.consul.version}", ">= 1.7.0", "group"),
    ((1, 7, 0), (9, 0, 0), "${attr.consul.version}", ">= 1.8.0", "group"),
    ((1, 8, 0), (9, 0, 0), "${attr.consul.version}", ">= 1.8.0", "task"),
    ((1, 8, 0), (9, 0, 0), "${attr.plugins.cni.version.bridge}", ">= 0.4.0", "group"),
    ((1, 8, 0), (9, 0, 0), "${attr.plugins.cni.version.portmap}", ">= 0.4.0", "group"),
    ((1, 0, 0), (9, 0, 0), "${attr.vault.version}", ">= 0.6.1", "group"),
]


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: ".".join(map(str, v)))
def test_implied_constraints_per_version(version: Version) -> None:
    job = at(version)
    found = {
        "group": {(c["LTarget"], c["RTarget"]) for c in group(job).get("Constraints") or ()},
        "task": {(c["LTarget"], c["RTarget"]) for c in task(job).get("Constraints") or ()},
    }
    for since, until, ltarget, rtarget, where in CONSTRAINTS:
        assert ((ltarget, rtarget) in found[where]) == (since <= version < until), (ltarget, where)
    # one consul constraint per object (matched on LTarget), never both requirements at once
    assert sum(lt == "${attr.consul.version}" for lt, _ in found["group"]) <= 1


@pytest.mark.parametrize("version", [(1, 3, 0), (1, 7, 0), (2, 0, 5)], ids=str)
def test_nomad_services_use_the_job_namespace_and_their_own_constraint(version: Version) -> None:
    job = canonicalize(
        {
            "ID": "j",
            "Namespace": "team",
            "TaskGroups": [
                {
                    "Name": "g",
                    "Services": [
                        {
                            "Name": "s",
                            "Provider": "nomad",
                            "Checks": [{"Type": "tcp", "Interval": SECOND}],
                        }
                    ],
                    "Tasks": [{"Name": "t", "Driver": "exec"}],
                }
            ],
        }
    )
    got = group(canonicalize_for_version(job, version))
    assert got["Services"][0]["Namespace"] == "team"
    constraints = {(c["LTarget"], c["RTarget"], c["Operand"]) for c in got["Constraints"]}
    assert ("${attr.nomad.service_discovery}", "true", "=") in constraints
    assert (("${attr.nomad.version}", ">= 1.4.0", "semver") in constraints) == (
        version >= (1, 5, 0)
    )
    assert not any(c[0] == "${attr.consul.version}" for c in constraints)


def test_consul_constraint_quirk_of_1_7_needs_a_group_service() -> None:
    """1.7.x only looked at task services inside its loop over the group's services."""
    job = canonicalize(
        {
            "ID": "j",
            "TaskGroups": [
                {
                    "Name": "g",
                    "Tasks": [{"Name": "t", "Driver": "exec", "Services": [{"Name": "s"}]}],
                }
            ],
        }
    )
    constrained = {
        version: [
            c["LTarget"]
            for obj in (
                group(canonicalize_for_version(job, version)),
                task(canonicalize_for_version(job, version)),
            )
            for c in obj.get("Constraints") or ()
        ]
        for version in ((1, 6, 0), (1, 7, 7), (1, 8, 0))
    }
    assert constrained == {
        (1, 6, 0): ["${attr.consul.version}"],
        (1, 7, 7): [],
        (1, 8, 0): ["${attr.consul.version}"],
    }


def test_minimal_job_invents_nothing_it_does_not_use() -> None:
    """No services, vault, templates, volumes or networks: none of their defaults appear."""
    job = canonicalize(
        {
            "ID": "j",
            "Datacenters": ["dc1"],
            "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}],
        }
    )
    got = canonicalize_for_version(job, (2, 0, 5))
    assert got["Datacenters"] == ["dc1"]
    added_job = set(got) - set(job)
    assert added_job == {"NodePool", "ConsulNamespace"}
    g, t = group(got), task(got)
    assert set(g) - set(group(job)) == {"PreventRescheduleOnLost"}
    assert set(t) - set(task(job)) == {"Identity"}
    assert "Constraints" not in g and "Constraints" not in t
    assert set(t["Resources"]) - set(task(job)["Resources"]) == {
        "Cores",
        "MemoryMaxMB",
        "SecretsMB",
    }


def test_declared_identities_keep_theirs_and_default_moves_to_identity() -> None:
    job = canonicalize(
        {"ID": "j", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}]}
    )
    task(job)["Identities"] = [
        {"Name": "default", "Env": True, "ChangeSignal": "sighup"},
        {"Name": "vault_default", "Audience": ["vault.io"], "TTL": 3600 * SECOND},
    ]
    t = task(canonicalize_for_version(job, (1, 8, 0)))
    assert t["Identity"] == {**DEFAULT_IDENTITY_17, "Env": True, "ChangeSignal": "SIGHUP"}
    assert t["Identities"] == [
        {"Name": "vault_default", "Audience": ["vault.io"], "TTL": 3600 * SECOND, "ChangeMode": "",
         "ChangeSignal": "", "Env": False, "File": False, "ServiceName": ""}
    ]  # fmt: skip


def test_system_jobs_get_the_default_update_from_1_11() -> None:
    job = canonicalize(
        {
            "ID": "j",
            "Type": "system",
            "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}],
        }
    )
    assert "Update" not in group(job)
    old, new = canonicalize_for_version(job, (1, 10, 5)), canonicalize_for_version(job, (1, 11, 0))
    assert "Update" not in group(old)
    assert new["Update"]["MaxParallel"] == 1 and new["Update"]["Stagger"] == 30 * SECOND
    assert group(new)["Update"]["HealthCheck"] == "checks"


def test_disconnect_block_is_filled_only_when_written() -> None:
    job = rich_job()
    assert "Disconnect" not in group(canonicalize_for_version(job, (2, 0, 5)))
    group(job)["Disconnect"] = {"LostAfter": 60 * SECOND}
    got = group(canonicalize_for_version(job, (1, 8, 0)))["Disconnect"]
    assert got == {"LostAfter": 60 * SECOND, "Replace": True, "Reconcile": "best_score"}


def test_1_0_18_recording_matches_the_canonical_form() -> None:
    """The registered job of the recording, canonicalized, equals Nomad 1.0.18's read-back."""
    exchanges = [
        json.loads(line) for line in (GOLDEN_API / "15-host-network.jsonl").read_text().splitlines()
    ]
    sent = exchanges[0]["request"]["body"]["Job"]
    read_back = strip_server_fields(exchanges[1]["response"]["body"])
    assert canonicalize_for_version(canonicalize(sent), (1, 0, 18)) == read_back
