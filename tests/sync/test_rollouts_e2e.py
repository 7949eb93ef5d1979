"""Rollouts end to end against the Nomad fake: a failing canary, promotion, index conflicts."""

from __future__ import annotations

import copy
import json
import urllib.request
from typing import Any

import httpx
import pytest

from reconciler.cli import main
from reconciler.config.connection import NomadConfig
from reconciler.core.plan import SyncPolicy
from reconciler.job_plan import JobWrite
from reconciler.jobspec.loader import load_directory
from reconciler.jobspec.variables import VariableInputs
from reconciler.sync.api import Registration
from reconciler.sync.engine import Reconciler
from reconciler.sync.outcome import Result
from reconciler.sync.session import connect
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.fake_state import WriteLedger
from tests.support.git import GitCheckout
from tests.support.jobs import service_job, updating_job


def test_failing_canary_fails_the_sync_then_is_held_not_retried(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write_job(updating_job("web", canary=1, auto_revert=True))
    repo.commit("web v0")
    assert (
        main(["sync", str(repo.root), "--address", fake.address, "--wait", "--timeout", "30"]) == 0
    )

    fake.set_health("web", mode="unhealthy")
    repo.write_job(updating_job("web", canary=1, auto_revert=True, Priority=60))
    repo.commit("web v1: broken")
    capsys.readouterr()
    code = main(["sync", str(repo.root), "--address", fake.address, "--wait", "--timeout", "30",
                 "--promote"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1, out
    assert "web.json: deployment failed" in out or "web.json: deployment superseded" in out

    # Nomad rolled back: the latest deployment is now the rollback's, not the failed one.
    assert fake.wait_for(lambda: (fake.latest_deployment("web") or {}).get("JobVersion") == 2)
    failed = next(d for d in httpx.get(f"{fake.address}/v1/job/web/deployments").json()
                  if d["JobVersion"] == 1)  # fmt: skip
    ledger = WriteLedger(fake)
    ledger.mark()
    capsys.readouterr()
    assert main(["plan", str(repo.root), "--address", fake.address, "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    [entry] = doc["jobs"]
    assert entry["action"] == "hold" and "held until the file changes" in entry["reason"]
    # The hold quotes the failed deployment, not the rollback's.
    assert failed["StatusDescription"].startswith("Failed due to")
    assert f"failed ({failed['StatusDescription']})" in entry["reason"]
    # and says that a hand change (a job scale) is not healed while it is held.
    assert "job scale, are not healed while it is held" in entry["reason"]
    assert main(["sync", str(repo.root), "--address", fake.address]) == 0
    assert ledger.new() == [], "a failed spec must not be re-submitted"

    fake.set_health("web", mode="healthy")
    repo.write_job(updating_job("web", canary=1, auto_revert=True, Priority=61))
    repo.commit("web v2: fixed")
    assert main(["sync", str(repo.root), "--address", fake.address, "--wait", "--timeout", "30",
                 "--promote"]) == 0  # fmt: skip
    assert ledger.new() == [("register", "web")]


class MeddlingApi:
    """Wraps the real client: someone else registers the job right before our register."""

    def __init__(self, inner: Any, fake: FakeNomad, job: dict[str, Any], times: int) -> None:
        self._inner = inner
        self._fake = fake
        self._job = job
        self._times = times

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def register_job(self, registration: Registration) -> JobWrite:
        if self._times > 0:
            self._times -= 1
            meddled = copy.deepcopy(self._job)
            meddled["Priority"] = 70 + self._times
            self._fake.run_job_out_of_band(meddled)
        return await self._inner.register_job(registration)


@pytest.mark.parametrize(("meddles", "expected"), [(1, Result.UPDATED), (2, Result.FAILED)])
async def test_concurrent_change_replans_once_over_http(
    fake: FakeNomad, repo: GitCheckout, meddles: int, expected: Result
) -> None:
    repo.write_job(service_job("web"))
    config = NomadConfig(address=fake.address)
    policy = SyncPolicy(supersede_active=True)
    async with connect(config) as api:
        snap = load_directory(repo.root, inputs=VariableInputs())
        await Reconciler(api, policy).reconcile(snap)
        repo.write_job(service_job("web", count=2))
        snap = load_directory(repo.root, inputs=VariableInputs())
        meddling = MeddlingApi(api, fake, service_job("web"), meddles)
        result = await Reconciler(meddling, policy).reconcile(snap)  # type: ignore[arg-type]
    [outcome] = result.outcomes
    assert outcome.result is expected and outcome.conflict_retried
    if expected is Result.FAILED:
        assert "changed in Nomad while syncing" in outcome.message


async def test_a_create_refused_because_the_job_appeared_is_reported_as_the_update_it_became(
    fake: FakeNomad, repo: GitCheckout
) -> None:
    """Nomad refuses the create (``Enforcing job modify index 0: job already exists``): the
    re-planned write is an update with the job's index, and is reported as one."""
    repo.write_job(service_job("web", count=2))
    async with connect(NomadConfig(address=fake.address)) as api:
        snap = load_directory(repo.root, inputs=VariableInputs())
        meddling = MeddlingApi(api, fake, service_job("web"), 1)  # created by hand meanwhile
        result = await Reconciler(meddling, SyncPolicy()).reconcile(snap)  # type: ignore[arg-type]
    [outcome] = result.outcomes
    assert outcome.action.create and outcome.conflict_retried
    assert outcome.result is Result.UPDATED
    assert (fake.read_job("web") or {}).get("TaskGroups", [{}])[0].get("Count") == 2


def test_a_wave_that_fails_to_become_healthy_stops_later_waves(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    db = updating_job("db", canary=1, auto_revert=True, Meta={"gitops.wave": "-1"})
    db["TaskGroups"][0]["Update"].update(Canary=0, AutoRevert=False)
    repo.write_job(db)
    repo.write_job(service_job("web"))
    repo.commit("db before web")
    fake.set_health("db", mode="unhealthy")
    ledger = WriteLedger(fake)
    capsys.readouterr()
    code = main(["sync", str(repo.root), "--address", fake.address, "--wait", "--timeout", "30"])
    out = capsys.readouterr().out
    assert code == 1
    assert "db.json: deployment failed" in out
    assert "wave -1 did not become healthy; later waves not started" in out
    assert ledger.new() == [("register", "db")], "web (wave 0) must not be submitted"


async def test_engine_takes_a_nomad_client_directly(fake: FakeNomad, repo: GitCheckout) -> None:
    from reconciler.nomad.client import NomadClient

    repo.write_job(service_job("web"))
    snap = load_directory(repo.root, inputs=VariableInputs())
    async with NomadClient(NomadConfig(address=fake.address)) as client:
        engine = Reconciler(client, SyncPolicy(wait=True), timeout_s=30)
        result = await engine.reconcile(snap)
        [outcome] = result.outcomes
        assert outcome.result is Result.CREATED
        assert outcome.rollout is not None and outcome.rollout.status == "successful"
        again = await engine.reconcile(snap)
        assert [o.result for o in again.outcomes] == [Result.UNCHANGED]


def test_deployment_cap_runs_rollouts_one_after_another(fake: FakeNomad, repo: GitCheckout) -> None:
    for name in ("a", "b", "c"):
        repo.write_job(service_job(name))
    repo.commit("three")
    argv = ["sync", str(repo.root), "--address", fake.address, "--wait", "--timeout", "30",
            "--max-concurrent", "1"]  # fmt: skip
    assert main(argv) == 0
    spans = []
    for name in ("a", "b", "c"):
        with urllib.request.urlopen(f"{fake.address}/v1/job/{name}/deployment", timeout=10) as resp:
            dep = json.loads(resp.read())
        assert dep["Status"] == "successful"
        spans.append((dep["CreateIndex"], dep["ModifyIndex"]))
    spans.sort()
    # each deployment was finished (its last change) before the next one was created
    assert all(done < spans[i + 1][0] for i, (_, done) in enumerate(spans[:-1])), spans


def test_sync_wait_reports_a_job_nomad_cannot_place_as_soon_as_nomad_knows(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    """The node has no docker driver: Nomad's evaluation fails to place the group and blocks;
    the sync says why and fails instead of waiting for the deployment's deadline."""
    job = service_job("web")
    job["TaskGroups"][0]["Tasks"][0]["Driver"] = "docker"
    job["TaskGroups"][0]["Tasks"][0]["Config"] = {"image": "busybox:1"}
    repo.write_job(job)
    repo.commit("web on docker")
    capsys.readouterr()
    code = main(["sync", str(repo.root), "--address", fake.address, "--wait", "--timeout", "20"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert (
        'deployment blocked: Nomad cannot place the job: task group "app" failed to place '
        '1 allocation: Constraint "missing drivers": 1 nodes excluded by filter '
        "(its evaluation is blocked until capacity appears)"
    ) in out
