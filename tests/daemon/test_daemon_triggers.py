"""More daemon triggers as a real subprocess: bad files, git-sync switches, blocking
queries, ACL token files, SIGHUP reloads and the health endpoints."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.fake_state import count_of, registers
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow



def test_half_written_file_is_not_reported_and_a_broken_file_does_not_stop_others(
    fake, repo, start_daemon
) -> None:
    repo.write("web.nomad", job_hcl("web", count=1))
    repo.write("api.nomad", job_hcl("api", count=1))
    repo.commit()
    # Uncommitted writes in a development loop: what a writer's progress looks like.
    daemon = start_daemon(repo.root, fake.address, "--settle", "1s", "--apply-uncommitted")
    wait_until(lambda: count_of(fake, "web") == 1 and count_of(fake, "api") == 1)
    daemon.wait_ready()

    # A writer that takes a moment: first half of the file, then the rest.
    full = job_hcl("web", count=2)
    path = repo.root / "web.nomad"
    with open(path, "w") as fh:
        fh.write(full[: len(full) // 2])
        fh.flush()
        os.fsync(fh.fileno())
        daemon.wait_log("files changed")  # the daemon saw the half-written file
        fh.write(full[len(full) // 2:])
    wait_until(lambda: count_of(fake, "web") == 2, what="completed file applied")

    # A file that stays broken is reported (file and line), once; the others keep syncing.
    repo.write("api.nomad", 'job "api" {\n  group "x" {\n')
    repo.write("web.nomad", job_hcl("web", count=3))
    wait_until(lambda: count_of(fake, "web") == 3, what="other job still synced")
    report = daemon.wait_log("job file failed to load")
    assert report["file"].startswith("api.nomad:")
    assert not any(r["file"].startswith("web.nomad") for r in daemon.logs("job file failed to load"))
    daemon.wait_metric("nomad_reconciler_parse_error_files", lambda v: v == 1)
    assert count_of(fake, "api") == 1  # left as it was: an error, never an orphan
    assert daemon.metrics().get("nomad_reconciler_parse_errors_total") == 1


def test_git_sync_symlink_switch_is_followed(fake, tmp_path, start_daemon) -> None:
    rev1, rev2 = tmp_path / "rev-1", tmp_path / "rev-2"
    for rev, count in ((rev1, 1), (rev2, 2)):
        rev.mkdir()
        (rev / "web.nomad").write_text(job_hcl("web", count=count))
    current = tmp_path / "current"
    current.symlink_to("rev-1")
    daemon = start_daemon(current, fake.address)
    wait_until(lambda: count_of(fake, "web") == 1, what="created from rev-1")
    daemon.wait_ready()

    link = tmp_path / "current.new"
    link.symlink_to("rev-2")
    os.replace(link, current)  # git-sync's atomic switch
    wait_until(lambda: count_of(fake, "web") == 2, what="updated from rev-2")
    (rev1 / "web.nomad").write_text(job_hcl("web", count=7))  # the old checkout: ignored
    (rev2 / "web.nomad").write_text(job_hcl("web", count=3))
    wait_until(lambda: count_of(fake, "web") == 3, what="watching rev-2")
    assert daemon.logs("registered", nomad_job="web")[-1]["file"] == "web.nomad"
    daemon.wait_metric("nomad_reconciler_jobs", lambda v: v == 1, state="in_sync")
    assert daemon.metrics().get("nomad_reconciler_source_revision_info", revision="none") == 1


def test_blocking_queries_detect_out_of_band_changes_without_event_stream(
    fake, repo, start_daemon
) -> None:
    repo.write("web.nomad", job_hcl("web", count=2))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address, "--no-event-stream")
    wait_until(lambda: count_of(fake, "web") == 2, what="created")
    daemon.wait_ready()
    job = fake.read_job("web")
    assert job is not None
    job["TaskGroups"][0]["Count"] = 4
    httpx.put(f"{fake.address}/v1/jobs", json={"Job": job}, timeout=5).raise_for_status()
    wait_until(lambda: count_of(fake, "web") == 2, what="healed via blocking queries")
    assert not any(p == "/v1/event/stream" for _m, p, _q, _s in fake.request_log)
    assert daemon.metrics().get("nomad_reconciler_event_stream_connected") == 0


def test_acl_token_from_file_is_used_and_never_logged(repo, tmp_path, start_daemon) -> None:
    with FakeNomad(acl=True) as fake:
        token = fake.bootstrap_acl()
        token_file = tmp_path / "token"
        token_file.write_text(token + "\n")
        repo.write("web.nomad", job_hcl("web"))
        repo.commit()
        daemon = start_daemon(repo.root, fake.address, "--token-file", str(token_file))
        wait_until(lambda: fake.read_job("web") is not None, what="created with the token")
        daemon.wait_ready()
        assert daemon.stop() == 0
        assert token not in daemon.dump()
        assert all(token not in line for line in daemon.raw)


def test_sighup_reloads_the_config_file(fake, repo, tmp_path, start_daemon) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text("self_heal = true\n")
    repo.write("web.nomad", job_hcl("web", count=2))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address, "--config", str(config))
    wait_until(lambda: count_of(fake, "web") == 2, what="created")
    daemon.wait_ready()

    config.write_text("self_heal = false\nevent_stream = false\n")
    daemon.signal(signal.SIGHUP)
    reloaded = daemon.wait_log("configuration reloaded")
    assert reloaded["applied"] == ["policy.self_heal"]
    assert reloaded["needs_restart"] == ["process.event_stream"]
    before = registers(fake.request_log)
    job = fake.read_job("web")
    assert job is not None
    job["TaskGroups"][0]["Count"] = 5
    httpx.put(f"{fake.address}/v1/jobs", json={"Job": job}, timeout=5).raise_for_status()
    daemon.wait_metric("nomad_reconciler_job_sync_state", lambda v: v == 1,
                       nomad_namespace="default", nomad_job="web", state="modified")
    assert count_of(fake, "web") == 5
    assert registers(fake.request_log) == before + 1  # the test's own write only


def test_health_endpoints(fake, repo, start_daemon) -> None:
    repo.write("web.nomad", job_hcl("web"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    daemon.wait_ready()
    assert httpx.get(daemon.url + "/healthz", timeout=5).status_code == 200
    ready = httpx.get(daemon.url + "/readyz", timeout=5)
    assert ready.status_code == 200 and "ready" in ready.text
    build = daemon.metrics().get("nomad_reconciler_build_info")
    assert build == 1


def test_job_nomad_rejects_is_reported_not_retried_until_its_file_changes(
    fake, repo, start_daemon
) -> None:
    repo.write("web.nomad", job_hcl("web", count=1))
    repo.write("bad.nomad", job_hcl("bad").replace("count = 1", "count = -1"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: count_of(fake, "web") == 1, what="the good job is not held up")
    failed = daemon.wait_log("rejected (fix the file)", nomad_job="bad")
    assert "count can't be negative" in failed["error"] and "bad.nomad" in failed["error"]
    daemon.wait_metric("nomad_reconciler_job_sync_state", lambda v: v == 1,
                       nomad_namespace="default", nomad_job="bad", state="error")
    daemon.wait_metric("nomad_reconciler_job_error", lambda v: v == 1,
                       nomad_namespace="default", nomad_job="bad", cause="file")
    attempts = registers(fake.request_log)

    # Full passes (SIGHUP resyncs) do not resubmit the refused spec.
    passes = daemon.metrics().get("nomad_reconciler_reconcile_pass_duration_seconds_count") or 0
    daemon.signal(signal.SIGHUP)
    daemon.wait_metric("nomad_reconciler_reconcile_pass_duration_seconds_count",
                       lambda v: (v or 0) > passes)
    assert registers(fake.request_log) == attempts
    metrics = daemon.metrics()
    assert metrics.get("nomad_reconciler_reconcile_errors_total", kind="nomad_rejected") == 1
    assert metrics.get("nomad_reconciler_sync_operations_total",
                       operation="create", result="rejected") == 1

    repo.write("bad.nomad", job_hcl("bad", count=2))  # fixed
    repo.commit()
    wait_until(lambda: count_of(fake, "bad") == 2, what="fixed spec registered")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}"], "jobs directory not found"),
        (["{jobs}", "--resync-interval", "often"], "resync_interval: invalid duration"),
        (["{jobs}", "--address", "ftp://nomad:4646"], "ftp://nomad:4646"),
    ],
)
def test_bad_configuration_is_a_clear_error(tmp_path, args, message) -> None:
    import subprocess
    import sys

    (tmp_path / "jobs").mkdir()
    argv = [a.format(missing=tmp_path / "missing", jobs=tmp_path / "jobs") for a in args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "daemon", *argv, "--listen", ""],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr


def test_periodic_resync_heals_drift_the_event_stream_missed(fake, repo, start_daemon) -> None:
    repo.write("web.nomad", job_hcl("web", count=2))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address, "--resync-interval", "1s")
    wait_until(lambda: count_of(fake, "web") == 2, what="created")
    daemon.wait_ready()
    fake.faults.stall_event_stream()  # events stop arriving (nothing says so)
    passes = daemon.metrics().get("nomad_reconciler_reconcile_pass_duration_seconds_count") or 0
    job = fake.read_job("web")
    assert job is not None
    job["TaskGroups"][0]["Count"] = 6
    httpx.put(f"{fake.address}/v1/jobs", json={"Job": job}, timeout=5).raise_for_status()
    wait_until(lambda: count_of(fake, "web") == 2, what="healed by the periodic resync")
    assert (daemon.metrics().get("nomad_reconciler_reconcile_pass_duration_seconds_count")
            or 0) > passes
    fake.faults.clear()


def test_a_file_still_open_for_writing_is_not_acted_on(fake, repo, start_daemon) -> None:
    repo.write("web.nomad", job_hcl("web", count=1))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address, "--apply-uncommitted")  # a local edit
    wait_until(lambda: count_of(fake, "web") == 1, what="created")
    daemon.wait_ready()
    with open(repo.root / "web.nomad", "w") as fh:
        # Content that parses on its own, but the writer has not finished.
        fh.write(job_hcl("web", count=9))
        fh.flush()
        daemon.wait_log("waiting for files being written")
        assert count_of(fake, "web") == 1
        fh.write("\n# end of file\n")
    wait_until(lambda: count_of(fake, "web") == 9, what="applied once the writer closed it")


def test_rotated_token_file_is_picked_up_without_restart(repo, tmp_path, start_daemon) -> None:
    with FakeNomad(acl=True) as fake:
        first = fake.bootstrap_acl()
        token_file = tmp_path / "token"
        token_file.write_text(first)
        repo.write("web.nomad", job_hcl("web", count=1))
        repo.commit()
        daemon = start_daemon(repo.root, fake.address, "--token-file", str(token_file))
        wait_until(lambda: count_of(fake, "web") == 1, what="created with the first token")
        daemon.wait_ready()

        second = fake.bootstrap_acl()  # a new management token
        rotated = tmp_path / "token.new"
        rotated.write_text(second)
        os.replace(rotated, token_file)  # how secret agents rotate a file
        with fake.state.lock:
            del fake.state.acl.tokens[first]  # the old token stops working
        repo.write("web.nomad", job_hcl("web", count=2))
        repo.commit()
        wait_until(lambda: count_of(fake, "web") == 2, what="updated with the rotated token")
        assert daemon.proc.poll() is None
        assert first not in daemon.dump() and second not in daemon.dump()


def test_waves_roll_out_in_order_across_passes(fake, repo, start_daemon) -> None:
    repo.write("db.nomad", job_hcl("db", arg="1", meta={"gitops.wave": "0"}))
    repo.write("api.nomad", job_hcl("api", arg="1", meta={"gitops.wave": "1"}))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: all((fake.latest_deployment(j) or {}).get("Status") == "successful"
                           for j in ("db", "api")), what="first rollouts")
    fake.set_health("db", mode="healthy", after_s=1.0)  # the database takes its time

    repo.write("db.nomad", job_hcl("db", arg="2", meta={"gitops.wave": "0"}))
    repo.write("api.nomad", job_hcl("api", arg="2", meta={"gitops.wave": "1"}))
    repo.commit("both waves change")
    deferred = daemon.wait_log("change deferred", nomad_job="api")
    assert deferred["reason"] == "wave"
    daemon.wait_metric("nomad_reconciler_job_held", lambda v: v == 1,
                       nomad_namespace="default", nomad_job="api", reason="wave")
    api_registered = daemon.wait_log("registered", nomad_job="api", operation="update")
    db_done = [r for r in daemon.logs("rollout successful", nomad_job="db")
               if r["ts"] >= deferred["ts"]]
    assert db_done and db_done[0]["ts"] <= api_registered["ts"]  # wave 0 healthy first


def test_deployment_cap_limits_rollouts_started_by_file_changes(fake, repo, start_daemon) -> None:
    ids = ["a", "b", "c"]
    for job_id in ids:
        repo.write(f"{job_id}.nomad", job_hcl(job_id, arg="1"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address, "--max-concurrent-deployments", "1")
    wait_until(lambda: all((fake.latest_deployment(j) or {}).get("Status") == "successful"
                           for j in ids), what="first rollouts")
    for job_id in ids:
        fake.set_health(job_id, mode="healthy", after_s=0.5)
        repo.write(f"{job_id}.nomad", job_hcl(job_id, arg="2"))
    repo.commit("all three change")
    wait_until(lambda: all(
        (fake.read_job(j) or {}).get("TaskGroups", [{}])[0].get("Tasks", [{}])[0]
        .get("Config", {}).get("args") == ["2"] for j in ids), what="all updated", timeout=30)
    # A registration reaches Nomad a moment before the daemon logs it.
    wait_until(lambda: len(daemon.logs("registered", operation="update")) == 3,
               what="three registrations logged")  # fmt: skip
    capped = daemon.logs("change deferred", reason="deployment_cap")
    assert {r["nomad_job"] for r in capped} == {"b", "c"}
    # Never two of our rollouts at once: each registration after the previous success.
    regs = sorted((r["ts"], r["nomad_job"]) for r in daemon.logs("registered", operation="update"))
    done = sorted((r["ts"], r["nomad_job"]) for r in daemon.logs("rollout successful")
                  if r["ts"] >= regs[0][0])
    assert [j for _t, j in regs] == ["a", "b", "c"]
    assert done[0][0] <= regs[1][0] and done[1][0] <= regs[2][0]


def test_a_purged_job_is_recreated_before_the_periodic_resync(fake, repo, start_daemon) -> None:
    """Real Nomad 1.0.18 announces a purge only as a job-deregister evaluation; the daemon
    subscribes to it (whether or not a Job event comes too, as the fake may send)."""
    repo.write("web.nomad", job_hcl("web", count=2))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)  # the resync stays at its 5 minutes
    wait_until(lambda: count_of(fake, "web") == 2, what="created")
    daemon.wait_ready()
    before = fake.read_job("web")
    assert before is not None
    httpx.delete(f"{fake.address}/v1/job/web", params={"purge": "true"},
                 timeout=5).raise_for_status()
    wait_until(lambda: (job := fake.read_job("web")) is not None
               and job["CreateIndex"] > before["CreateIndex"], what="re-created after the purge")
    daemon.wait_metric("nomad_reconciler_drift_detection_seconds_count", lambda v: v == 1)


def test_live_jobs_nobody_declared_are_counted_unmanaged_and_left_alone(
    fake, repo, start_daemon
) -> None:
    repo.write("web.nomad", job_hcl("web"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: count_of(fake, "web") == 1, what="created")
    daemon.wait_ready()
    adhoc = fake.read_job("web")
    assert adhoc is not None
    adhoc.update(ID="adhoc", Name="adhoc", Meta=None)  # no ownership stamp: someone else's
    httpx.put(f"{fake.address}/v1/jobs", json={"Job": adhoc}, timeout=5).raise_for_status()
    registered = fake.read_job("adhoc")
    assert registered is not None
    daemon.signal(signal.SIGHUP)  # a full pass (as the periodic resync would)
    daemon.wait_metric("nomad_reconciler_jobs", lambda v: v == 1, state="unmanaged")
    metrics = daemon.metrics()
    assert metrics.get("nomad_reconciler_jobs", state="in_sync") == 1
    # Counted, never touched: no per-job series, no write.
    assert metrics.get("nomad_reconciler_job_sync_state", nomad_namespace="default",
                       nomad_job="adhoc", state="in_sync") is None
    after = fake.read_job("adhoc")
    assert after is not None and after["JobModifyIndex"] == registered["JobModifyIndex"]
