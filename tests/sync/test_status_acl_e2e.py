"""`status` output, and errors a user can act on when the token falls short."""

from __future__ import annotations

import json

import pytest

from reconciler.cli import main
from reconciler.testing.fake_nomad import FakeNomad, HealthModel
from tests.support.git import GitCheckout
from tests.support.jobs import service_job


def test_status_lists_state_version_deployment_and_drift(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("api", "web"):
        repo.write_job(service_job(name))
    repo.commit("jobs")
    assert (
        main(["sync", str(repo.root), "--address", fake.address, "--wait", "--timeout", "30"]) == 0
    )
    repo.write_job(service_job("web", Priority=70))
    repo.write_job(service_job("new"))
    repo.commit("web: priority, new")
    capsys.readouterr()
    assert main(["status", str(repo.root), "--address", fake.address, "--no-color"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["JOB", "NAMESPACE", "STATE", "VERSION", "DEPLOYMENT", "DRIFT"]
    rows = {line.split()[0]: line.split() for line in lines[1:4]}
    assert rows["api"][:5] == ["api", "default", "in_sync", "0", "successful"]
    assert rows["web"][:5] == ["web", "default", "modified", "0", "successful"]
    assert " ".join(rows["web"][5:]) == "1 field differ"
    assert rows["new"][:4] == ["new", "default", "missing", "-"]
    assert lines[-1].startswith(
        f"Status: 1 in_sync, 1 missing, 1 modified; 0 unmanaged; Nomad {fake.version}"
    )
    assert main(["status", str(repo.root), "--address", fake.address, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "status" and doc["summary"] is None
    assert {j["id"]: j["deployment"]["status"] for j in doc["jobs"] if j["deployment"]} == {
        "api": "successful", "web": "successful",
    }  # fmt: skip


@pytest.fixture
def acl_fake() -> FakeNomad:
    with FakeNomad(acl=True, health=HealthModel(time_scale=0.01)) as nomad:
        yield nomad  # type: ignore[misc]


def test_token_without_the_capability_is_named(
    acl_fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    management = acl_fake.bootstrap_acl()
    repo.write_job(service_job("web"))
    repo.commit("web")
    reader = acl_fake.create_token({"default": ["read-job"]})
    code = main(["plan", str(repo.root), "--address", acl_fake.address, "--token", reader])
    err = capsys.readouterr().err
    assert code == 1
    assert "rejected the token" in err and "list-jobs" in err and reader not in err

    lister = acl_fake.create_token({"default": ["list-jobs", "read-job"]})
    # listing every namespace (namespace=*) needs list-jobs everywhere: scope the run
    code = main(["sync", str(repo.root), "--address", acl_fake.address, "--token", lister,
                 "--namespace", "default"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert "web.json: Nomad refused the token" in out and "submit-job" in out and lister not in out

    assert main(["sync", str(repo.root), "--address", acl_fake.address, "--token", management]) == 0
