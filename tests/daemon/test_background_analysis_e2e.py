"""Background analysis of a rolling update without canaries, end to end: the real daemon
(a subprocess) on a git checkout, the Nomad fake rolling ``web`` out one allocation at a
time with ``auto_revert``, and a real Prometheus scraping a loopback exporter whose
per-allocation series the test drives (the check reads ``{{alloc_ids}}``).

- the new allocations breach the check: the daemon fails the deployment
  (``/v1/deployment/fail``) mid-update, Nomad reverts the job, the digest is held
  with the check's value, and the revert's own deployment is left alone;
- a daemon started while the rolling update runs finds it and fails it on a breach;
- they pass: nothing waits for the analysis, the deployment succeeds on health
  alone and nothing is failed.

Skipped only when no ``prometheus`` binary is installed (Debian package ``prometheus``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.analysis import BACKGROUND_TEMPLATE, rolling_job, running_monitoring
from tests.support.daemon import DaemonProcess
from tests.support.exporter import MetricsExporter
from tests.support.git import GitCheckout
from tests.support.prometheus import Prometheus, needs_prometheus
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, needs_prometheus]


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, MetricsExporter]]:
    with running_monitoring(tmp_path_factory.mktemp("prometheus")) as pair:
        yield pair


class Rollout:
    """``web`` at release 1 rolled out by the daemon; ``release_2()`` commits the next."""

    def __init__(self, tmp_path: Path, fake: FakeNomad, prometheus_url: str) -> None:
        self.fake = fake
        self.repo = GitCheckout(tmp_path / "jobs")
        self.repo.write(".reconciler/analysis/http.hcl", BACKGROUND_TEMPLATE)
        self.repo.write("web.nomad", rolling_job("1"))
        self.repo.commit("release 1")
        self.daemon = DaemonProcess(self.repo.root, fake.address, "--prometheus-url", prometheus_url)
        self.daemon.wait_ready(timeout=60)
        wait_until(lambda: self.deployment().get("Status") == "successful", timeout=90,
                   what="web's first deployment")  # fmt: skip
        self.first = self.deployment()["ID"]

    def release_2(self, template: str = BACKGROUND_TEMPLATE) -> None:
        self.repo.write(".reconciler/analysis/http.hcl", template)
        self.repo.write("web.nomad", rolling_job("2"))
        self.repo.commit("release 2")

    def deployment(self) -> dict[str, Any]:
        return self.fake.latest_deployment("web") or {}

    def new_deployment(self) -> dict[str, Any]:
        """Release 2's deployment, once Nomad created it."""
        def created() -> dict[str, Any] | None:
            dep = self.deployment()
            return dep if dep.get("ID") not in (None, self.first) else None

        found: dict[str, Any] = wait_until(created, timeout=60, what="release 2's deployment")
        return found

    def first_new_allocation(self, deployment_id: str) -> str:
        """The first allocation of release 2, once placed."""
        def placed() -> str | None:
            stubs = httpx.get(f"{self.fake.address}/v1/deployment/allocations/{deployment_id}", timeout=10).json()
            return next((a["ID"] for a in stubs if a.get("TaskGroup") == "app"), None)

        found: str = wait_until(placed, timeout=60, what="release 2's first allocation")
        return found

    def measurements(self, result: str) -> list[dict[str, Any]]:
        return self.daemon.logs("analysis measurement", nomad_job="web", result=result)

    def fail_requests(self) -> list[str]:
        return [path for method, path, _query, _status in self.fake.request_log
                if method in ("PUT", "POST") and path.startswith("/v1/deployment/fail/")]


@pytest.fixture
def rollout(tmp_path: Path, monitoring: tuple[Prometheus, MetricsExporter]) -> Iterator[tuple[Rollout, MetricsExporter]]:
    prom, exporter = monitoring
    with FakeNomad() as fake:
        run = Rollout(tmp_path, fake, prom.url)
        try:
            yield run, exporter
        finally:
            code = run.daemon.stop()
            assert code == 0, run.daemon.dump()[-3000:]


def test_a_breach_of_the_new_allocations_fails_the_rolling_update_nomad_reverts_and_the_digest_is_held(
    rollout: tuple[Rollout, MetricsExporter],
) -> None:
    run, exporter = rollout
    # No data fails too: the revert's allocations have no series, so analysing the revert's
    # deployment with the held release's checks would fail it (it must not be analysed).
    run.release_2(BACKGROUND_TEMPLATE.replace("count    = 3", 'count    = 3\n    on_empty = "fail"'))
    dep = run.new_deployment()
    assert dep["TaskGroups"]["app"]["DesiredCanaries"] == 0
    alloc = run.first_new_allocation(dep["ID"])
    exporter.set_gauge("canary_error_ratio", 0.5, nomad_job="web", group="app", alloc_id=alloc)
    failed = run.daemon.wait_log("analysis failed the rolling update: deployment failed, Nomad rolls back",
                                 timeout=90, nomad_job="web")  # fmt: skip
    assert failed["reason"] == "analysis: http/error-rate = 0.5, wanted < 0.05"
    assert failed["deployment"] == dep["ID"][:8]
    said = run.daemon.logs("background analysis", nomad_job="web", verdict="fail")
    assert said and "http/error-rate: fail (last 0.5" in said[-1]["checks"], said
    # Nomad's auto_revert: the job runs release 1 again, as a new version, rolled out
    wait_until(lambda: ((run.fake.read_job("web") or {}).get("Meta", {}).get("release") == "1"
               and (run.fake.read_job("web") or {}).get("Version", 0) >= 2) or None,
               timeout=60, what="Nomad to revert web")  # fmt: skip
    assert httpx.get(f"{run.fake.address}/v1/deployment/{dep['ID']}", timeout=10).json()["Status"] == "failed"
    run.daemon.wait_metric("nomad_reconciler_job_held", lambda v: v == 1, timeout=30,
                           nomad_job="web", reason="failed_rollout")  # fmt: skip
    wait_until(lambda: run.deployment().get("ID") != dep["ID"] and run.deployment().get("Status") == "successful",
               timeout=90, what="the revert's deployment")  # fmt: skip
    assert run.fail_requests() == [f"/v1/deployment/fail/{dep['ID']}"]  # the revert's never
    # the status page: the held job's row and analysis say the value the daemon held it with
    doc = httpx.get(run.daemon.url + "/api/v1/status", timeout=30).json()
    web = next(j for j in doc["jobs"] if j["id"] == "web")
    assert web["analysis"]["reason"] == "analysis: http/error-rate = 0.5, wanted < 0.05", web
    assert "analysis: http/error-rate = 0.5, wanted &lt; 0.05" in httpx.get(run.daemon.url + "/", timeout=30).text


def test_passing_new_allocations_let_the_rolling_update_finish_on_health_alone(
    rollout: tuple[Rollout, MetricsExporter],
) -> None:
    run, exporter = rollout
    run.release_2()
    dep = run.new_deployment()
    alloc = run.first_new_allocation(dep["ID"])
    exporter.set_gauge("canary_error_ratio", 0.01, nomad_job="web", group="app", alloc_id=alloc)
    wait_until(lambda: httpx.get(f"{run.fake.address}/v1/deployment/{dep['ID']}", timeout=10).json()
               .get("Status") == "successful", timeout=90, what="release 2 rolled out")  # fmt: skip
    assert (run.fake.read_job("web") or {})["Meta"]["release"] == "2"
    # measured on the new allocation's series (no data would be inconclusive), and never failed
    assert run.measurements("pass"), run.daemon.dump()[-3000:]
    assert all(m["value"] == "0.01" for m in run.measurements("pass"))
    assert run.measurements("fail") == []
    assert run.fail_requests() == []
    assert run.daemon.logs("analysis failed the rolling update: deployment failed, Nomad rolls back") == []
    assert run.daemon.metrics().get("nomad_reconciler_job_held", nomad_job="web", reason="failed_rollout") in (None, 0)


def test_a_restarted_daemon_finds_the_running_rolling_update_and_fails_it_on_a_breach(
    rollout: tuple[Rollout, MetricsExporter],
) -> None:
    """A daemon started while the rolling update runs (it never registered it) looks at
    the job's deployment (its full pass, or the deployment's events) and judges it."""
    run, exporter = rollout
    assert run.daemon.stop() == 0
    run.release_2()
    # register release 2 by a first daemon, stopped as soon as Nomad has the deployment
    run.daemon = DaemonProcess(run.repo.root, run.fake.address, *run.daemon.args[run.daemon.args.index("--prometheus-url"):])
    dep = run.new_deployment()
    assert run.daemon.stop() == 0
    assert run.fail_requests() == []
    exporter.set_gauge("canary_error_ratio", 0.5, nomad_job="web", group="app", alloc_id=run.first_new_allocation(dep["ID"]))
    run.daemon = DaemonProcess(run.repo.root, run.fake.address, *run.daemon.args[run.daemon.args.index("--prometheus-url"):])
    failed = run.daemon.wait_log("analysis failed the rolling update: deployment failed, Nomad rolls back",
                                 timeout=90, nomad_job="web")  # fmt: skip
    assert failed["reason"] == "analysis: http/error-rate = 0.5, wanted < 0.05"
    assert run.fail_requests() == [f"/v1/deployment/fail/{dep['ID']}"]
    wait_until(lambda: (run.fake.read_job("web") or {}).get("Meta", {}).get("release") == "1" or None,
               timeout=60, what="Nomad to revert web")  # fmt: skip
