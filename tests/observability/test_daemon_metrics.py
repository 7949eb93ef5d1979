"""The dashboard and the alert rules against the metrics a REAL daemon exports:
``nomad-reconciler daemon`` runs as a subprocess on a git checkout, against the
Nomad fake over HTTP, and every metric name the dashboard and the alerts use
must appear in its ``/metrics`` (families without samples yet count: their
``# TYPE`` line is there).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import daemon_env
from tests.support.git import GitCheckout
from tests.support.monitoring import ALERTS, TARGETS
from tests.support.network import free_port
from tests.support.observability import exported_names, get
from tests.support.prometheus import needs_prometheus, running_prometheus
from tests.support.promql import PROMETHEUS_SERIES, selectors, substitute_grafana_variables
from tests.support.waiting import stop_process, wait_for

DEADLINE_S = 60.0

JOB = """\
job "hello" {
  datacenters = ["dc1"]
  group "app" {
    count = 1
    task "sleep" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def daemon_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a ready daemon on a checkout with one good and one broken job."""
    repo = tmp_path_factory.mktemp("checkout")
    (repo / "hello.nomad").write_text(JOB)
    (repo / "broken.nomad").write_text('job "broken" {\n  group "g" {\n')
    GitCheckout(repo).commit("jobs")
    port = free_port()
    env = daemon_env()
    log_path = repo.parent / "daemon.log"
    with FakeNomad() as fake, log_path.open("w") as log:
        # output to a file: a pipe nobody reads would fill and stall the daemon
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "daemon", str(repo),
             "--address", fake.address, "--listen", f"127.0.0.1:{port}", "--log-format", "json"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            end = time.monotonic() + DEADLINE_S
            ready = None
            while time.monotonic() < end and process.poll() is None:
                try:
                    ready = get(f"http://127.0.0.1:{port}/readyz")
                except OSError:
                    ready = None
                if ready and ready[0] == 200:
                    break
                time.sleep(0.1)  # pacing the poll of a starting process; bounded by the deadline
            assert ready and ready[0] == 200, (
                f"daemon never ready: {ready}: {log_path.read_text()[-3000:]}"
            )
            yield f"http://127.0.0.1:{port}"
        finally:
            assert stop_process(process) == 0, log_path.read_text()[-3000:]


@pytest.fixture(scope="module")
def daemon_metrics(daemon_url: str) -> str:
    status, text = get(daemon_url + "/metrics")
    assert status == 200
    return text


IN_SYNC = 'nomad_reconciler_job_sync_state{nomad_job="hello",nomad_namespace="default",state="in_sync"} 1.0'
BROKEN = "nomad_reconciler_parse_error_files 1.0"


def test_daemon_reports_its_jobs_and_checkout(daemon_url: str) -> None:
    # a load error is reported once it has persisted past the daemon's settle time
    end = time.monotonic() + DEADLINE_S
    lines: list[str] = []
    while time.monotonic() < end:
        lines = get(daemon_url + "/metrics")[1].splitlines()
        if IN_SYNC in lines and BROKEN in lines:
            break
        time.sleep(0.1)  # pacing the poll; bounded by the deadline
    assert IN_SYNC in lines
    assert BROKEN in lines
    daemon_metrics = "\n".join(lines)
    revision = [
        x
        for x in daemon_metrics.splitlines()
        if x.startswith("nomad_reconciler_source_revision_info{")
    ]
    assert len(revision) == 1 and 'dirty="false"' in revision[0], revision


@pytest.mark.parametrize(
    ("where", "expr"),
    [(f"dashboard {t}/{q['refId']}", q["expr"]) for t, q in TARGETS]
    + [(f"alert {r['alert']}", r["expr"]) for r in ALERTS],
)
def test_every_used_metric_is_exported_by_the_daemon(
    daemon_metrics: str, where: str, expr: str
) -> None:
    exported = exported_names(daemon_metrics) | PROMETHEUS_SERIES
    used = {name for name, _ in selectors(substitute_grafana_variables(expr))}
    assert used - exported == set(), where


def test_no_per_job_series_uses_the_job_label(daemon_metrics: str) -> None:
    for line in daemon_metrics.splitlines():
        if line.startswith("nomad_reconciler_") and "{" in line:
            labels = line[line.index("{") + 1 : line.rindex("}")]
            assert not labels.startswith("job=") and ',job="' not in labels, line


@pytest.mark.slow
@needs_prometheus
def test_real_prometheus_scrapes_the_daemon_and_evaluates_the_rules(
    daemon_url: str, tmp_path: Path
) -> None:
    target = daemon_url.removeprefix("http://")
    with running_prometheus(target, tmp_path) as prometheus:
        (up,) = prometheus.query('up{job="nomad-reconciler"}')
        assert up["value"][1] == "1"
        assert prometheus.query(
            'nomad_reconciler_job_sync_state{nomad_job="hello", state="in_sync"} == 1'
        )
        for _, target_query in TARGETS:
            prometheus.query(substitute_grafana_variables(target_query["expr"]))  # accepted

        def evaluated() -> list[dict[str, object]] | None:
            groups = prometheus.get("/api/v1/rules")["data"]["groups"]
            rules: list[dict[str, object]] = [r for g in groups for r in g["rules"]]
            done = rules and all(str(r.get("lastEvaluation", "")).startswith("2") for r in rules)
            return rules if done else None

        rules = wait_for("every rule to be evaluated", evaluated)
        assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
