"""What the daemon says is true: its logs and metrics against what Nomad did.

The daemon runs as a real subprocess against the Nomad fake over HTTP, on a
real git checkout; every wait is a bounded poll.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.fake_state import count_of
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

DRIFT = "nomad_reconciler_drift_detection_seconds"


def _age_submit_time(fake: FakeNomad, job_id: str, seconds: float) -> None:
    """As if the job had been registered ``seconds`` ago."""
    with fake.state.lock:
        row = fake.state.get_record("default", job_id).row
        row["SubmitTime"] -= int(seconds * 1e9)


def test_drift_detection_times_a_scale_from_the_scale_not_the_registration(
    fake, repo, start_daemon
) -> None:
    repo.write("web.nomad", job_hcl("web", count=2))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="web deployed")
    daemon.wait_ready()
    _age_submit_time(fake, "web", 3600)  # registered an hour ago

    # `nomad job scale`: a new job version, but Nomad keeps the old SubmitTime.
    fake.scale("web", "app", 5)
    wait_until(lambda: count_of(fake, "web") == 2, what="scale healed")
    daemon.wait_metric(DRIFT + "_count", lambda v: v == 1)
    # Healed within the test's bounded waits, never an hour after it began.
    assert (daemon.metrics().get(DRIFT + "_sum") or 0) < 600


def test_a_clean_shutdown_reports_no_outage(fake, repo, start_daemon) -> None:
    repo.write("web.nomad", job_hcl("web"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    daemon.wait_ready()
    daemon.wait_metric("nomad_reconciler_event_stream_connected", lambda v: v == 1)
    assert daemon.stop() == 0
    assert daemon.logs("stopped", clean=True)
    assert not [r for r in daemon.logs() if r.get("level") in ("warning", "error")], daemon.dump()


def test_a_removed_file_leaves_a_running_orphan_and_says_so_once(fake, repo, start_daemon) -> None:
    repo.write("web.nomad", job_hcl("web"))
    repo.write("api.nomad", job_hcl("api"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: count_of(fake, "web") == 1 and count_of(fake, "api") == 1, what="created")
    daemon.wait_ready()

    repo.git("rm", "-q", "web.nomad")
    repo.commit("remove web")
    said = daemon.wait_log(
        "job web is no longer declared (its file web.nomad was removed); it keeps running; "
        "run with --prune to stop it"
    )
    assert (said["level"], said["nomad_job"], said["file"]) == ("warning", "web", "web.nomad")
    daemon.wait_metric("nomad_reconciler_job_sync_state", lambda v: v == 1,
                       nomad_namespace="default", nomad_job="web", state="orphaned")
    assert not (fake.read_job("web") or {}).get("Stop")  # not pruned: prune is off

    # Later passes do not repeat it.
    passes = daemon.metrics().get("nomad_reconciler_reconcile_pass_duration_seconds_count") or 0
    daemon.signal(signal.SIGHUP)
    daemon.wait_metric("nomad_reconciler_reconcile_pass_duration_seconds_count",
                       lambda v: (v or 0) > passes)
    assert len([r for r in daemon.logs() if r.get("state") == "orphaned"]) == 1


def test_a_hand_scale_of_a_held_job_is_left_and_the_log_says_why(
    fake, repo, start_daemon
) -> None:
    def spec(arg: str) -> str:
        return job_hcl("web", count=1, arg=arg, auto_revert=True,
                       healthy_deadline="1s", progress_deadline="2s")

    repo.write("web.nomad", spec("good"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="first deployment")
    fake.set_health("web", mode="unhealthy", version=1)  # Nomad's rollback (v2) is healthy
    repo.write("web.nomad", spec("bad"))
    repo.commit("bad")
    daemon.wait_log("rollout failed", nomad_job="web", timeout=30)
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("JobVersion") == 2
               and fake.latest_deployment("web")["Status"] == "successful",  # type: ignore[index]
               what="rollback deployed", timeout=30)
    daemon.wait_metric("nomad_reconciler_job_sync_state", lambda v: v == 1, timeout=30,
                       nomad_namespace="default", nomad_job="web", state="held")

    fake.scale("web", "app", 3)  # `nomad job scale` while the spec is held
    said = daemon.wait_log(
        "held: the rollout of this spec failed; the change made out of band is not healed "
        "while the spec is held (commit a change to the file to release it)", nomad_job="web")
    assert said["level"] == "warning" and said["reason"].startswith("Failed due to")
    assert count_of(fake, "web") == 3  # left as the hand made it


def test_a_mistyped_namespace_stops_the_daemon_with_the_namespaces_that_exist(
    fake, tmp_path
) -> None:
    (tmp_path / "jobs").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "daemon", str(tmp_path / "jobs"), "--listen", "",
         "--address", fake.address, "--namespace", "nosuchns"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "--namespace (or NOMAD_NAMESPACE) nosuchns: no such namespace" in done.stderr
    assert "(namespaces the token can see: default)" in done.stderr
    assert "Traceback" not in done.stderr
