"""Canary analysis end to end: the real daemon (a subprocess) on a git checkout, the Nomad
fake running a canary deployment with auto_revert, and a real Prometheus scraping a
loopback exporter whose per-allocation series the test drives.

- a healthy canary is promoted once its window has passed, never before;
- a canary whose error ratio breaches its check: the deployment is failed
  (``/v1/deployment/fail``), Nomad reverts the job, the digest is held with the value;
- no series for the canary: inconclusive, neither promoted nor failed, and the
  analysis resumes (and passes) once data appears.
- Prometheus down: inconclusive (the metrics say so), neither promoted nor failed;
  back on its address with its data, the analysis goes on and promotes;
- a daemon restarted mid-analysis resumes from Prometheus' data (a range query),
  and Nomad is asked to promote once;
- a template with an error holds the canaries of the jobs that use it, and says
  why; a job using another template is analysed and promoted meanwhile.

Skipped only when no ``prometheus`` binary is installed (Debian package ``prometheus``;
.ci/run installs it).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad, HealthModel
from tests.support.analysis import TEMPLATE, canary_job
from tests.support.daemon import DaemonProcess, daemon_env
from tests.support.exporter import MetricsExporter, running_exporter
from tests.support.git import GitCheckout
from tests.support.prometheus import (
    PROMETHEUS,
    Prometheus,
    RunningPrometheus,
    immediate_alerts,
    running_prometheus,
)
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None,
        reason="prometheus not on PATH (Debian package 'prometheus'; .ci/run installs it)",
    ),
]

BREACH = "analysis: http/error-rate = 0.5, wanted < 0.05"


def job(release: str, job_id: str = "web", analysis: str = "http") -> str:
    return canary_job(release, name=job_id, analysis=analysis)


@pytest.fixture(scope="module")
def exporter() -> Iterator[tuple[str, MetricsExporter]]:
    """("host:port", exporter): the loopback exporter every Prometheus here scrapes."""
    with running_exporter() as (target, metrics):
        yield target, metrics


@pytest.fixture(scope="module")
def monitoring(
    exporter: tuple[str, MetricsExporter], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Prometheus, MetricsExporter]]:
    target, metrics = exporter
    with running_prometheus(target, tmp_path_factory.mktemp("prometheus")) as prom:
        yield prom, metrics


class Rollout:
    """A checkout with ``jobs`` (job ID → the analysis it opts into) at release 1, and their
    ``templates`` (name → text); the fake; the daemon.  ``release()`` commits release 2."""

    def __init__(
        self, tmp_path: Path, fake: FakeNomad, prometheus_url: str, *,
        jobs: Mapping[str, str], templates: Mapping[str, str],
    ) -> None:  # fmt: skip
        self.fake = fake
        self.jobs = dict(jobs)
        self.repo = GitCheckout(tmp_path / "jobs")
        self._write(release="1", templates=templates)
        self.repo.commit("release 1")
        self.daemon = DaemonProcess(
            self.repo.root, fake.address, "--promote-after", "0s", "--prometheus-url", prometheus_url
        )
        self.first: dict[str, str] = {}

    def wait_release_1(self) -> None:
        self.daemon.wait_ready(timeout=60)  # bounded; generous for a loaded machine
        for job_id in self.jobs:
            wait_until(lambda j=job_id: self.deployment(j).get("Status") == "successful",
                       timeout=60, what=f"{job_id}'s first deployment")  # fmt: skip
        self.first = {job_id: self.deployment(job_id)["ID"] for job_id in self.jobs}

    def _write(self, *, release: str, templates: Mapping[str, str]) -> None:
        for name, text in templates.items():
            self.repo.write(f".reconciler/analysis/{name}.hcl", text)
        for job_id, analysis in self.jobs.items():
            self.repo.write(f"{job_id}.nomad", job(release, job_id, analysis))

    def release(self, templates: Mapping[str, str]) -> None:
        """Commit release 2 of every job, with these templates."""
        self._write(release="2", templates=templates)
        self.repo.commit("release 2")

    def deployment(self, job_id: str = "web") -> dict[str, Any]:
        return self.fake.latest_deployment(job_id) or {}

    def canary(self, job_id: str = "web") -> str:
        """The new deployment's canary allocation, once placed."""
        def placed() -> str | None:
            dep = self.deployment(job_id)
            ids = (dep.get("TaskGroups") or {}).get("app", {}).get("PlacedCanaries") or []
            return ids[0] if dep.get("ID") != self.first[job_id] and ids else None

        return wait_until(placed, timeout=60, what=f"the canary of {job_id}'s release 2")

    def measurements(self, result: str, job_id: str = "web") -> list[dict[str, Any]]:
        return self.daemon.logs("analysis measurement", nomad_job=job_id, result=result)

    def promote_requests(self) -> list[str]:
        """Every promotion Nomad was asked for (``POST /v1/deployment/promote/:id``)."""
        return [path for method, path, _query, _status in self.fake.request_log
                if method in ("PUT", "POST") and path.startswith("/v1/deployment/promote/")]


@contextmanager
def rolled_out(
    tmp_path: Path, prometheus_url: str, *, jobs: Mapping[str, str] | None = None,
    templates: Mapping[str, str] | None = None,
) -> Iterator[Rollout]:  # fmt: skip
    """Release 1 rolled out on the fake (web, analysis "http", by default); the daemon stops
    cleanly afterwards."""
    with FakeNomad(health=HealthModel(time_scale=0.25)) as fake:
        run = Rollout(tmp_path, fake, prometheus_url, jobs=jobs or {"web": "http"},
                      templates=templates or {"http": TEMPLATE})  # fmt: skip
        try:
            run.wait_release_1()
            yield run
        finally:
            code = run.daemon.stop()
            assert code == 0, run.daemon.dump()[-3000:]


@pytest.fixture
def rollout(
    request: pytest.FixtureRequest, tmp_path: Path, monitoring: tuple[Prometheus, MetricsExporter]
) -> Iterator[tuple[Rollout, MetricsExporter]]:
    """Release 2 is committed with the template ``request.param`` (default: the good one)."""
    prom, exporter = monitoring
    with rolled_out(tmp_path, prom.url) as run:
        run.release({"http": getattr(request, "param", TEMPLATE)})
        yield run, exporter


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
    rollout: tuple[Rollout, MetricsExporter], monitoring: tuple[Prometheus, MetricsExporter],
    tmp_path: Path,
) -> None:
    """The issue's "done when": a commit whose canary breaches its check ends with Nomad
    running the old version, the digest held with the check's value in ``status`` (the
    CLI's and the status page's), and an alert, without anyone touching Nomad."""
    run, exporter = rollout
    prom, _ = monitoring
    canary = run.canary()
    # A second Prometheus scrapes the daemon with the project's alert rules (``for``
    # removed: the test waits for the expression, not the rule's patience) before the breach,
    # so it sees the failed deployments counter move.
    alerting_dir = tmp_path / "alerting"
    alerting_dir.mkdir()
    with running_prometheus(f"127.0.0.1:{run.daemon.port}", alerting_dir,
                            rule_files=[immediate_alerts(alerting_dir)]) as alerting:  # fmt: skip
        exporter.set_gauge("canary_error_ratio", 0.5, nomad_job="web", group="app", alloc_id=canary)
        failed = run.daemon.wait_log(
            "analysis failed the canaries: deployment failed, Nomad rolls back", timeout=90, nomad_job="web"
        )
        assert failed["reason"] == BREACH
        assert run.daemon.logs("promoted canaries") == []
        # Nomad's auto_revert: the job runs release 1 again, as a new version
        wait_until(lambda: ((run.fake.read_job("web") or {}).get("Meta", {}).get("release") == "1"
                   and (run.fake.read_job("web") or {}).get("Version", 0) >= 2) or None,
                   timeout=60, what="Nomad to revert web")  # fmt: skip
        run.daemon.wait_metric("nomad_reconciler_job_held", lambda v: v == 1, timeout=30,
                               nomad_job="web", reason="failed_rollout")  # fmt: skip
        wait_until(lambda: alerting.firing("NomadReconcilerDeploymentFailed", nomad_job="web") or None,
                   timeout=60, what="the failed-deployment alert to fire")  # fmt: skip
    # The status page: the held job, the daemon's reason and the analysis with the value.
    doc = httpx.get(run.daemon.url + "/api/v1/status", timeout=30).json()
    web = next(j for j in doc["jobs"] if j["id"] == "web")
    assert web["action"] == "hold", web
    assert web["analysis"]["reason"] == BREACH and web["analysis"]["verdict"] == "fail", web
    assert web["analysis"]["checks"][0]["last_value"] == 0.5, web
    shown = BREACH.replace("<", "&lt;")  # HTML-escaped
    overview = httpx.get(run.daemon.url + "/", timeout=30).text
    assert overview.count(shown) >= 2, overview  # the holds list and the job's row
    page = httpx.get(run.daemon.url + "/jobs/default/web", timeout=30).text
    assert shown in page, page
    assert 'data-check="http/error-rate"' in page, page
    # The one-shot status, a fresh process: recomputed from Prometheus over the failed
    # deployment's window, after the canary is gone (its series no longer scraped).
    exporter.remove("canary_error_ratio", nomad_job="web", group="app", alloc_id=canary)
    status = subprocess.run(
        [sys.executable, "-m", "reconciler", "status", str(run.repo.root), "--address", run.fake.address,
         "--prometheus-url", prom.url],
        env={**daemon_env(), "NO_COLOR": "1"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"Analysis of web (default): {BREACH}" in status.stdout, status.stdout
    assert "http/error-rate: fail (last 0.5, wanted < 0.05; 0 passed, 1 failed" in status.stdout, status.stdout
    # nobody touched Nomad: one fail (the daemon's), no promotion, no hand-made write
    fails = [p for m, p, _q, _s in run.fake.request_log if m in ("PUT", "POST") and "/deployment/fail/" in p]
    assert len(fails) == 1 and run.promote_requests() == []


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
    rollout: tuple[Rollout, MetricsExporter], monitoring: tuple[Prometheus, MetricsExporter]
) -> None:
    run, exporter = rollout
    prom, _ = monitoring
    canary = run.canary()
    exporter.set_gauge("canary_error_ratio", 0.01, nomad_job="web", group="app", alloc_id=canary)
    wait_until(lambda: len(run.measurements("pass")) >= 2 or None, timeout=90,
               what="two passing measurements")  # fmt: skip
    assert run.daemon.stop() == 0
    assert run.daemon.logs("promoted canaries") == []
    assert run.promote_requests() == []
    ranges_before = prom.answered("/api/v1/query_range")
    first = run.daemon
    run.daemon = DaemonProcess(run.repo.root, run.fake.address, *first.args[first.args.index("--promote-after"):])
    run.daemon.wait_log("promoted canaries", timeout=90, nomad_job="web")
    # the history came from a range query: fewer than a whole window measured anew
    assert len(run.measurements("pass")) < 3, run.daemon.dump()[-3000:]
    assert prom.answered("/api/v1/query_range") > ranges_before
    resumed = run.daemon.logs("canary analysis", nomad_job="web")[0]
    assert "0 passed" not in resumed["checks"], resumed
    wait_until(lambda: run.deployment().get("Status") == "successful", timeout=60,
               what="release 2 rolled out")  # fmt: skip
    assert len(run.daemon.logs("promoted canaries")) == 1
    # Nomad was asked once, by the second daemon only: never a double promotion.
    assert run.promote_requests() == [f"/v1/deployment/promote/{run.deployment()['ID']}"]


def test_prometheus_down_is_inconclusive_and_the_analysis_resumes_when_it_is_back(
    tmp_path: Path, exporter: tuple[str, MetricsExporter]
) -> None:
    """Prometheus answers the first measurement, then stops: every measurement while it is
    down is inconclusive (neither promoted nor failed, the metrics say so); back on the
    same address with its data, the analysis goes on where it was and promotes."""
    target, metrics = exporter
    data = tmp_path / "prometheus"
    data.mkdir()
    # A window of 4: the outage begins after the first pass, well before the last.
    template = TEMPLATE.replace("count    = 3", "count    = 4")
    with running_prometheus(target, data) as prom, rolled_out(
        tmp_path, prom.url, templates={"http": template}
    ) as run:
        run.release({"http": template})
        canary = run.canary()
        metrics.set_gauge("canary_error_ratio", 0.01, nomad_job="web", group="app", alloc_id=canary)
        wait_until(lambda: run.measurements("pass") or None, timeout=90, what="a first pass")
        with _stopped(prom):
            wait_until(lambda: len(run.measurements("inconclusive")) >= 2 or None, timeout=90,
                       what="two inconclusive measurements")  # fmt: skip
            down = run.measurements("inconclusive")
            assert all(m["value"].startswith("query failed: ") for m in down), down
            assert run.daemon.logs("promoted canaries") == [] and run.promote_requests() == []
            assert run.measurements("fail") == []
            assert run.deployment().get("Status") == "running"
            said = run.daemon.wait_log("canary analysis", nomad_job="web", verdict="inconclusive")
            assert said["reason"] == "analysis inconclusive: http/error-rate", said
            runs = run.daemon.metrics().get(
                "nomad_reconciler_analysis_runs_total",
                nomad_job="web", check="http/error-rate", result="inconclusive",
            )  # fmt: skip
            assert runs is not None and runs >= 2
        promoted = run.daemon.wait_log("promoted canaries", timeout=90, nomad_job="web")
        passes = [m for m in run.measurements("pass") if m["ts"] <= promoted["ts"]]
        assert len(passes) >= 4, run.daemon.dump()[-3000:]
        assert any(m["ts"] > down[-1]["ts"] for m in passes)  # resumed after the outage
        assert run.measurements("fail") == []
        wait_until(lambda: run.deployment().get("Status") == "successful", timeout=60,
                   what="release 2 rolled out")  # fmt: skip
        assert len(run.promote_requests()) == 1


def test_a_daemon_restarted_while_prometheus_is_down_still_resumes_from_its_data(
    tmp_path: Path, exporter: tuple[str, MetricsExporter]
) -> None:
    """The history (the range query) is read once Prometheus is back, not given up on."""
    target, metrics = exporter
    data = tmp_path / "prometheus"
    data.mkdir()
    template = TEMPLATE.replace("count    = 3", "count    = 4")
    with running_prometheus(target, data) as prom, rolled_out(
        tmp_path, prom.url, templates={"http": template}
    ) as run:
        run.release({"http": template})
        canary = run.canary()
        metrics.set_gauge("canary_error_ratio", 0.01, nomad_job="web", group="app", alloc_id=canary)
        wait_until(lambda: len(run.measurements("pass")) >= 2 or None, timeout=90,
                   what="two passing measurements")  # fmt: skip
        assert run.daemon.stop() == 0
        assert run.promote_requests() == []
        first = run.daemon
        with _stopped(prom):
            run.daemon = DaemonProcess(
                run.repo.root, run.fake.address, *first.args[first.args.index("--promote-after"):]
            )
            run.daemon.wait_log("analysis history unavailable", timeout=90, nomad_job="web")
            run.daemon.wait_log("analysis measurement", timeout=90, result="inconclusive")
        run.daemon.wait_log("promoted canaries", timeout=90, nomad_job="web")
        # What the first daemon saw pass counted: fewer than a whole window measured anew.
        assert len(run.measurements("pass")) < 4, run.daemon.dump()[-3000:]
        wait_until(lambda: run.deployment().get("Status") == "successful", timeout=60,
                   what="release 2 rolled out")  # fmt: skip
        assert len(run.promote_requests()) == 1


@contextmanager
def _stopped(prom: RunningPrometheus) -> Iterator[None]:
    """Prometheus down for the block, then back (same address and data)."""
    prom.stop()
    try:
        yield
    finally:
        prom.restart()


def test_a_broken_template_holds_only_the_jobs_that_use_it_and_says_why(
    tmp_path: Path, monitoring: tuple[Prometheus, MetricsExporter]
) -> None:
    prom, exporter = monitoring
    good = TEMPLATE.replace('analysis "http"', 'analysis "ok"')
    broken = TEMPLATE.replace("count    = 3", "count    = 0")
    jobs = {"web": "http", "api": "ok"}
    with rolled_out(tmp_path, prom.url, jobs=jobs, templates={"http": TEMPLATE, "ok": good}) as run:
        run.release({"http": broken, "ok": good})
        for job_id in jobs:
            exporter.set_gauge("canary_error_ratio", 0.0, nomad_job=job_id, group="app",
                               alloc_id=run.canary(job_id))  # fmt: skip
        blocked = run.daemon.wait_log("canary analysis", timeout=90, nomad_job="web", verdict="blocked")
        assert blocked["reason"].startswith('analysis cannot run: analysis template "http" has errors: '
                                            ".reconciler/analysis/http.hcl:6: ")  # fmt: skip
        run.daemon.wait_log("analysis template error", timeout=30)
        # api, whose template is fine, is analysed and promoted meanwhile
        run.daemon.wait_log("promoted canaries", timeout=90, nomad_job="api")
        wait_until(lambda: run.deployment("api").get("Status") == "successful", timeout=60,
                   what="api's release 2 rolled out")  # fmt: skip
        assert len(run.measurements("pass", "api")) >= 3
        assert run.daemon.logs("promoted canaries", nomad_job="web") == []
        assert run.measurements("pass") == []
        assert run.deployment().get("Status") == "running"
