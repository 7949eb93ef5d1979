"""A rolling update whose first new allocation fails, without auto-revert, end to
end against the Nomad fake: Nomad holds the update at one unhealthy allocation
until the progress deadline fails the deployment, the old version keeps serving,
and the reconciler reports exactly that and does not resubmit."""

from __future__ import annotations

import json

import httpx
import pytest

from reconciler.cli import main
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.fake_state import WriteLedger
from tests.support.git import GitCheckout
from tests.support.jobs import updating_job


def test_a_failed_rolling_update_is_reported_failed_with_the_old_version_still_serving(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write_job(updating_job("web", canary=0, auto_revert=False, count=3))
    repo.commit("web v0")
    assert main(["sync", str(repo.root), "--address", fake.address, "--wait", "--timeout", "30"]) == 0

    fake.set_health("web", mode="unhealthy", version=1)  # the new task exits at once
    repo.write_job(updating_job("web", canary=0, auto_revert=False, count=3, Priority=60))
    repo.commit("web v1: broken")
    capsys.readouterr()
    code = main(["sync", str(repo.root), "--address", fake.address, "--wait", "--timeout", "30"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "web.json: deployment failed: Failed due to progress deadline" in out
    # Nomad placed one allocation of the new version and stopped there.
    assert "failed (app: 0/3 healthy, 1 placed, 1 unhealthy)" in out, out

    allocs = httpx.get(f"{fake.address}/v1/job/web/allocations").json()
    serving = sorted((a["JobVersion"], a["ClientStatus"]) for a in allocs if a["DesiredStatus"] == "run")
    assert serving == [(0, "running"), (0, "running"), (1, "failed")]

    assert main(["status", str(repo.root), "--address", fake.address, "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)["jobs"]
    assert (entry["version"], entry["status"]) == (1, "running"), "the job still serves (from version 0)"
    assert (entry["deployment"]["status"], entry["deployment"]["description"]) == ("failed", "Failed due to progress deadline")

    ledger = WriteLedger(fake)
    ledger.mark()
    assert main(["sync", str(repo.root), "--address", fake.address]) == 0
    assert ledger.new() == [], "the failed version is not resubmitted"
