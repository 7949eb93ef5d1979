"""Canary analysis end to end: the real daemon (a subprocess) on a git checkout, the Nomad
fake running a canary deployment with auto_revert, and a real Prometheus scraping a
loopback exporter whose per-allocation series the test drives.

- a healthy canary is promoted once its window has passed, never before;
- a canary whose error ratio breaches its check: the deployment is failed
  (``/v1/deployment/fail``), Nomad reverts the job, the digest is held with the value;
- no series for the canary: inconclusive, neither promoted nor failed, and the
  analysis resumes (and passes) once data appears.

Skipped only when no ``prometheus`` binary is installed (Debian package ``prometheus``;
.ci/run installs it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.testing.fake_nomad import FakeNomad, HealthModel
from tests.support.daemon import DaemonProcess
from tests.support.exporter import MetricsExporter, running_exporter
from tests.support.git import GitCheckout
from tests.support.prometheus import PROMETHEUS, Prometheus, running_prometheus
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None,
        reason="prometheus not on PATH (Debian package 'prometheus'; .ci/run installs it)",
    ),
]

TEMPLATE = """\
analysis "http" {
  check "error-rate" {
    query    = "max(canary_error_ratio{nomad_job=\\"{{job}}\\", group=\\"{{group}}\\", alloc_id=~\\"{{canary_alloc_ids}}\\"})"
    success  = "< 0.05"
    interval = "2s"
    count    = 3
  }
}
"""


def job(release: str) -> str:
    return f"""job "web" {{
  datacenters = ["dc1"]
  meta = {{
    release           = "{release}"
    "gitops.analysis" = "http"
  }}
  update {{
    max_parallel      = 1
    canary            = 1
    auto_revert       = true
    min_healthy_time  = "1s"
    healthy_deadline  = "30s"
    progress_deadline = "60s"
  }}
  group "app" {{
    count = 2
    task "main" {{
      driver = "exec"
      config {{
        command = "/bin/sleep"
        args    = ["3600"]
      }}
    }}
  }}
}}
"""


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, MetricsExporter]]:
    with running_exporter() as (target, exporter), running_prometheus(
        target, tmp_path_factory.mktemp("prometheus")
    ) as prom:
        yield prom, exporter


class Rollout:
    """A checkout with web at release 1, the fake, the daemon; then a commit of release 2."""

    def __init__(self, tmp_path: Path, fake: FakeNomad, prom: Prometheus, template: str) -> None:
        self.fake = fake
        self.repo = GitCheckout(tmp_path / "jobs")
        self.repo.write(".reconciler/analysis/http.hcl", TEMPLATE)
        self.repo.write("web.nomad", job("1"))
        self.repo.commit("web 1")
        self.daemon = DaemonProcess(
            self.repo.root, fake.address, "--promote-after", "0s", "--prometheus-url", prom.url
        )
        self.daemon.wait_ready()
        wait_until(lambda: self.deployment().get("Status") == "successful",
                   timeout=60, what="web's first deployment")  # fmt: skip
        self.first = self.deployment()["ID"]
        self.repo.write("web.nomad", job("2"))
        self.repo.write(".reconciler/analysis/http.hcl", template)
        self.repo.commit("web 2")

    def deployment(self) -> dict[str, Any]:
        return self.fake.latest_deployment("web") or {}

    def canary(self) -> str:
        """The new deployment's canary allocation, once placed."""
        def placed() -> str | None:
            dep = self.deployment()
            ids = (dep.get("TaskGroups") or {}).get("app", {}).get("PlacedCanaries") or []
            return ids[0] if dep.get("ID") != self.first and ids else None

        return wait_until(placed, timeout=60, what="the canary of release 2")

    def measurements(self, result: str) -> list[dict[str, Any]]:
        return self.daemon.logs("analysis measurement", nomad_job="web", result=result)


@pytest.fixture
def rollout(
    request: pytest.FixtureRequest, tmp_path: Path, monitoring: tuple[Prometheus, MetricsExporter]
) -> Iterator[tuple[Rollout, MetricsExporter]]:
    """Release 2 is committed with the template ``request.param`` (default: the good one)."""
    prom, exporter = monitoring
    with FakeNomad(health=HealthModel(time_scale=0.25)) as fake:
        run = Rollout(tmp_path, fake, prom, getattr(request, "param", TEMPLATE))
        try:
            yield run, exporter
        finally:
            code = run.daemon.stop()
            assert code == 0, run.daemon.dump()[-3000:]


def test_a_healthy_canary_is_promoted_once_its_window_passed(
    rollout: tuple[Rollout, MetricsExporter],
) -> None:
    run, exporter = rollout
    canary = run.canary()
    exporter.set_gauge("canary_error_ratio", 0.01, nomad_job="web", group="app", alloc_id=canary)
    promoted = run.daemon.wait_log("promoted canaries", timeout=90, nomad_job="web")
    # never before three passing measurements (the window), and nothing else decided it
    passes_before = [m for m in run.measurements("pass") if m["ts"] <= promoted["ts"]]
    assert len(passes_before) >= 3, run.daemon.dump()[-3000:]
    assert run.measurements("fail") == []
    wait_until(lambda: run.deployment().get("Status") == "successful", timeout=60,
               what="release 2 rolled out")  # fmt: skip
    assert (run.fake.read_job("web") or {})["Meta"]["release"] == "2"
    runs = run.daemon.metrics().get(
        "nomad_reconciler_analysis_runs_total", nomad_job="web", check="http/error-rate", result="pass"
    )
    assert runs is not None and runs >= 3


def test_a_breach_fails_the_deployment_nomad_reverts_and_the_digest_is_held(
    rollout: tuple[Rollout, MetricsExporter],
) -> None:
    run, exporter = rollout
    canary = run.canary()
    exporter.set_gauge("canary_error_ratio", 0.5, nomad_job="web", group="app", alloc_id=canary)
    failed = run.daemon.wait_log(
        "analysis failed the canaries: deployment failed, Nomad rolls back", timeout=90, nomad_job="web"
    )
    assert failed["reason"] == "analysis: http/error-rate = 0.5, wanted < 0.05"
    assert run.daemon.logs("promoted canaries") == []
    # Nomad's auto_revert: the job runs release 1 again, as a new version
    wait_until(lambda: ((run.fake.read_job("web") or {}).get("Meta", {}).get("release") == "1"
               and (run.fake.read_job("web") or {}).get("Version", 0) >= 2) or None,
               timeout=60, what="Nomad to revert web")  # fmt: skip
    run.daemon.wait_metric("nomad_reconciler_job_held", lambda v: v == 1, timeout=30,
                           nomad_job="web", reason="failed_rollout")  # fmt: skip


def test_no_series_is_inconclusive_and_the_analysis_resumes_when_data_appears(
    rollout: tuple[Rollout, MetricsExporter],
) -> None:
    run, exporter = rollout
    canary = run.canary()
    wait_until(lambda: len(run.measurements("inconclusive")) >= 3 or None, timeout=90,
               what="three inconclusive measurements")  # fmt: skip
    assert run.daemon.logs("promoted canaries") == []
    assert run.measurements("fail") == []
    assert run.deployment().get("Status") == "running"
    assert run.daemon.metrics().get(
        "nomad_reconciler_analysis_runs_total", nomad_job="web", result="inconclusive"
    ) >= 3  # type: ignore[operator]
    exporter.set_gauge("canary_error_ratio", 0.0, nomad_job="web", group="app", alloc_id=canary)
    run.daemon.wait_log("promoted canaries", timeout=90, nomad_job="web")
    assert len(run.measurements("pass")) >= 3


def test_a_restarted_daemon_resumes_from_prometheus_data_not_from_zero(
    rollout: tuple[Rollout, MetricsExporter],
) -> None:
    run, exporter = rollout
    canary = run.canary()
    exporter.set_gauge("canary_error_ratio", 0.01, nomad_job="web", group="app", alloc_id=canary)
    wait_until(lambda: len(run.measurements("pass")) >= 2 or None, timeout=90,
               what="two passing measurements")  # fmt: skip
    assert run.daemon.stop() == 0
    assert run.daemon.logs("promoted canaries") == []
    first = run.daemon
    run.daemon = DaemonProcess(run.repo.root, run.fake.address, *first.args[first.args.index("--promote-after"):])
    run.daemon.wait_log("promoted canaries", timeout=90, nomad_job="web")
    # the history came from a range query: fewer than a whole window measured anew
    assert len(run.measurements("pass")) < 3, run.daemon.dump()[-3000:]
    resumed = run.daemon.logs("canary analysis", nomad_job="web")[0]
    assert "0 passed" not in resumed["checks"], resumed
    wait_until(lambda: run.deployment().get("Status") == "successful", timeout=60,
               what="release 2 rolled out")  # fmt: skip
    assert len(run.daemon.logs("promoted canaries")) == 1


@pytest.mark.parametrize("rollout", [TEMPLATE.replace("count    = 3", "count    = 0")], indirect=True)
def test_a_broken_template_holds_the_canary_and_says_why(
    rollout: tuple[Rollout, MetricsExporter],
) -> None:
    run, exporter = rollout
    canary = run.canary()
    exporter.set_gauge("canary_error_ratio", 0.0, nomad_job="web", group="app", alloc_id=canary)
    blocked = run.daemon.wait_log("canary analysis", timeout=90, nomad_job="web", verdict="blocked")
    assert blocked["reason"].startswith('analysis cannot run: analysis template "http" has errors: '
                                        ".reconciler/analysis/http.hcl:6: ")  # fmt: skip
    run.daemon.wait_log("analysis template error", timeout=30)
    assert run.daemon.logs("promoted canaries") == []
    assert run.measurements("pass") == []
    assert run.deployment().get("Status") == "running"
