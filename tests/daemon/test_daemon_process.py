"""The daemon as a real subprocess against the Nomad fake over HTTP, on a real git checkout.

Each scenario checks the fake's state (what Nomad runs), its request log (what
the daemon sent), and the daemon's /metrics.  Waits are bounded polls.
"""

from __future__ import annotations

import signal

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.fake_state import count_of, registers
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

OP = "nomad_reconciler_sync_operations_total"



def arg_of(fake: FakeNomad, job_id: str) -> str | None:
    job = fake.read_job(job_id)
    return None if job is None else str(job["TaskGroups"][0]["Tasks"][0]["Config"]["args"][0])


def test_edit_commit_and_checkout_update_the_job(fake, repo, start_with_web) -> None:
    daemon = start_with_web(count=2)
    first = repo.head()

    repo.write("web.nomad", job_hcl("web", count=3))
    second = repo.commit("web: 3")
    wait_until(lambda: count_of(fake, "web") == 3, what="web updated to 3")

    repo.git("checkout", "-q", first)  # roll back by checking out the old commit
    wait_until(lambda: count_of(fake, "web") == 2, what="web back to 2")

    m = daemon.wait_metric(OP, lambda v: v == 2, operation="update", result="success")
    assert m == 2
    # Each revision's rollout ended successfully: commit-to-healthy lead times observed.
    daemon.wait_metric("nomad_reconciler_commit_to_healthy_seconds_count", lambda v: (v or 0) >= 1)
    metrics = daemon.metrics()
    assert metrics.get(OP, operation="create", result="success") == 1
    assert metrics.get("nomad_reconciler_job_sync_state", nomad_namespace="default",
                       nomad_job="web", state="in_sync") == 1
    assert metrics.get("nomad_reconciler_source_revision_info", revision=first) == 1
    assert metrics.get("nomad_reconciler_source_revision_info", revision=second) is None
    assert metrics.get("nomad_reconciler_change_to_registered_seconds_count") == 2
    # The revision is reported, never written into the job.
    assert all(first not in str(v) and second not in str(v)
               for v in (fake.read_job("web") or {}).get("Meta", {}).values())
    assert daemon.stop() == 0


def test_burst_of_50_file_changes_registers_each_job_once(fake, repo, start_daemon) -> None:
    ids = [f"svc{i:02d}" for i in range(50)]
    for job_id in ids:
        repo.write(f"team/{job_id}.nomad", job_hcl(job_id, arg="1"))
    repo.commit("50 jobs")
    repo.git("checkout", "-q", "-b", "bump")
    for job_id in ids:
        repo.write(f"team/{job_id}.nomad", job_hcl(job_id, arg="2"))
    repo.commit("bump all 50")
    repo.git("checkout", "-q", "main")

    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: all(arg_of(fake, j) == "1" for j in ids), what="50 jobs created")
    daemon.wait_ready()
    fake.clear_request_log()

    repo.git("checkout", "-q", "bump")  # one burst of 50 file writes
    wait_until(lambda: all(arg_of(fake, j) == "2" for j in ids), what="50 jobs updated")
    # A sentinel change afterwards: once it is registered, the burst is fully processed.
    repo.write("zz.nomad", job_hcl("zz"))
    repo.commit("sentinel")
    wait_until(lambda: fake.read_job("zz") is not None, what="sentinel")
    # The fake logs a request after answering it: wait for the log to catch up.
    wait_until(lambda: registers(fake.request_log) >= 51, what="request log")
    assert registers(fake.request_log) == 51
    assert all((fake.read_job(j) or {}).get("Version") == 1 for j in ids)
    daemon.wait_metric("nomad_reconciler_jobs", lambda v: v == 51, state="in_sync")
    assert daemon.metrics().get(OP, operation="update", result="success") == 50


def _out_of_band(fake: FakeNomad, job_id: str, *, count: int) -> None:
    job = fake.read_job(job_id)
    assert job is not None
    job["TaskGroups"][0]["Count"] = count
    httpx.put(f"{fake.address}/v1/jobs", json={"Job": job}, timeout=5).raise_for_status()


def test_out_of_band_change_is_healed(fake, start_with_web) -> None:
    daemon = start_with_web(count=2)

    _out_of_band(fake, "web", count=5)  # someone ran `nomad job run` by hand
    wait_until(lambda: count_of(fake, "web") == 2, what="drift healed")
    # The fake changes state before the daemon has read its answer: wait for the count.
    daemon.wait_metric(OP, lambda v: v == 1, operation="update", result="success")
    metrics = daemon.metrics()
    assert metrics.get("nomad_reconciler_drift_detection_seconds_count") == 1
    assert metrics.get("nomad_reconciler_event_stream_connected") == 1


def test_no_self_heal_only_reports_drift(fake, repo, start_with_web) -> None:
    daemon = start_with_web("--no-self-heal", count=2)
    before = registers(fake.request_log)

    _out_of_band(fake, "web", count=5)
    daemon.wait_metric("nomad_reconciler_job_sync_state", lambda v: v == 1,
                       nomad_namespace="default", nomad_job="web", state="modified")
    assert count_of(fake, "web") == 5  # reported, not reverted
    assert registers(fake.request_log) == before + 1  # only the test's own write
    daemon.wait_log("drift (not healed: --no-self-heal)", nomad_job="web")

    # A change of the file is still applied.
    repo.write("web.nomad", job_hcl("web", count=3))
    repo.commit()
    wait_until(lambda: count_of(fake, "web") == 3, what="file change applied")
    daemon.wait_metric("nomad_reconciler_job_sync_state", lambda v: v == 1,
                       nomad_namespace="default", nomad_job="web", state="in_sync")


def test_canary_awaits_promotion_then_is_promoted_after_the_soak(fake, repo, start_daemon) -> None:
    meta = {"gitops.promote-after": "1s"}
    repo.write("web.nomad", job_hcl("web", count=2, canary=1, meta=meta, arg="1"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="first deployment")
    fake.set_health("web", mode="healthy", after_s=0.3)

    repo.write("web.nomad", job_hcl("web", count=2, canary=1, meta=meta, arg="2"))
    repo.commit("new version: canary")
    daemon.wait_log("rollout awaiting promotion", nomad_job="web")
    daemon.wait_metric("nomad_reconciler_job_awaiting_promotion", lambda v: v == 1,
                       nomad_namespace="default", nomad_job="web")
    promoted = daemon.wait_log("promoted canaries", nomad_job="web")
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="canary deployment successful")
    dep = fake.latest_deployment("web") or {}
    assert dep["TaskGroups"]["app"]["Promoted"] is True
    # Promoted only after every canary had been healthy for the whole soak.
    assert float(promoted["reason"].split("for ")[1].rstrip("s")) >= 1.0
    daemon.wait_metric(OP, lambda v: v == 1, operation="promote", result="success")
    daemon.wait_log("rollout successful", nomad_job="web")


def test_canary_without_policy_is_reported_awaiting_promotion(fake, repo, start_daemon) -> None:
    repo.write("web.nomad", job_hcl("web", count=1, canary=1, arg="1"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="first deployment")
    repo.write("web.nomad", job_hcl("web", count=1, canary=1, arg="2"))
    repo.commit()
    daemon.wait_metric("nomad_reconciler_job_canaries_healthy", lambda v: v == 1,
                       nomad_namespace="default", nomad_job="web")
    daemon.wait_metric("nomad_reconciler_job_awaiting_promotion", lambda v: v == 1,
                       nomad_namespace="default", nomad_job="web")
    dep = fake.latest_deployment("web") or {}
    assert dep["Status"] == "running" and dep["TaskGroups"]["app"]["Promoted"] is False
    assert daemon.metrics().get(OP, operation="promote", result="success") == 0


def test_failed_canary_is_held_not_resubmitted_and_released_by_next_commit(
    fake, repo, start_daemon
) -> None:
    def spec(arg: str) -> str:
        return job_hcl("web", count=1, canary=1, arg=arg, auto_revert=True,
                       healthy_deadline="1s", progress_deadline="2s",
                       meta={"gitops.auto-promote": "true"})

    repo.write("web.nomad", spec("good"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="first deployment")
    fake.set_health("web", mode="unhealthy")
    before = registers(fake.request_log)

    repo.write("web.nomad", spec("bad"))
    repo.commit("bad canary")
    failed = daemon.wait_log("rollout failed", nomad_job="web", timeout=30)
    assert failed["description"].startswith("Failed due to")
    # Nomad rolled back to the good spec: the job drifted from the file, but is held.
    wait_until(lambda: arg_of(fake, "web") == "good", what="auto-revert", timeout=30)
    daemon.wait_metric("nomad_reconciler_job_sync_state", lambda v: v == 1, timeout=30,
                       nomad_namespace="default", nomad_job="web", state="held")
    # Force full passes (SIGHUP reloads and resyncs): still no resubmission.
    passes = daemon.metrics().get("nomad_reconciler_reconcile_pass_duration_seconds_count") or 0
    daemon.signal(signal.SIGHUP)
    daemon.wait_metric("nomad_reconciler_reconcile_pass_duration_seconds_count",
                       lambda v: (v or 0) > passes)
    assert registers(fake.request_log) == before + 1
    assert arg_of(fake, "web") == "good"

    fake.set_health("web", mode="healthy", after_s=0.2)
    repo.write("web.nomad", spec("fixed"))
    repo.commit("fix")
    wait_until(lambda: arg_of(fake, "web") == "fixed", what="hold released by new commit")
    def fixed_rollout_done() -> dict | None:
        dep, job = fake.latest_deployment("web"), fake.read_job("web")
        ok = dep and job and dep["Status"] == "successful" and dep["JobVersion"] == job["Version"]
        return dep if ok else None

    dep = wait_until(fixed_rollout_done, what="rollout of the fixed spec", timeout=30)
    daemon.wait_log("rollout successful", nomad_job="web", deployment=dep["ID"][:8])
    metrics = daemon.metrics()
    assert metrics.get("nomad_reconciler_deployments_finished_total", nomad_namespace="default",
                       nomad_job="web", status="failed") == 1


def test_nomad_down_then_back_converges_with_nothing_lost(repo, start_daemon) -> None:
    repo.write("a.nomad", job_hcl("a", count=1))
    repo.write("b.nomad", job_hcl("b", count=1))
    repo.commit()
    first = FakeNomad().start()
    port = int(first.address.rsplit(":", 1)[1])
    try:
        daemon = start_daemon(repo.root, first.address)
        wait_until(lambda: first.read_job("a") and first.read_job("b"), what="created")
        daemon.wait_ready()
    finally:
        first.stop()  # Nomad goes away

    repo.write("a.nomad", job_hcl("a", count=3))
    repo.write("c.nomad", job_hcl("c", count=1))
    repo.commit("changes while Nomad is down")
    daemon.wait_log("Nomad unavailable", timeout=20)
    wait_until(lambda: daemon.metrics().sum("nomad_reconciler_nomad_requests_total",
                                            status="error") > 0,
               what="failed requests while Nomad is down")
    wait_until(lambda: httpx.get(daemon.url + "/readyz", timeout=2).status_code == 503,
               what="not ready while Nomad is down")
    assert daemon.proc.poll() is None  # no crash

    with FakeNomad(port=port) as second:  # back (empty: a fresh cluster)
        wait_until(lambda: count_of(second, "a") == 3 and second.read_job("b")
                   and second.read_job("c"), what="converged after outage", timeout=30)
        daemon.wait_ready()
        daemon.wait_metric("nomad_reconciler_jobs", lambda v: v == 3, state="in_sync")
        assert daemon.stop() == 0


def test_sigterm_during_a_sync_exits_cleanly_after_the_write(fake, repo, start_daemon) -> None:
    repo.write("web.nomad", job_hcl("web", count=1))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: count_of(fake, "web") == 1, what="created")
    daemon.wait_ready()

    fake.faults.add_latency(1.5, path_prefix="/v1/jobs")  # a slow registration
    repo.write("web.nomad", job_hcl("web", count=4))
    repo.commit()
    changed = daemon.wait_log("job files changed")
    # The batch for that change is now on its way to Nomad (held up by the latency).
    wait_until(lambda: [r for r in daemon.logs("syncing") if r["ts"] >= changed["ts"]],
               what="sync of the changed file started")
    daemon.signal(signal.SIGTERM)
    assert daemon.stop(timeout=15) == 0
    assert daemon.logs("stopped")[-1]["clean"] is True
    assert count_of(fake, "web") == 4  # the in-flight write finished


def test_started_before_nomad_converges_once_nomad_is_up(repo, start_daemon) -> None:
    from tests.support.network import free_port

    repo.write("a.nomad", job_hcl("a", count=2))
    repo.commit()
    port = free_port()
    daemon = start_daemon(repo.root, f"http://127.0.0.1:{port}")  # nothing listens yet
    daemon.wait_log("Nomad unavailable")
    wait_until(lambda: httpx.get(daemon.url + "/readyz", timeout=2).status_code == 503,
               what="not ready without Nomad")
    assert httpx.get(daemon.url + "/healthz", timeout=2).status_code == 200  # alive, though
    with FakeNomad(port=port) as fake:
        wait_until(lambda: count_of(fake, "a") == 2, what="converged once Nomad is up",
                   timeout=30)
        daemon.wait_ready(timeout=30)
        assert daemon.stop() == 0


def test_restarted_daemon_promotes_a_canary_left_awaiting_promotion(fake, repo, start_daemon) -> None:
    repo.write("web.nomad", job_hcl("web", count=1, canary=1, arg="1"))
    repo.commit()
    first = start_daemon(repo.root, fake.address)  # no promotion policy
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="first deployment")
    repo.write("web.nomad", job_hcl("web", count=1, canary=1, arg="2"))
    repo.commit()
    first.wait_metric("nomad_reconciler_job_awaiting_promotion", lambda v: v == 1,
                      nomad_namespace="default", nomad_job="web")
    assert first.stop() == 0
    before = registers(fake.request_log)

    second = start_daemon(repo.root, fake.address, "--promote-after", "500ms")
    second.wait_log("promoted canaries", nomad_job="web")
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="promoted rollout finished")
    assert registers(fake.request_log) == before  # nothing re-registered, only promoted
