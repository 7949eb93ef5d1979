"""No write Nomad answered with an error is ever logged or counted as a success.

One scenario per write the daemon makes (register create and update,
deregister as a stop or a purge, promotion): the Nomad fake answers that one
request with an error, and the daemon's log and
``nomad_reconciler_sync_operations_total`` must say so.  The daemon runs as a
real subprocess over HTTP; waits are bounded polls.
"""

from __future__ import annotations

import pytest

from tests.support.daemon import DaemonProcess
from tests.support.fake_state import count_of
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

OP = "nomad_reconciler_sync_operations_total"
REJECTED = "1 error occurred:\n\t* Task group app validation failed: injected refusal"


def successes(daemon: DaemonProcess) -> dict[str, float]:
    metrics = daemon.metrics()
    return {
        op: metrics.get(OP, operation=op, result="success") or 0
        for op in ("create", "update", "stop", "purge", "promote")
    }


def test_a_refused_create_is_a_failure(fake, repo, start_daemon) -> None:
    repo.write("web.nomad", job_hcl("web"))
    repo.commit()
    fake.faults.fail_next(1, 500, "/v1/jobs", body=REJECTED, method="PUT")
    daemon = start_daemon(repo.root, fake.address)
    daemon.wait_metric(OP, lambda v: v == 1, operation="create", result="rejected")
    assert fake.read_job("web") is None
    assert not daemon.logs("registered", nomad_job="web")
    assert successes(daemon)["create"] == 0


def test_a_refused_update_is_a_failure(fake, repo, start_daemon) -> None:
    repo.write("web.nomad", job_hcl("web", count=1))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    daemon.wait_metric(OP, lambda v: v == 1, operation="create", result="success")
    daemon.wait_ready()

    fake.faults.fail_next(1, 500, "/v1/jobs", body=REJECTED, method="PUT")
    repo.write("web.nomad", job_hcl("web", count=2))
    repo.commit("two")
    daemon.wait_metric(OP, lambda v: v == 1, operation="update", result="rejected")
    assert count_of(fake, "web") == 1
    assert not daemon.logs("registered", nomad_job="web", operation="update")
    assert successes(daemon)["update"] == 0


def test_a_conflicting_create_is_counted_as_a_conflict_not_hidden(
    fake, repo, start_daemon
) -> None:
    """Nomad's ``Enforcing job modify index 0: job already exists``: the refused create is a
    conflict; only the write Nomad then accepted is a success."""
    repo.write("web.nomad", job_hcl("web"))
    repo.commit()
    fake.faults.fail_next(
        1, 500, "/v1/jobs", body="Enforcing job modify index 0: job already exists", method="PUT"
    )
    daemon = start_daemon(repo.root, fake.address)
    daemon.wait_metric(OP, lambda v: v == 1, operation="create", result="conflict")
    daemon.wait_log("Nomad refused the write: the job changed in Nomad meanwhile; re-planned",
                    nomad_job="web")
    # The re-planned create (the job was in fact absent) went through: one success.
    wait_until(lambda: fake.read_job("web") is not None, what="web created")
    daemon.wait_metric(OP, lambda v: v == 1, operation="create", result="success")
    assert len(daemon.logs("registered", nomad_job="web")) == 1


@pytest.mark.parametrize(("flags", "op"), [(("--prune", "--prune-grace", "0"), "stop"),
                                           (("--prune", "--prune-grace", "0", "--purge"), "purge")])
def test_a_refused_prune_is_a_failure(fake, repo, start_daemon, flags, op) -> None:
    for job_id in ("web", "api"):
        repo.write(f"{job_id}.nomad", job_hcl(job_id))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address, *flags)
    daemon.wait_metric(OP, lambda v: v == 2, operation="create", result="success")
    daemon.wait_ready()

    fake.faults.fail_next(1, 403, "/v1/job/web", body="Permission denied", method="DELETE")
    repo.git("rm", "-q", "web.nomad")
    repo.commit("remove web")
    daemon.wait_metric(OP, lambda v: v == 1, operation=op, result="rejected")
    assert not (fake.read_job("web") or {}).get("Stop")
    assert not daemon.logs("pruned", nomad_job="web")
    assert successes(daemon)[op] == 0


def test_a_failed_promotion_is_a_failure(fake, repo, start_daemon) -> None:
    meta = {"gitops.promote-after": "0s"}
    repo.write("web.nomad", job_hcl("web", canary=1, meta=meta, arg="1"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="first deployment")

    fake.faults.fail_next(1, 500, "/v1/deployment/promote", body="rpc error: injected")
    repo.write("web.nomad", job_hcl("web", canary=1, meta=meta, arg="2"))
    repo.commit("canary")
    failed = daemon.wait_log("promoting canaries failed; will retry", nomad_job="web")
    assert "rpc error: injected" in failed["error"]
    daemon.wait_metric(OP, lambda v: v == 1, operation="promote", result="unavailable")
    # The retry promotes it: a success, logged after the failure.
    daemon.wait_log("promoted canaries", nomad_job="web", timeout=30)
    daemon.wait_metric(OP, lambda v: (v or 0) >= 1, operation="promote", result="success")
    order = [r["msg"] for r in daemon.logs() if "promot" in str(r.get("msg"))]
    assert order.index("promoting canaries failed; will retry") < order.index("promoted canaries")
