"""A rolling update whose new allocations fail, with auto-revert, followed by the
daemon (a real subprocess) against the Nomad fake at each modelled version.

Nomad places one allocation of the new version and goes no further while it is
unhealthy; the progress deadline fails the deployment and Nomad re-registers the
previous version.  The daemon reports the failure, holds the commit's spec with
the failed deployment's own words, and never resubmits it, also on a full pass.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import DaemonProcess
from tests.support.fake_state import registers
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

FAILED = "Failed due to progress deadline - rolling back to job version 0"


def _spec(arg: str) -> str:
    return job_hcl("web", count=3, arg=arg, auto_revert=True, min_healthy="100ms",
                   healthy_deadline="1s", progress_deadline="2s")


def _arg(job: dict[str, Any] | None) -> str | None:
    return None if job is None else str(job["TaskGroups"][0]["Tasks"][0]["Config"]["args"][0])


def _deployments(fake: FakeNomad) -> list[dict[str, Any]]:
    with fake.state.lock:
        live = list(fake.state.allocs.values())
        return [d.to_json(live) for d in fake.state.deployments.values() if d.job_id == "web"]


def _allocations(fake: FakeNomad) -> list[tuple[int, str, str]]:
    with fake.state.lock:
        return sorted((a.job_version, a.desired_status, a.client_status)
                      for a in fake.state.allocs.values() if a.job_id == "web")


def test_a_failed_rolling_update_with_auto_revert_is_held_and_nomad_serves_the_previous_version(
    fake: FakeNomad, repo: GitCheckout, start_daemon: Callable[..., DaemonProcess]
) -> None:
    repo.write("web.nomad", _spec("good"))
    repo.commit("web v0")
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="first deployment", timeout=30)
    fake.set_health("web", mode="unhealthy", version=1)  # the new version's task exits at once
    before = registers(fake.request_log)

    repo.write("web.nomad", _spec("bad"))
    repo.commit("web v1: broken")
    failed = daemon.wait_log("rollout failed", nomad_job="web", timeout=30)
    assert failed["description"] == FAILED

    # Nomad stopped at one unhealthy allocation of version 1: no further batch was placed.
    [broken] = [d for d in _deployments(fake) if d["JobVersion"] == 1]
    assert broken["Status"] == "failed"
    counts = broken["TaskGroups"]["app"]
    assert (counts["PlacedAllocs"], counts["UnhealthyAllocs"], counts["HealthyAllocs"]) == (1, 1, 0)

    # Nomad is back on the previous spec, as version 2, and its rollback completes.
    wait_until(lambda: _arg(fake.read_job("web")) == "good", what="auto-revert", timeout=30)
    job = fake.read_job("web") or {}
    assert (job["Version"], job["Status"]) == (2, "running")
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("JobVersion") == 2
               and (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="the rollback's deployment", timeout=30)
    wait_until(lambda: [a for a in _allocations(fake) if a[1] == "run" and a[2] == "running"]
               == [(2, "run", "running")] * 3, what="three allocations of version 2 running", timeout=30)

    # The commit's spec is held, the reason quoting the failed deployment (not the rollback's).
    daemon.wait_metric("nomad_reconciler_job_held", lambda v: v == 1, timeout=30,
                       nomad_namespace="default", nomad_job="web", reason="failed_rollout")
    held = wait_until(lambda: [r for r in daemon.logs(nomad_job="web", state="held") if r.get("reason") == FAILED],
                      what="a held log quoting the failed deployment", timeout=30)
    assert held[-1]["msg"].startswith("held: the rollout of this spec failed")

    # A full pass (SIGHUP) does not resubmit the failed spec.
    passes = daemon.metrics().get("nomad_reconciler_reconcile_pass_duration_seconds_count") or 0
    daemon.signal(signal.SIGHUP)
    daemon.wait_metric("nomad_reconciler_reconcile_pass_duration_seconds_count",
                       lambda v: (v or 0) > passes, timeout=30)
    assert registers(fake.request_log) == before + 1, "only the commit's own registration"
    assert _arg(fake.read_job("web")) == "good"
    assert daemon.metrics().get("nomad_reconciler_deployments_finished_total", nomad_namespace="default",
                                nomad_job="web", status="failed") == 1


def test_a_deployment_failed_by_someone_else_is_held_and_never_resubmitted(
    fake: FakeNomad, repo: GitCheckout, start_daemon: Callable[..., DaemonProcess]
) -> None:
    """An operator runs ``nomad deployment fail`` on the canary the daemon started: the
    daemon reports the failure in Nomad's words, holds the spec, and does not fight back."""
    repo.write("web.nomad", job_hcl("web", canary=1, arg="good"))
    repo.commit("web v0")
    daemon = start_daemon(repo.root, fake.address)
    wait_until(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful",
               what="first deployment", timeout=30)
    repo.write("web.nomad", job_hcl("web", canary=1, arg="canary"))
    repo.commit("web v1: a canary")
    daemon.wait_log("rollout awaiting promotion", nomad_job="web", timeout=30)
    before = registers(fake.request_log)

    deployment = (fake.latest_deployment("web") or {})["ID"]
    answer = httpx.post(f"{fake.address}/v1/deployment/fail/{deployment}", timeout=5)
    answer.raise_for_status()
    assert answer.json()["EvalID"]  # Nomad evaluates the job again after a fail

    failed = daemon.wait_log("rollout failed", nomad_job="web", timeout=30)
    assert failed["description"] == "Deployment marked as failed"
    daemon.wait_metric("nomad_reconciler_job_held", lambda v: v == 1, timeout=30,
                       nomad_namespace="default", nomad_job="web", reason="failed_rollout")
    # A full pass (SIGHUP) leaves the failed spec alone: no registration, no promotion.
    passes = daemon.metrics().get("nomad_reconciler_reconcile_pass_duration_seconds_count") or 0
    daemon.signal(signal.SIGHUP)
    daemon.wait_metric("nomad_reconciler_reconcile_pass_duration_seconds_count",
                       lambda v: (v or 0) > passes, timeout=30)
    assert registers(fake.request_log) == before
    assert not [p for m, p, _q, _s in fake.request_log if m in ("PUT", "POST") and "/promote" in p]

    # The next commit is a new spec: released and applied.
    repo.write("web.nomad", job_hcl("web", canary=0, arg="fixed"))
    repo.commit("web v2: fixed")
    wait_until(lambda: _arg(fake.read_job("web")) == "fixed", what="the fix applied", timeout=30)
