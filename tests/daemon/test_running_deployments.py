"""A running deployment: a new commit supersedes it; healing an out-of-band change waits for it.

Git is the source of truth, so a commit must never wait behind a canary left awaiting
promotion (Nomad cancels the old deployment "due to newer version").  But a deployment
started out of band (someone's ``nomad job run``) is left to finish: the daemon holds
the job, says why, and heals it once the deployment has ended.
"""

from __future__ import annotations

import copy
import dataclasses

import httpx

from reconciler.core.diff import DriftState, JobDrift
from reconciler.core.plan import HoldReason, SyncPolicy, may_supersede
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.fake_state import count_of
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl, make_job
from tests.support.waiting import wait_until


def _args(fake: FakeNomad, job_id: str) -> list[str]:
    job = fake.read_job(job_id) or {}
    return list(job["TaskGroups"][0]["Tasks"][0]["Config"]["args"])


def test_may_supersede_lets_new_specs_through_and_holds_healing() -> None:
    desired = dataclasses.replace(make_job("a"), digest="new")

    def drift(live_digest: str | None) -> JobDrift:
        return JobDrift(("default", "a"), DriftState.MODIFIED, live_digest=live_digest)

    everyone = SyncPolicy(supersede_active=True)
    assert may_supersede(desired, drift("new"), everyone)
    assert not may_supersede(desired, drift("old"), SyncPolicy())
    limited = SyncPolicy(supersede_active=True, supersede_only=frozenset({("default", "b")}))
    assert may_supersede(desired, drift("old"), limited)  # the file moved on since applied
    assert not may_supersede(desired, drift("new"), limited)  # same spec: out-of-band drift
    assert not may_supersede(desired, drift(None), limited)  # unstamped: run by hand
    changed = SyncPolicy(supersede_active=True, supersede_only=frozenset({("default", "a")}))
    assert may_supersede(desired, drift(None), changed)  # its file changed: a new spec


def test_a_new_commit_supersedes_a_deployment_awaiting_promotion(
    fake: FakeNomad, repo: GitCheckout, start_daemon
) -> None:
    repo.write("web.nomad", job_hcl("web", canary=1, arg="1"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="first deployment")  # fmt: skip
    repo.write("web.nomad", job_hcl("web", canary=1, arg="2"))
    repo.commit("canary")
    daemon.wait_log("rollout awaiting promotion", nomad_job="web")
    waiting = (fake.latest_deployment("web") or {})["ID"]

    repo.write("web.nomad", job_hcl("web", canary=1, arg="3"))
    repo.commit("the next commit does not wait for the canary")
    wait_until(lambda: _args(fake, "web") == ["3"], what="the new commit registered")
    # Nomad creates the new deployment a moment after the registration, and cancels the old.
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("ID") not in (None, waiting),
               what="the new commit's deployment")  # fmt: skip
    old = httpx.get(f"{fake.address}/v1/deployment/{waiting}", timeout=5).json()
    assert old["Status"] == "cancelled", old["StatusDescription"]


def test_healing_waits_for_an_out_of_band_deployment_to_finish(
    fake: FakeNomad, repo: GitCheckout, start_daemon
) -> None:
    repo.write("web.nomad", job_hcl("web", count=2, canary=1, arg="1"))
    repo.commit()
    first = start_daemon(repo.root, fake.address)
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="first deployment")  # fmt: skip
    assert first.stop() == 0
    # Someone runs a changed copy of the job by hand: its canary awaits their promotion.
    # (With the daemon stopped meanwhile, their deployment surely exists when it looks:
    # Nomad creates a deployment a moment after the registration it belongs to.)
    by_hand = copy.deepcopy(fake.read_job("web"))
    by_hand["TaskGroups"][0]["Tasks"][0]["Config"]["args"] = ["by-hand"]
    by_hand["Meta"] = None
    fake.run_job_out_of_band(by_hand)
    theirs = wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "running"
                        and fake.latest_deployment("web"), what="their deployment")  # fmt: skip

    daemon = start_daemon(repo.root, fake.address)
    held = daemon.wait_log("held", nomad_job="web")
    assert "changed out of band while deployment" in held["reason"]
    assert "held until it finishes" in held["reason"]
    daemon.wait_metric("nomad_reconciler_job_held", lambda v: v == 1, nomad_namespace="default",
                       nomad_job="web", reason=HoldReason.ACTIVE_DEPLOYMENT.value)  # fmt: skip
    assert _args(fake, "web") == ["by-hand"]
    assert (fake.latest_deployment("web") or {})["ID"] == theirs["ID"]

    # Their rollout ends (promoted and healthy): now the declared spec comes back.
    response = httpx.put(f"{fake.address}/v1/deployment/promote/{theirs['ID']}",
                         json={"DeploymentID": theirs["ID"], "All": True}, timeout=5)  # fmt: skip
    assert response.status_code == 200, response.text
    wait_until(lambda: _args(fake, "web") == ["1"], timeout=30, what="healed after their deployment")
    assert count_of(fake, "web") == 2
