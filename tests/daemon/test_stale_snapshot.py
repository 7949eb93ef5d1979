"""A full pass that waits never writes a spec older than one already applied.

A full pass first looks at the rollouts it follows, then takes the pass lock.
While it looks (Nomad is slow to answer about one deployment), a commit lands
and its own batch registers the new spec.  The full pass must then plan with
the checkout as it is when it holds the lock, not as it was when the pass was
queued: otherwise it re-registers the previous commit's spec over the new one
(seen under the fault proxy as the same spec registered twice).
"""

from __future__ import annotations

import signal

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.fake_state import count_of
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

SLOW_S = 3.0  # how long Nomad takes to answer about the followed canary deployment


def _counts(fake: FakeNomad, job_id: str) -> list[int]:
    """The group count of every version of the job, oldest first."""
    answer = httpx.get(f"{fake.address}/v1/job/{job_id}/versions", timeout=5).json()
    versions = sorted(answer["Versions"], key=lambda v: v["Version"])
    return [v["TaskGroups"][0]["Count"] for v in versions]


def test_a_waiting_full_pass_does_not_undo_a_newer_commit(
    fake: FakeNomad, repo: GitCheckout, start_daemon
) -> None:
    repo.write("slow.nomad", job_hcl("slow", canary=1, arg="1"))
    repo.write("web.nomad", job_hcl("web", count=1))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: all((fake.latest_deployment(j) or {}).get("Status") == "successful"
                           for j in ("slow", "web")), what="first deployments")  # fmt: skip
    # A canary left awaiting promotion: the daemon follows that rollout.
    repo.write("slow.nomad", job_hcl("slow", canary=1, arg="2"))
    repo.commit("canary")
    daemon.wait_log("rollout awaiting promotion", nomad_job="slow")

    fake.faults.add_latency(SLOW_S, path_prefix="/v1/job/slow/deployment")
    passes = len(daemon.logs("full pass done"))
    daemon.signal(signal.SIGHUP)  # a full pass: its rollout check of "slow" now waits
    daemon.wait_log("configuration reloaded")
    repo.write("web.nomad", job_hcl("web", count=2))
    repo.commit("scale web")
    wait_until(lambda: count_of(fake, "web") == 2, timeout=SLOW_S, what="the commit applied")
    wait_until(lambda: len(daemon.logs("full pass done")) > passes, timeout=SLOW_S + 10,
               what="the waiting full pass done")  # fmt: skip
    fake.faults.clear()

    assert count_of(fake, "web") == 2
    assert _counts(fake, "web") == [1, 2]  # never back to the previous commit's count
