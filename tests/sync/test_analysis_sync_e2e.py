"""Canary analysis in the one-shot commands, end to end: the real CLI (a subprocess) on a
git checkout, the Nomad fake (oldest and newest modelled versions) running a canary
deployment with auto_revert, and a real Prometheus scraping a loopback exporter whose
per-allocation series the test drives.

- ``sync --wait --promote``: a healthy canary is promoted once its window passed;
  a breach fails the deployment (Nomad reverts) and exits 1 with the check's value;
  no series: inconclusive until ``--timeout``, neither promoted nor failed;
  no ``--prometheus-url``: blocked at once, never promoted;
- ``status``: the checks of a deployment in progress, recomputed from Prometheus
  (``--json`` and text), or "not evaluated" without a URL;
- background analysis (``web`` rolling out without canaries, one allocation at a time,
  the check on ``{{alloc_ids}}``): a breach of the new allocations fails the deployment
  mid-update, Nomad reverts, ``sync`` exits 1 with the check's value; passing
  allocations let the rolling update finish on health alone.

Skipped only when no ``prometheus`` binary is installed (Debian package ``prometheus``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad, HealthModel
from tests.support.analysis import (
    BACKGROUND_TEMPLATE,
    TEMPLATE,
    canary_job,
    placed_canary,
    rolling_job,
    running_monitoring,
)
from tests.support.exporter import MetricsExporter
from tests.support.git import GitCheckout
from tests.support.network import free_port
from tests.support.nomad_backends import fake_backend_params
from tests.support.prometheus import PROMETHEUS, Prometheus
from tests.support.waiting import stop_process, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None,
        reason="prometheus not on PATH (Debian package 'prometheus'; .ci/run installs it)",
    ),
]


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, MetricsExporter]]:
    with running_monitoring(tmp_path_factory.mktemp("prometheus")) as pair:
        yield pair


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOMAD_", "PROMETHEUS_"))}
    env["NO_COLOR"] = "1"
    return env


class Release:
    """web at release 1 synced and rolled out; release 2 committed, not yet synced.
    ``rolling``: web rolls out without canaries (background analysis)."""

    def __init__(
        self, root: Path, fake: FakeNomad, prom: Prometheus, exporter: MetricsExporter, *, rolling: bool = False
    ) -> None:  # fmt: skip
        self.fake, self.prom, self.exporter = fake, prom, exporter
        spec = rolling_job if rolling else canary_job
        self.repo = GitCheckout(root)
        self.repo.write(".reconciler/analysis/http.hcl", BACKGROUND_TEMPLATE if rolling else TEMPLATE)
        self.repo.write("web.nomad", spec("1"))
        self.repo.commit("web 1")
        first = self.cli("sync", "--wait", "--timeout", "90s", "--prometheus-url", prom.url)
        assert first.returncode == 0, first.stdout + first.stderr
        self.first = (fake.latest_deployment("web") or {})["ID"]
        self.repo.write("web.nomad", spec("2"))
        self.repo.commit("web 2")

    def argv(self, command: str, *extra: str) -> list[str]:
        return [sys.executable, "-m", "reconciler", command, str(self.repo.root),
                "--address", self.fake.address, *extra]  # fmt: skip

    def cli(self, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(command, *extra), env=_env(), capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    def start(self, command: str, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(command, *extra), env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    def canary(self) -> str:
        return placed_canary(self.fake, "web", after=self.first)

    def first_new_allocation(self) -> str:
        """Release 2's first allocation (a rolling update), once placed."""
        def placed() -> str | None:
            dep = self.deployment()
            if dep.get("ID") in (None, self.first):
                return None
            stubs = httpx.get(f"{self.fake.address}/v1/deployment/allocations/{dep['ID']}", timeout=10).json()
            return next((a["ID"] for a in stubs if a.get("TaskGroup") == "app"), None)

        found: str = wait_until(placed, timeout=60, what="release 2's first allocation")
        return found

    def set_error_ratio(self, value: float, canary: str) -> None:
        self.exporter.set_gauge("canary_error_ratio", value, nomad_job="web", group="app", alloc_id=canary)

    def deployment(self) -> dict[str, Any]:
        return self.fake.latest_deployment("web") or {}

    def writes(self, endpoint: str) -> list[str]:
        return [p for m, p, _, s in self.fake.request_log if m in ("PUT", "POST") and endpoint in p]


@pytest.fixture(params=fake_backend_params())
def release(
    request: pytest.FixtureRequest, tmp_path: Path, monitoring: tuple[Prometheus, MetricsExporter]
) -> Iterator[Release]:
    prom, exporter = monitoring
    with FakeNomad(version=request.param, health=HealthModel(time_scale=0.25)) as fake:
        yield Release(tmp_path / "jobs", fake, prom, exporter)


@pytest.fixture(params=fake_backend_params())
def rolling(
    request: pytest.FixtureRequest, tmp_path: Path, monitoring: tuple[Prometheus, MetricsExporter]
) -> Iterator[Release]:
    """A rolling update without canaries, slow enough (``min_healthy_time``) to be judged mid-way."""
    prom, exporter = monitoring
    with FakeNomad(version=request.param) as fake:
        yield Release(tmp_path / "jobs", fake, prom, exporter, rolling=True)


def finish(process: subprocess.Popen[str], timeout: float = 150) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        stop_process(process, timeout=10)
    return process.returncode, out, err


def test_sync_wait_promotes_a_healthy_canary_once_its_window_passed(release: Release) -> None:
    process = release.start("sync", "--wait", "--promote", "--json", "--timeout", "90s",
                            "--prometheus-url", release.prom.url)  # fmt: skip
    release.set_error_ratio(0.01, release.canary())
    code, out, err = finish(process)
    assert code == 0, out + err
    rollout = json.loads(out)["jobs"][0]["rollout"]
    assert rollout["status"] == "successful" and rollout["promoted"] is True, rollout
    # promoted only after the whole window: three passing measurements, no failure
    assert any("http/error-rate: pass" in line and "3 passed, 0 failed" in line
               for line in rollout["analysis"]), rollout  # fmt: skip
    assert len(release.writes("/v1/deployment/promote/")) == 1
    assert release.writes("/v1/deployment/fail/") == []
    assert (release.fake.read_job("web") or {})["Meta"]["release"] == "2"


def test_sync_wait_fails_a_breaching_canary_and_nomad_reverts(release: Release) -> None:
    process = release.start("sync", "--wait", "--promote", "--timeout", "90s",
                            "--prometheus-url", release.prom.url)  # fmt: skip
    release.set_error_ratio(0.5, release.canary())
    code, out, err = finish(process)
    assert code == 1, out + err
    assert "analysis: http/error-rate = 0.5, wanted < 0.05" in out, out
    assert len(release.writes("/v1/deployment/fail/")) == 1
    assert release.writes("/v1/deployment/promote/") == []
    # Nomad's auto_revert: release 1 runs again, as a new job version
    wait_until(lambda: ((release.fake.read_job("web") or {}).get("Meta", {}).get("release") == "1"
                        and (release.fake.read_job("web") or {}).get("Version", 0) >= 2) or None,
               timeout=60, what="Nomad to revert web")  # fmt: skip


def test_status_explains_a_hold_by_the_analysis_of_the_failed_deployment(release: Release) -> None:
    """After a breach and Nomad's revert, a fresh ``status`` recomputes the failed deployment's
    analysis over its window (canaries healthy → failed, Nomad's timestamps)."""
    process = release.start("sync", "--wait", "--promote", "--timeout", "90s",
                            "--prometheus-url", release.prom.url)  # fmt: skip
    canary = release.canary()
    release.set_error_ratio(0.5, canary)
    code, out, err = finish(process)
    assert code == 1 and "analysis: http/error-rate = 0.5" in out, out + err
    wait_until(lambda: (release.fake.read_job("web") or {}).get("Version", 0) >= 2 or None,
               timeout=60, what="Nomad to revert web")  # fmt: skip
    # after the revert the canary serves nothing: only the window's data can explain the hold
    release.exporter.remove("canary_error_ratio", nomad_job="web", group="app", alloc_id=canary)
    done = release.cli("status", "--json", "--prometheus-url", release.prom.url)
    assert done.returncode == 0, done.stdout + done.stderr
    job = json.loads(done.stdout)["jobs"][0]
    assert job["action"] == "hold" and "rollout of this spec failed" in job["reason"], job
    analysis = job["analysis"]
    assert analysis["evaluated"] is True and analysis["verdict"] == "fail", analysis
    assert analysis["reason"] == "analysis: http/error-rate = 0.5, wanted < 0.05", analysis
    check = analysis["checks"][0]
    assert check["last_value"] == 0.5 and check["failures"] == 1 and check["failure_limit"] == 0, check
    text = release.cli("status", "--prometheus-url", release.prom.url)
    assert "Analysis of web (default): analysis: http/error-rate = 0.5, wanted < 0.05" in text.stdout, text.stdout
    assert "http/error-rate: fail (last 0.5, wanted < 0.05; " in text.stdout, text.stdout
    bare = json.loads(release.cli("status", "--json").stdout)["jobs"][0]["analysis"]
    assert bare["evaluated"] is False and bare["reason"] == "analysis not evaluated (no --prometheus-url)"
    assert len(release.writes("/v1/deployment/fail/")) == 1  # status only read


def test_status_closes_a_failed_deployments_window_when_nomad_failed_it(release: Release) -> None:
    """A deployment failed by hand mid-analysis: ``status`` counts the measurements up to the
    failure (dated by Nomad's evaluation), never the canary's silence after it."""
    # A window of 20 (40s): the analysis is still pending when the deployment is failed.
    release.repo.write(".reconciler/analysis/http.hcl", TEMPLATE.replace("count    = 3", "count    = 20"))
    release.repo.commit("web 2: a longer analysis window")
    assert release.cli("sync").returncode == 0  # no --wait: nobody judges but status
    canary = release.canary()
    release.set_error_ratio(0.01, canary)

    def passed_once() -> bool | None:
        done = release.cli("status", "--json", "--prometheus-url", release.prom.url)
        analysis = json.loads(done.stdout)["jobs"][0]["analysis"] or {}
        return (bool(analysis.get("checks")) and (analysis["checks"][0]["passes"] or 0) >= 1) or None

    wait_until(passed_once, timeout=60, what="a passing measurement")
    failing = release.deployment()["ID"]
    httpx.put(f"{release.fake.address}/v1/deployment/fail/{failing}", json={}).raise_for_status()
    failed_at = time.time()
    wait_until(lambda: (release.fake.read_job("web") or {}).get("Version", 0) >= 2 or None,
               timeout=60, what="Nomad to revert web")  # fmt: skip
    release.exporter.remove("canary_error_ratio", nomad_job="web", group="app", alloc_id=canary)
    # two more intervals: a window running to now would hold inconclusive slots
    wait_until(lambda: time.time() > failed_at + 5 or None, timeout=30, what="two intervals")
    done = release.cli("status", "--json", "--prometheus-url", release.prom.url)
    job = json.loads(done.stdout)["jobs"][0]
    assert job["action"] == "hold" and "rollout of this spec failed" in job["reason"], job
    analysis = job["analysis"]
    assert analysis["verdict"] == "pending" and analysis["reason"] == "analysis pending: http/error-rate", analysis
    check = analysis["checks"][0]
    assert check["passes"] >= 1 and check["failures"] == 0 and check["inconclusive"] == 0, check
    assert check["last_value"] == 0.01, check


def test_sync_wait_without_data_is_inconclusive_until_the_timeout(release: Release) -> None:
    # no series for this canary: every measurement is inconclusive
    code_out = release.cli("sync", "--wait", "--promote", "--timeout", "9s", "--prometheus-url", release.prom.url)
    assert code_out.returncode == 1, code_out.stdout + code_out.stderr
    assert "analysis inconclusive: http/error-rate" in code_out.stdout, code_out.stdout
    assert "no data" in code_out.stdout, code_out.stdout
    assert release.writes("/v1/deployment/promote/") == []
    assert release.writes("/v1/deployment/fail/") == []
    assert release.deployment().get("Status") == "running"


def test_sync_wait_without_prometheus_never_promotes_an_analysed_canary(release: Release) -> None:
    done = release.cli("sync", "--wait", "--promote", "--timeout", "60s")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "blocked" in done.stdout and "no --prometheus-url" in done.stdout, done.stdout
    assert release.writes("/v1/deployment/promote/") == []
    assert release.deployment().get("Status") == "running"


def test_status_shows_the_analysis_of_a_deployment_in_progress(release: Release) -> None:
    # Registered without --wait: nobody promotes; the analysis runs only in status' eyes.
    assert release.cli("sync").returncode == 0
    canary = release.canary()
    release.set_error_ratio(0.01, canary)
    wait_until(lambda: (release.deployment().get("TaskGroups") or {}).get("app", {}).get("HealthyAllocs"),
               timeout=60, what="a healthy canary")  # fmt: skip

    def measured() -> dict[str, Any] | None:
        done = release.cli("status", "--json", "--prometheus-url", release.prom.url)
        assert done.returncode == 0, done.stdout + done.stderr
        analysis = json.loads(done.stdout)["jobs"][0]["analysis"]
        check = analysis["checks"][0] if analysis and analysis["checks"] else {}
        return analysis if (check.get("passes") or 0) >= 1 else None

    analysis = wait_until(measured, timeout=60, what="status to show a passing measurement")
    assert analysis["evaluated"] is True and analysis["verdict"] in ("pending", "pass")
    check = analysis["checks"][0]
    assert check["name"] == "http/error-rate" and check["condition"] == "< 0.05"
    assert check["last_value"] == 0.01 and check["failures"] == 0, check
    text = release.cli("status", "--prometheus-url", release.prom.url)
    assert "Analysis of web (default): analysis" in text.stdout, text.stdout
    assert "http/error-rate:" in text.stdout and "wanted < 0.05" in text.stdout, text.stdout
    bare = release.cli("status", "--json")
    unevaluated = json.loads(bare.stdout)["jobs"][0]["analysis"]
    assert unevaluated["evaluated"] is False
    assert unevaluated["reason"] == "analysis not evaluated (no --prometheus-url)"
    assert unevaluated["checks"][0]["condition"] == "< 0.05"
    # status only reads: nothing was promoted or failed
    assert release.writes("/v1/deployment/") == []


def test_sync_wait_with_a_broken_template_is_blocked_and_says_why(release: Release) -> None:
    release.repo.write(".reconciler/analysis/http.hcl", TEMPLATE.replace("count    = 3", "count    = 0"))
    release.repo.commit("break the template")
    done = release.cli("sync", "--wait", "--promote", "--timeout", "60s", "--prometheus-url", release.prom.url)
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'analysis cannot run: analysis template "http" has errors: .reconciler/analysis/http.hcl:6: ' \
        in done.stdout, done.stdout  # fmt: skip
    assert release.writes("/v1/deployment/promote/") == []
    assert release.writes("/v1/deployment/fail/") == []
    assert release.deployment().get("Status") == "running"


def test_sync_wait_with_prometheus_down_is_inconclusive_never_promoted_nor_failed(release: Release) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = release.cli("sync", "--wait", "--promote", "--timeout", "7s", "--prometheus-url", down)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "analysis inconclusive: http/error-rate" in done.stdout, done.stdout
    assert "query failed: /api/v1/query: cannot reach" in done.stdout, done.stdout
    assert release.writes("/v1/deployment/promote/") == []
    assert release.writes("/v1/deployment/fail/") == []


def test_sync_wait_without_a_promotion_policy_passes_the_analysis_and_waits(release: Release) -> None:
    process = release.start("sync", "--wait", "--timeout", "14s", "--prometheus-url", release.prom.url)
    release.set_error_ratio(0.0, release.canary())
    code, out, err = finish(process)
    assert code == 1, out + err  # a timeout: nobody may promote
    assert "analysis passed; canaries await promotion" in out, out
    assert "http/error-rate: pass" in out, out
    assert release.writes("/v1/deployment/promote/") == []
    assert release.deployment().get("Status") == "running"


def test_sync_wait_fails_a_rolling_update_whose_new_allocations_breach(rolling: Release) -> None:
    process = rolling.start("sync", "--wait", "--timeout", "120s", "--prometheus-url", rolling.prom.url)
    rolling.set_error_ratio(0.5, rolling.first_new_allocation())
    code, out, err = finish(process)
    assert code == 1, out + err
    assert "deployment failed: analysis: http/error-rate = 0.5, wanted < 0.05" in out, out
    assert len(rolling.writes("/v1/deployment/fail/")) == 1
    wait_until(lambda: ((rolling.fake.read_job("web") or {}).get("Meta", {}).get("release") == "1"
                        and (rolling.fake.read_job("web") or {}).get("Version", 0) >= 2) or None,
               timeout=60, what="Nomad to revert web")  # fmt: skip


def test_sync_wait_lets_a_passing_rolling_update_finish_on_health_alone(rolling: Release) -> None:
    process = rolling.start("sync", "--wait", "--json", "--timeout", "120s", "--prometheus-url", rolling.prom.url)
    rolling.set_error_ratio(0.01, rolling.first_new_allocation())
    code, out, err = finish(process)
    assert code == 0, out + err
    rollout: dict[str, Any] = json.loads(out)["jobs"][0]["rollout"]
    assert rollout["status"] == "successful" and rollout["promoted"] is False, rollout
    # measured on the new allocations' series: a value, never "no data"
    assert any("http/error-rate:" in line and "last 0.01" in line for line in rollout["analysis"]), rollout
    assert rolling.writes("/v1/deployment/fail/") == []
    assert (rolling.fake.read_job("web") or {})["Meta"]["release"] == "2"
