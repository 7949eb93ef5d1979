"""Failed job writes are classified by cause, in the daemon as a real subprocess.

An error that follows from the file alone (Nomad's validation) waits for the
file to change, retried only on the slow ``--rejected-backoffs``; an error the
cluster caused (an unrecognised 500, a namespace that does not exist yet) is
retried with the ordinary backoff, so the job lands without any file change.
Faults come from the fake's injection over real HTTP.
"""

from __future__ import annotations

import pytest

from tests.support.fake_state import count_of, registers
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

STATE = "nomad_reconciler_job_sync_state"


def test_a_flaky_500_on_a_registration_is_retried_until_applied(
    fake, repo, start_with_web
) -> None:
    daemon = start_with_web()
    before = registers(fake.request_log)

    # The next two registrations fail with a 500 nobody recognises (a proxy, a bug).
    fake.faults.fail_next(
        2, 500, path_prefix="/v1/jobs", method="PUT", body="unexpected EOF from peer"
    )
    repo.write("web.nomad", job_hcl("web", count=3))
    repo.commit()
    wait_until(lambda: count_of(fake, "web") == 3, what="web updated despite two 500s")

    retried = daemon.logs("retrying (cluster): Nomad did not take the job", nomad_job="web")
    assert len(retried) >= 2 and all(r["cause"] == "cluster" for r in retried)
    assert not daemon.logs("rejected (fix the file)")
    assert registers(fake.request_log) - before == 3  # two refused, one accepted
    daemon.wait_metric(
        STATE, lambda v: v == 1, nomad_namespace="default", nomad_job="web", state="in_sync"
    )


def test_a_job_in_a_namespace_created_later_lands_without_a_file_change(
    fake, repo, start_daemon
) -> None:
    repo.write("web.nomad", job_hcl("web"))
    repo.write(
        "api.nomad", job_hcl("api").replace('job "api" {', 'job "api" {\n  namespace = "team2"')
    )
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: count_of(fake, "web") == 1, what="the other job is not held up")
    failed = daemon.wait_log("retrying (cluster): Nomad did not take the job", nomad_job="api")
    assert 'nonexistent namespace "team2"' in failed["error"]
    daemon.wait_metric(
        "nomad_reconciler_job_error",
        lambda v: v == 1,
        nomad_namespace="team2",
        nomad_job="api",
        cause="cluster",
    )

    fake.state.upsert_namespace("team2", "created after the daemon tried")
    wait_until(
        lambda: fake.read_job("api", namespace="team2") is not None,
        what="api created by a retry, the file unchanged",
    )
    daemon.wait_metric(
        STATE, lambda v: v == 1, nomad_namespace="team2", nomad_job="api", state="in_sync"
    )
    assert (
        daemon.metrics().get(
            "nomad_reconciler_job_error", nomad_namespace="team2", nomad_job="api", cause="cluster"
        )
        is None
    )


def test_a_spec_nomad_rejects_is_retried_only_on_the_slow_backoff(fake, repo, start_daemon) -> None:
    repo.write("bad.nomad", job_hcl("bad").replace("count = 1", "count = -1"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address, "--rejected-backoffs", "1s,60s")
    rejected = daemon.wait_log("rejected (fix the file)", nomad_job="bad")
    assert rejected["cause"] == "file" and "count can't be negative" in rejected["error"]
    daemon.wait_metric(
        "nomad_reconciler_job_error",
        lambda v: v == 1,
        nomad_namespace="default",
        nomad_job="bad",
        cause="file",
    )
    # Tried again once after 1s without a file change (the server may have changed),
    # then parked for the next, longer delay.
    wait_until(
        lambda: len(daemon.logs("rejected (fix the file)", nomad_job="bad")) >= 2,
        what="a slow retry",
    )
    second = daemon.logs("rejected (fix the file)", nomad_job="bad")[-1]
    assert second["retry_in_s"] == 60.0
    assert registers(fake.request_log) == 2
