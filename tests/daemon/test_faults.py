"""The daemon (a real subprocess) through a loopback proxy that injects faults while
commits land in a real git repository.

The proxy answers some requests with 500 or 502 itself, drops connections
before forwarding and after Nomad applied a write, delays requests and cuts
the event stream.  Every commit changes two jobs to a spec never seen before.
Afterwards, with the faults off, the cluster must equal the repository, no
declared job may ever have been stopped, and no spec may have been registered
twice (each accepted registration carries a different job).
"""

from __future__ import annotations

import random

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.fault_proxy import FaultProxy
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

JOBS = ("web", "api", "db", "cache")
COMMITS = 12


def matches(fake: FakeNomad, job_id: str, count: int, arg: str) -> bool:
    job = fake.read_job(job_id)
    if job is None or job["Stop"]:
        return False
    group = job["TaskGroups"][0]
    return bool(group["Count"] == count and group["Tasks"][0]["Config"]["args"][0] == arg)


@pytest.mark.timeout(120)
def test_faults_while_commits_land_end_in_the_repository_state(tmp_path, start_daemon) -> None:
    rng = random.Random(20261202)
    want = {job_id: (1, "0") for job_id in JOBS}
    upstream = GitCheckout(tmp_path / "upstream")
    for job_id in JOBS:
        upstream.write(f"{job_id}.nomad", job_hcl(job_id, count=1, arg="0"))
    upstream.commit("four jobs")
    # The daemon watches a clone that pulls each commit, as a git-sync'ed checkout would.
    upstream.git("clone", "-q", str(upstream.root), str(tmp_path / "jobs"))
    checkout = GitCheckout(tmp_path / "jobs")
    # Frequent heartbeats let the proxy cut an idle event stream on time.
    with FakeNomad(heartbeat_s=0.25) as fake, FaultProxy(fake.address, seed=7) as proxy:
        daemon = start_daemon(checkout.root, proxy.address)
        daemon.wait_log("first full pass done", timeout=30)  # watching the checkout
        for n in range(1, COMMITS + 1):
            for job_id in rng.sample(JOBS, 2):
                want[job_id] = (rng.randint(1, 3), str(n))  # a spec no commit had before
                count, arg = want[job_id]
                upstream.write(f"{job_id}.nomad", job_hcl(job_id, count=count, arg=arg))
            upstream.commit(f"change {n}")
            seen = len(daemon.logs("job files changed"))
            checkout.git("pull", "-q", "--ff-only")
            # Commits land while the daemon works; each is loaded before the next (bounded).
            wait_until(lambda seen=seen: len(daemon.logs("job files changed")) > seen,
                       timeout=30, what=f"change {n} loaded")
        proxy.enabled = False
        wait_until(lambda: all(matches(fake, j, *want[j]) for j in JOBS), timeout=60,
                   what="the cluster equal to the repository")

        assert sum(proxy.stats.injected.values()) >= 10, proxy.stats.injected
        # No declared job was ever stopped: no stop reached Nomad, no version is stopped.
        assert [p for m, p, _q, _s in fake.request_log if m == "DELETE"] == []
        for job_id in JOBS:
            versions = httpx.get(f"{fake.address}/v1/job/{job_id}/versions", timeout=5).json()
            assert not [v["Version"] for v in versions["Versions"] if v["Stop"]], job_id
        # No spec was registered twice (a lost answer must not cause a second register).
        accepted = [(r.job_id, r.digest) for r in proxy.stats.registrations if r.status == 200]
        assert len(accepted) == len(set(accepted)), accepted
        assert daemon.stop() == 0
