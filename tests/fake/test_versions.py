"""The fake per Nomad release: what it stores and reads back, its list stubs, submissions,
and extra read-back fields for tests that need a Nomad the project does not know.

The last test holds the two independent models against each other: the
project's ``canonicalize_for_version`` and the fake's own ``versions`` module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from reconciler.jobspec.canonical import canonicalize, strip_server_fields
from reconciler.jobspec.canonical_versions import canonicalize_for_version
from reconciler.testing.fake_nomad import FakeNomad
from reconciler.testing.fake_nomad.versions import parse_version

S = 1_000_000_000
VERSIONS = ("1.0.18", "1.6.2", "2.0.5")


def web_job(job_id: str = "web", **fields: Any) -> dict[str, Any]:
    check = {"Type": "tcp", "Interval": 10 * S, "Timeout": 2 * S}
    return {
        "ID": job_id, "Name": job_id, "Type": "service", "Datacenters": ["dc1"],
        "TaskGroups": [{
            "Name": "app",
            "Networks": [{"DynamicPorts": [{"Label": "http"}], "ReservedPorts": [{"Label": "db", "Value": 8080}]}],
            "Services": [{"Name": "web", "PortLabel": "http", "Checks": [dict(check)]}],
            "Tasks": [{
                "Name": "server", "Driver": "mock_driver", "Config": {"run_for": "3600s"},
                "Resources": {"CPU": 50, "MemoryMB": 32, "Networks": [{"MBits": 1, "DynamicPorts": [{"Label": "admin"}]}]},
                "Services": [{"Name": "admin", "PortLabel": "admin", "Checks": [dict(check)]}],
                "Templates": [{"EmbeddedTmpl": "x", "DestPath": "local/x"}],
            }],
        }],
        **fields,
    }  # fmt: skip


@contextmanager
def client(version: str, **options: Any) -> Iterator[httpx.Client]:
    with FakeNomad(version=version, **options) as fake, httpx.Client(base_url=fake.address) as http:
        yield http


def register(http: httpx.Client, job: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = http.put("/v1/jobs", json={"Job": job, **body})
    assert response.status_code == 200, response.text
    read = http.get(f"/v1/job/{job['ID']}").json()
    assert isinstance(read, dict)
    return read


def ports(job: dict[str, Any]) -> list[dict[str, Any]]:
    group = job["TaskGroups"][0]
    networks = group["Networks"] + group["Tasks"][0]["Resources"]["Networks"]
    return [p for n in networks for p in (n["ReservedPorts"] or []) + (n["DynamicPorts"] or [])]


@pytest.mark.parametrize("version", VERSIONS)
def test_stored_job_per_release(version: str) -> None:
    v = parse_version(version)
    with client(version) as http:
        job = register(http, web_job())
    group, task = job["TaskGroups"][0], job["TaskGroups"][0]["Tasks"][0]
    service, task_service = group["Services"][0], task["Services"][0]
    assert [p["HostNetwork"] for p in ports(job)] == ["default"] * 3
    assert all(("IgnoreCollision" in p) == (v >= (1, 9, 0)) for p in ports(job))
    assert job.get("NodePool") == ("default" if v >= (1, 6, 0) else None)
    assert ("NodePool" in job) == (v >= (1, 6, 0))
    assert service.get("Provider") == ("consul" if v >= (1, 3, 0) else None)
    assert task_service.get("TaskName") == ("server" if v >= (1, 4, 0) else "")
    assert task_service["Checks"][0].get("OnUpdate") == ("require_healthy" if v >= (1, 1, 0) else None)
    assert task["LogConfig"].get("Disabled") == (False if v >= (1, 5, 5) else None)
    assert group["RestartPolicy"].get("RenderTemplates") == (False if v >= (1, 6, 2) else None)
    assert task["Templates"][0].get("ErrMissingKey") == (False if v >= (1, 4, 3) else None)
    if v >= (1, 7, 0):
        assert task["Identity"]["Name"] == "default"
        assert task["Identity"]["Audience"] == ["nomadproject.io"]
    else:
        assert task.get("Identity") is None
    consul = {(c["LTarget"], c["RTarget"]) for c in group.get("Constraints") or []}
    task_consul = {(c["LTarget"], c["RTarget"]) for c in task.get("Constraints") or []}
    assert (("${attr.consul.version}", ">= 1.8.0") in task_consul) == (v >= (1, 8, 0))
    assert bool(consul) == (v >= (1, 3, 0))


@pytest.mark.parametrize("version", VERSIONS)
def test_datacenters_default_to_all_from_1_5(version: str) -> None:
    job = web_job()
    del job["Datacenters"]
    with client(version) as http:
        response = http.put("/v1/jobs", json={"Job": job})
        read = http.get("/v1/job/web").json() if response.status_code == 200 else None
    if parse_version(version) >= (1, 5, 0):
        assert read is not None and read["Datacenters"] == ["*"]
    else:
        assert response.status_code == 500 and "Missing job datacenters" in response.text


@pytest.mark.parametrize("version", VERSIONS)
def test_resubmitting_the_same_job_plans_no_change(version: str) -> None:
    with client(version, extra_readback={"SomeNewField": "x"}, extra_task_readback={"Weight": 3}) as http:
        register(http, web_job())
        plan = http.put("/v1/job/web/plan", json={"Job": web_job(), "Diff": True}).json()
        again = http.put("/v1/jobs", json={"Job": web_job()}).json()
        read = http.get("/v1/job/web").json()
    assert plan["Diff"]["Type"] == "None", plan["Diff"]
    assert read["Version"] == 0 and again["JobModifyIndex"] == read["JobModifyIndex"]


def test_extra_readback_fields_are_stored_on_every_job_group_and_task() -> None:
    with client("2.0.5", extra_readback={"SomeNewField": "x"}, extra_group_readback={"G": 1},
                extra_task_readback={"T": {"a": 1}}) as http:  # fmt: skip
        job = register(http, web_job())
        # a field this release does not know is dropped from the request, as Go's decoder does
        sent = register(http, web_job("own", SomeNewField="mine"))
    assert job["SomeNewField"] == "x" and job["TaskGroups"][0]["G"] == 1
    assert job["TaskGroups"][0]["Tasks"][0]["T"] == {"a": 1}
    assert sent["SomeNewField"] == "x"


@pytest.mark.parametrize(
    ("version", "namespace_in_stub", "node_pool_in_stub"),
    [("1.0.18", False, False), ("1.1.0", True, False), ("1.6.2", True, True), ("2.0.5", True, True)],
)
def test_list_stubs_per_release(version: str, namespace_in_stub: bool, node_pool_in_stub: bool) -> None:
    with client(version) as http:
        register(http, web_job(Meta={"team": "a"}))
        (stub,) = http.get("/v1/jobs", params={"namespace": "default"}).json()
        (everywhere,) = http.get("/v1/jobs", params={"namespace": "*"}).json()
        (with_meta,) = http.get("/v1/jobs", params={"meta": "true"}).json()
    assert ("Namespace" in stub) is namespace_in_stub
    assert everywhere["Namespace"] == "default"
    assert ("NodePool" in stub) is node_pool_in_stub
    assert "Meta" not in stub
    assert with_meta.get("Meta") == ({"team": "a"} if version != "1.0.18" and version != "1.1.0" else None)


@pytest.mark.parametrize("version", VERSIONS)
def test_agent_self_and_submissions_follow_the_release(version: str) -> None:
    submission = {"Source": 'job "web" {}', "Format": "hcl2"}
    with client(version) as http:
        register(http, web_job(), Submission=submission)
        reported = http.get("/v1/agent/self").json()["config"]["Version"]["Version"]
        stored = http.get("/v1/job/web/submission", params={"version": 0})
    assert reported == version
    if parse_version(version) >= (1, 6, 0):
        assert stored.status_code == 200 and stored.json()["Source"] == submission["Source"]
    else:
        assert stored.status_code == 404


@pytest.mark.parametrize("version", ["1.0.18", "1.1.0", "1.3.0", "1.4.3", "1.5.5", "1.6.2", "1.7.3", "1.8.4",
                                     "1.9.2", "1.10.3", "1.11.3", "2.0.5"])  # fmt: skip
def test_project_model_agrees_with_the_fake_model(version: str) -> None:
    """Two independent models of each release: the project's version layer over its
    canonical form must equal what the fake stores (minus the server's bookkeeping)."""
    with client(version) as http:
        read = register(http, web_job())
    local = canonicalize_for_version(canonicalize(web_job()), parse_version(version))
    assert local == strip_server_fields(read)


def later_job() -> dict[str, Any]:
    """web_job with blocks Nomad added after 1.0, as the converter prints them."""
    job = web_job("later", NodePool="default", UI={"Description": "edge", "Links": [{"Label": "d", "URL": "u"}]})
    group = job["TaskGroups"][0]
    group["Disconnect"] = {"LostAfter": 3600 * S, "StopOnClientAfter": None, "Replace": False, "Reconcile": None}
    group["Services"][0]["Provider"] = "consul"
    task = group["Tasks"][0]
    identity = {"Name": "", "Audience": None, "ChangeMode": "", "ChangeSignal": "", "Env": True, "File": False,
                "Filepath": "", "ServiceName": "", "TTL": 0}  # fmt: skip
    task["Identity"] = identity
    task["Identities"] = [dict(identity, Name="vault_default", Audience=["vault.io"], Env=False, TTL=3600 * S)]
    task["Actions"] = [{"Name": "hello", "Command": "/bin/echo", "Args": ["hi"]}]
    return job


@pytest.mark.parametrize("version", ["1.8.4", "1.9.2", "2.0.5"])
def test_later_blocks_stored_as_the_project_models_them(version: str) -> None:
    """A job using disconnect, node_pool, ui, identities and actions: kept at releases that
    store them, and the two models agree on the read-back (no drift forever)."""
    with client(version) as http:
        read = register(http, later_job())
    assert read["TaskGroups"][0]["Disconnect"] == {
        "LostAfter": 3600 * S, "StopOnClientAfter": None, "Replace": False, "Reconcile": "best_score"
    }  # structs/group.go v1.8.0 DisconnectStrategy.Canonicalize
    assert read["TaskGroups"][0]["Tasks"][0]["Actions"][0]["Command"] == "/bin/echo"
    local = canonicalize_for_version(canonicalize(later_job()), parse_version(version))
    assert local == strip_server_fields(read)


def test_later_blocks_are_dropped_by_a_release_that_does_not_store_them() -> None:
    """Nomad 1.0's HTTP API drops fields it does not know, without a word."""
    with client("1.0.18") as http:
        read = register(http, later_job())
    assert "Disconnect" not in read["TaskGroups"][0] and "NodePool" not in read
    assert "Actions" not in read["TaskGroups"][0]["Tasks"][0]


@pytest.mark.parametrize("version", ["1.7.3", "1.9.2", "1.10.3", "2.0.5"])
def test_fields_disconnect_replaced_per_release(version: str) -> None:
    """max_client_disconnect (1.3.0) and prevent_reschedule_on_lost (1.7.2) are stored until
    1.9.x; from 1.10.0 the API no longer copies them, nor stop_after_client_disconnect
    (command/agent/job_endpoint.go v1.10.0 ApiTgToStructsTG).  Both models agree."""
    job = web_job("old")
    job["TaskGroups"][0].update(MaxClientDisconnect=3600 * S, PreventRescheduleOnLost=True)
    with client(version) as http:
        read = register(http, job)
    group = read["TaskGroups"][0]
    v = parse_version(version)
    assert group["MaxClientDisconnect"] == (3600 * S if v < (1, 10, 0) else None)
    assert group["PreventRescheduleOnLost"] is (v < (1, 10, 0))
    assert canonicalize_for_version(canonicalize(job), v) == strip_server_fields(read)


def template_vault_consul_job() -> dict[str, Any]:
    """web_job with the later fields of template, vault, restart and consul blocks."""
    job = web_job("tvc")
    group = job["TaskGroups"][0]
    group["Consul"] = {"Namespace": "team", "Cluster": "", "Partition": ""}
    group["RestartPolicy"] = {"RenderTemplates": True}
    task = group["Tasks"][0]
    task["Consul"] = {"Namespace": "", "Cluster": "east", "Partition": ""}
    task["Vault"] = {"Policies": ["p"], "Role": "web", "Cluster": "default", "Env": True, "DisableFile": True,
                     "ChangeMode": "restart", "AllowTokenExpiration": True}  # fmt: skip
    task["Templates"] = [{
        "EmbeddedTmpl": "x", "DestPath": "local/x", "ChangeMode": "restart", "Splay": 5 * S, "Perms": "0644",
        "ChangeScript": {"Command": "/bin/reload", "Args": [], "Timeout": 5 * S, "FailOnError": True},
        "Once": True, "Uid": 1000, "Gid": 1000, "Wait": {"Min": 5 * S, "Max": 60 * S}, "ErrMissingKey": True,
    }]  # fmt: skip
    return job


@pytest.mark.parametrize("version", ["1.8.4", "2.0.5"])
def test_template_vault_consul_fields_agree(version: str) -> None:
    """Later template (wait, change_script, uid/gid, once, error_on_missing_key), vault
    (role, cluster, disable_file, allow_token_expiration), restart render_templates and
    consul blocks: stored, and read back as the project models them."""
    with client(version) as http:
        read = register(http, template_vault_consul_job())
    assert read["TaskGroups"][0]["RestartPolicy"]["RenderTemplates"] is True
    assert read["TaskGroups"][0]["Tasks"][0]["Consul"]["Cluster"] == "east"
    local = canonicalize_for_version(canonicalize(template_vault_consul_job()), parse_version(version))
    assert local == strip_server_fields(read)
