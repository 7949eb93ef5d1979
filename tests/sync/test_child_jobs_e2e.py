"""Periodic and parameterized parents declared in the repository, end to end
against the Nomad fake: the parents sync like any job, and the child jobs Nomad
launches from them (``periodic/force``, ``dispatch``) carry the parent's
ownership stamp yet are never pruned as orphans nor reported as drift."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from reconciler.cli import main
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.fake_state import WriteLedger
from tests.support.git import GitCheckout


def _batch(job_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "ID": job_id, "Name": job_id, "Type": "batch", "Datacenters": ["dc1"], **extra,
        "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [
            {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}},
        ]}],
    }  # fmt: skip


def test_declared_parents_sync_and_their_children_are_left_alone(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write_job(_batch("nightly", Periodic={"Enabled": True, "Spec": "0 3 * * *", "SpecType": "cron"}))
    repo.write_job(_batch("render", ParameterizedJob={"Payload": "optional", "MetaRequired": ["team"]}))
    repo.commit("two parents")
    assert main(["sync", str(repo.root), "--address", fake.address, "--wait", "--timeout", "30"]) == 0
    assert {j["ID"]: j["Status"] for j in httpx.get(f"{fake.address}/v1/jobs").json()} == {
        "nightly": "running", "render": "running",
    }

    forced = httpx.post(f"{fake.address}/v1/job/nightly/periodic/force")
    dispatched = httpx.post(f"{fake.address}/v1/job/render/dispatch", json={"Meta": {"team": "web"}})
    assert forced.status_code == dispatched.status_code == 200
    children = {j["ID"] for j in httpx.get(f"{fake.address}/v1/jobs").json() if j["ParentID"]}
    assert len(children) == 2
    child = httpx.get(f"{fake.address}/v1/job/{dispatched.json()['DispatchedJobID']}").json()
    assert child["Meta"], "a child carries its parent's meta, ownership stamp included"

    capsys.readouterr()
    assert main(["plan", str(repo.root), "--address", fake.address, "--json", "--prune"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {entry["id"]: entry["action"] for entry in doc["jobs"]} == {"nightly": "none", "render": "none"}
    assert doc["in_sync"] is True

    ledger = WriteLedger(fake)
    ledger.mark()
    assert main(["sync", str(repo.root), "--address", fake.address, "--prune"]) == 0
    assert ledger.new() == [], "no write: the parents are in sync and the children are not ours to prune"
    assert children <= {j["ID"] for j in httpx.get(f"{fake.address}/v1/jobs").json()}
