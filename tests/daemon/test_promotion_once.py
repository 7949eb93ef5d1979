"""A canary deployment is promoted once, however many triggers look at it meanwhile.

Two triggers used to decide promotion on their own: the per-job rollout check
(timer, deployment events) and the rollout check of every full pass, outside
the pass lock.  While one promote request was on its way, the other saw the
same deployment still awaiting promotion and sent a second one.  Promotion is
now a planned action of the engine (pass lock, one worker per job) and the
daemon remembers the deployment it promoted.

The promote request is slowed down (the fake's latency fault) so that many
full passes (``--resync-interval 300ms``) look at the rollout while it is in
flight.
"""

from __future__ import annotations

import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

PROMOTE = "/v1/deployment/promote/"


def promote_requests(fake: FakeNomad) -> list[tuple[str, str, str, int]]:
    return [r for r in fake.request_log if r[1].startswith(PROMOTE)]


def test_a_canary_deployment_gets_one_promote_request(fake, repo, start_daemon) -> None:
    meta = {"gitops.promote-after": "0s"}
    repo.write("web.nomad", job_hcl("web", count=2, canary=1, meta=meta, arg="1"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address, "--resync-interval", "300ms")
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="first deployment")
    fake.set_health("web", mode="healthy", after_s=0.3)
    fake.faults.add_latency(1.5, PROMOTE)

    repo.write("web.nomad", job_hcl("web", count=2, canary=1, meta=meta, arg="2"))
    repo.commit("new version: canary")
    daemon.wait_log("promoted canaries", nomad_job="web", timeout=30)
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="canary deployment successful", timeout=30)
    canary_deployment = (fake.latest_deployment("web") or {})["ID"]
    # Stopping waits for the daemon's work in flight: every request it sent has its answer,
    # and the fake logs a request before it answers.
    assert daemon.stop() == 0

    promotes = promote_requests(fake)
    assert [(path, status) for _m, path, _q, status in promotes] == [
        (PROMOTE + canary_deployment, 200)
    ]
    assert len(daemon.logs("promoted canaries", nomad_job="web")) == 1
