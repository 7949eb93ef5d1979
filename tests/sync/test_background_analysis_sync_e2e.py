"""Background analysis in ``sync --wait``, end to end: the real CLI (a subprocess), the Nomad
fake (oldest and newest modelled versions) rolling ``web`` out without canaries, one
allocation at a time with ``auto_revert``, and a real Prometheus scraping a loopback
exporter whose per-allocation series the test drives (the check reads ``{{alloc_ids}}``).

- a breach of the new allocations fails the deployment mid-update, Nomad reverts, and
  ``sync`` exits 1 with the check's value;
- passing allocations: the rolling update finishes on health alone, nothing is failed.

Skipped only when no ``prometheus`` binary is installed (Debian package ``prometheus``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.analysis import BACKGROUND_TEMPLATE, rolling_job, running_monitoring
from tests.support.exporter import MetricsExporter
from tests.support.git import GitCheckout
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


class Release:
    """web at release 1 synced and rolled out; release 2 committed, not yet synced."""

    def __init__(self, root: Path, fake: FakeNomad, prom: Prometheus, exporter: MetricsExporter) -> None:
        self.fake, self.prom, self.exporter = fake, prom, exporter
        self.repo = GitCheckout(root)
        self.repo.write(".reconciler/analysis/http.hcl", BACKGROUND_TEMPLATE)
        self.repo.write("web.nomad", rolling_job("1"))
        self.repo.commit("web 1")
        first = subprocess.run(self.argv("--timeout", "90s"), env=_env(), capture_output=True, text=True,
                               timeout=120)  # fmt: skip
        assert first.returncode == 0, first.stdout + first.stderr
        self.first = (fake.latest_deployment("web") or {})["ID"]
        self.repo.write("web.nomad", rolling_job("2"))
        self.repo.commit("web 2")

    def argv(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "reconciler", "sync", str(self.repo.root), "--address", self.fake.address,
                "--wait", "--prometheus-url", self.prom.url, *extra]  # fmt: skip

    def sync(self, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*extra), env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    def first_new_allocation(self) -> str:
        def placed() -> str | None:
            dep = self.fake.latest_deployment("web") or {}
            if dep.get("ID") in (None, self.first):
                return None
            stubs = httpx.get(f"{self.fake.address}/v1/deployment/allocations/{dep['ID']}", timeout=10).json()
            return next((a["ID"] for a in stubs if a.get("TaskGroup") == "app"), None)

        found: str = wait_until(placed, timeout=60, what="release 2's first allocation")
        return found

    def set_error_ratio(self, value: float, alloc: str) -> None:
        self.exporter.set_gauge("canary_error_ratio", value, nomad_job="web", group="app", alloc_id=alloc)

    def writes(self, endpoint: str) -> list[str]:
        return [p for m, p, _, s in self.fake.request_log if m in ("PUT", "POST") and endpoint in p]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOMAD_", "PROMETHEUS_"))}
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture(params=fake_backend_params())
def release(
    request: pytest.FixtureRequest, tmp_path: Path, monitoring: tuple[Prometheus, MetricsExporter]
) -> Iterator[Release]:
    prom, exporter = monitoring
    with FakeNomad(version=request.param) as fake:
        yield Release(tmp_path / "jobs", fake, prom, exporter)


def finish(process: subprocess.Popen[str], timeout: float = 150) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        stop_process(process, timeout=10)
    return process.returncode, out, err


def test_sync_wait_fails_a_rolling_update_whose_new_allocations_breach(release: Release) -> None:
    process = release.sync("--timeout", "120s")
    release.set_error_ratio(0.5, release.first_new_allocation())
    code, out, err = finish(process)
    assert code == 1, out + err
    assert "deployment failed: analysis: http/error-rate = 0.5, wanted < 0.05" in out, out
    assert len(release.writes("/v1/deployment/fail/")) == 1
    wait_until(lambda: ((release.fake.read_job("web") or {}).get("Meta", {}).get("release") == "1"
                        and (release.fake.read_job("web") or {}).get("Version", 0) >= 2) or None,
               timeout=60, what="Nomad to revert web")  # fmt: skip


def test_sync_wait_lets_a_passing_rolling_update_finish_on_health_alone(release: Release) -> None:
    process = release.sync("--timeout", "120s", "--json")
    release.set_error_ratio(0.01, release.first_new_allocation())
    code, out, err = finish(process)
    assert code == 0, out + err
    rollout: dict[str, Any] = json.loads(out)["jobs"][0]["rollout"]
    assert rollout["status"] == "successful" and rollout["promoted"] is False, rollout
    # measured on the new allocations' series: a value, never "no data"
    assert any("http/error-rate:" in line and "last 0.01" in line for line in rollout["analysis"]), rollout
    assert release.writes("/v1/deployment/fail/") == []
    assert (release.fake.read_job("web") or {})["Meta"]["release"] == "2"
