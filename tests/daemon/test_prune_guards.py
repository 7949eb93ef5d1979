"""Pruning guards that need time, with the daemon as a real subprocess on a real git
repository: never prune while git is changing the checkout, only after a grace
period, and never more than --max-prune of the owned jobs within --prune-window."""

from __future__ import annotations

import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import DaemonProcess
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

def running(fake: FakeNomad, job_id: str) -> bool:
    job = fake.read_job(job_id)
    return job is not None and not job["Stop"]


def stops(fake: FakeNomad) -> list[str]:
    """Jobs the daemon stopped (``DELETE /v1/job/:id``), in order."""
    return [p.rsplit("/", 1)[1] for m, p, _q, _s in fake.request_log
            if m == "DELETE" and p.startswith("/v1/job/")]  # fmt: skip


def held_logs(daemon: DaemonProcess, job_id: str, words: str) -> list[dict[str, object]]:
    return [r for r in daemon.logs("held", nomad_job=job_id) if words in str(r.get("reason"))]


def test_a_file_moved_while_git_holds_the_index_lock_never_stops_its_job(
    fake, repo: GitCheckout, start_daemon
) -> None:
    repo.write("web.nomad", job_hcl("web"))
    repo.write("api.nomad", job_hcl("api"))
    repo.commit()
    # No grace period: only the checkout-in-progress guard stands between the gap and a stop.
    # The working tree is what is applied (--apply-uncommitted): by default the daemon
    # reads HEAD's tree, which a checkout in progress does not change until it is done.
    daemon = start_daemon(repo.root, fake.address, "--prune", "--prune-grace", "0",
                          "--apply-uncommitted")  # fmt: skip
    wait_until(lambda: running(fake, "web") and running(fake, "api"), what="both created")
    daemon.wait_ready()

    # A checkout in progress: git holds index.lock, deletes the file, writes it back later.
    lock = repo.root / ".git" / "index.lock"
    lock.write_text("")
    text = (repo.root / "web.nomad").read_text()
    (repo.root / "web.nomad").unlink()
    daemon.wait_log("held", nomad_job="web")
    assert held_logs(daemon, "web", "checkout is being changed")
    assert running(fake, "web")
    (repo.root / "web.nomad").write_text(text)
    lock.unlink()
    # The guard re-reads the checkout until git is done; then a full pass looks again.
    settled = daemon.wait_log("prune guards re-check", checkout_busy=False)
    wait_until(lambda: [r for r in daemon.logs("full pass done") if r["ts"] >= settled["ts"]],
               what="a full pass after the checkout settled")
    assert running(fake, "web") and stops(fake) == []
    assert not daemon.logs("pruned")


def test_an_orphan_is_pruned_only_after_the_grace_period(fake, repo, start_daemon) -> None:
    repo.write("web.nomad", job_hcl("web"))
    repo.write("api.nomad", job_hcl("api"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address, "--prune", "--prune-grace", "2s")
    wait_until(lambda: running(fake, "web") and running(fake, "api"), what="both created")
    daemon.wait_ready()

    (repo.root / "api.nomad").unlink()
    repo.commit("remove api")
    daemon.wait_log("held", nomad_job="api")
    assert held_logs(daemon, "api", "--prune-grace")
    # No further file event: the grace period's own re-check prunes it.
    wait_until(lambda: stops(fake) == ["api"], what="api pruned after its grace period")
    assert daemon.wait_log("pruned", nomad_job="api")["operation"] == "stop"
    assert running(fake, "web")


def test_deleting_files_one_at_a_time_cannot_exceed_max_prune(fake, repo, start_daemon) -> None:
    ids = [f"svc{i}" for i in range(10)]
    for job_id in ids:
        repo.write(f"{job_id}.nomad", job_hcl(job_id))
    repo.commit("ten jobs")
    daemon = start_daemon(repo.root, fake.address, "--prune", "--prune-grace", "0",
                          "--max-prune", "0.3", "--prune-window", "10m")
    wait_until(lambda: all(running(fake, j) for j in ids), what="ten jobs created")
    daemon.wait_ready()

    for n, job_id in enumerate(ids[:3], start=1):
        (repo.root / f"{job_id}.nomad").unlink()
        repo.commit(f"remove {job_id}")
        wait_until(lambda n=n: len(stops(fake)) == n, what=f"{job_id} pruned")
    # The fourth deletion alone is one job, but the fourth within the window: held.
    (repo.root / "svc3.nomad").unlink()
    repo.commit("remove svc3")
    daemon.wait_metric("nomad_reconciler_job_held", lambda v: v == 1,
                       nomad_namespace="default", nomad_job="svc3", reason="guard")
    assert held_logs(daemon, "svc3", "within --prune-window")
    assert stops(fake) == ["svc0", "svc1", "svc2"]
    assert running(fake, "svc3")
