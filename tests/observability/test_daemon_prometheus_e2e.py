"""End to end with a REAL daemon: a real Prometheus on loopback scrapes
``nomad-reconciler daemon`` (a subprocess on a git checkout, against the Nomad
fake over HTTP) while it lives through what the dashboard and the alerts are
for — a canary awaiting promotion, a rollout that fails and is reverted, a job
Nomad rejects, a broken file, a job changed by hand, an unmanaged job, Nomad
API errors — and every dashboard query and every alert expression, evaluated
through Prometheus' query API, returns data.

Skipped only when no ``prometheus`` binary is installed (Debian package
``prometheus``; .ci/run installs it).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import promql_parser
import pytest

from reconciler.testing.fake_nomad import FakeNomad, HealthModel
from tests.support.daemon import daemon_env
from tests.support.git import GitCheckout, run_git
from tests.support.monitoring import ALERTS, TARGETS, data_queries
from tests.support.network import free_port
from tests.support.observability import get
from tests.support.prometheus import Prometheus, needs_prometheus, running_prometheus
from tests.support.promql import substitute_grafana_variables
from tests.support.waiting import stop_process, wait_for

pytestmark = [pytest.mark.slow, needs_prometheus]

UPDATE = """
  update {
    max_parallel      = 1
    %s
    min_healthy_time  = "2s"
    healthy_deadline  = "10s"
    progress_deadline = "20s"
    auto_revert       = true
  }
"""


def service(job_id: str, *, command: str = "/bin/sleep", update: str = "", extra: str = "",
            meta: str = "") -> str:
    return f"""job "{job_id}" {{
  datacenters = ["dc1"]
  meta {{
    rev = "1"{meta}
  }}
{update}
  group "app" {{
    count = 2
{extra}
    task "main" {{
      driver = "exec"
      config {{
        command = "{command}"
        args    = ["3600"]
      }}
    }}
  }}
}}
"""


CANARY = UPDATE % 'canary = 1\n    auto_promote = false'
ROLLING = UPDATE % ""
# Nomad refuses this at registration: a service job's reschedule policy is
# unlimited unless told otherwise, so attempts alone is "ambiguous".
REJECTED_EXTRA = '    reschedule {\n      attempts = 3\n      interval = "10m"\n    }\n'


def _deployment(fake: FakeNomad, job_id: str) -> dict[str, Any]:
    return fake.latest_deployment(job_id) or {}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    repo = tmp_path_factory.mktemp("checkout")
    (repo / "hello.nomad").write_text(service("hello"))
    (repo / "web.nomad").write_text(service("web", update=CANARY))
    (repo / "flaky.nomad").write_text(service("flaky", update=ROLLING))
    (repo / "rejected.nomad").write_text(service("rejected", extra=REJECTED_EXTRA))
    (repo / "broken.nomad").write_text('job "broken" {\n  group "g" {\n')
    # Nomad alters every submission of this one (a mutating admission step): held
    # not_converging after one read-back, never re-sent in a loop.
    (repo / "churn.nomad").write_text(service("churn"))
    GitCheckout(repo).commit("jobs")
    port = free_port()
    env = daemon_env()
    log_path = repo.parent / "daemon.log"
    # Nomad's own timings run 4x faster: min_healthy_time 2s becomes 0.5s.
    with FakeNomad(
        health=HealthModel(time_scale=0.25), admission_nonce={("default", "churn")}
    ) as fake, log_path.open("w") as log:
        # A job nobody declared, already running: counted as unmanaged, never touched.
        fake.run_job_out_of_band({
            "ID": "adhoc", "Name": "adhoc", "Type": "batch", "Datacenters": ["dc1"],
            "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec",
                                                     "Config": {"command": "/bin/true"}}]}],
        })
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "daemon", str(repo), "--address", fake.address,
             "--listen", f"127.0.0.1:{port}", "--log-format", "json", "--no-self-heal",
             "--backoffs", "0.5,1"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            def ready() -> bool | None:
                assert process.poll() is None, log_path.read_text()[-3000:]
                return get(f"http://127.0.0.1:{port}/readyz")[0] == 200 or None

            wait_for("the daemon's first pass", ready)
            for job_id in ("hello", "web", "flaky"):
                wait_for(f"{job_id}'s first deployment",
                         lambda j=job_id: _deployment(fake, j).get("Status") == "successful" or None)

            # One commit: web's canary waits for a promotion nobody allows;
            # flaky's new version runs `false`, fails, and Nomad reverts it.
            (repo / "web.nomad").write_text(service("web", update=CANARY, meta='\n    rev2 = "2"'))
            (repo / "flaky.nomad").write_text(service("flaky", update=ROLLING, command="/bin/false"))
            run_git(repo, "commit", "-qam", "web: new build; flaky: broken build")
            wait_for("web's canary", lambda: "requires manual promotion" in str(
                _deployment(fake, "web").get("StatusDescription")) or None)
            wait_for("flaky reverted", lambda: (fake.read_job("flaky") or {}).get("Version") == 2 or None)

            # Behind the daemon's back: a hand scale (reported, not healed).
            fake.scale("hello", "app", 3, message="by hand")
            # Nomad API errors the daemon lives through.
            fake.faults.fail_next(3, status=500, path_prefix="/v1/job")

            with running_prometheus(f"127.0.0.1:{port}", tmp_path_factory.mktemp("prometheus")) as prom:
                yield prom
        finally:
            assert stop_process(process) == 0, log_path.read_text()[-3000:]


# Canary analysis series appear only while the daemon analyses a canary against
# Prometheus; this module's daemon runs none (no --prometheus-url), so their
# panels and alert are checked through a real Prometheus elsewhere
# (tests/observability/test_prometheus_e2e.py) and not here.
ANALYSIS_SERIES = "nomad_reconciler_analysis_"
DAEMON_TARGETS = [(t, q) for t, q in TARGETS if ANALYSIS_SERIES not in q["expr"]]
DAEMON_ALERTS = [r for r in ALERTS if ANALYSIS_SERIES not in r["expr"]]


def _returns_data(prometheus: Prometheus, expr: str, what: str) -> None:
    # Bounded wait: a rate() needs two scrapes in its window, a state a pass or two.
    wait_for(f"{what}: data for {expr}", lambda: prometheus.query(expr) or None, deadline_s=90)


@pytest.mark.parametrize(
    ("title", "target"), DAEMON_TARGETS, ids=[f"{t}/{q['refId']}" for t, q in DAEMON_TARGETS]
)
def test_every_dashboard_query_returns_data_from_the_daemon(
    prometheus: Prometheus, title: str, target: dict[str, Any]
) -> None:
    _returns_data(prometheus, substitute_grafana_variables(target["expr"]), title)


@pytest.mark.parametrize("rule", DAEMON_ALERTS, ids=[r["alert"] for r in DAEMON_ALERTS])
def test_every_alert_expression_returns_data_from_the_daemon(
    prometheus: Prometheus, rule: dict[str, Any]
) -> None:
    prometheus.query(rule["expr"])  # the whole rule evaluates
    for part in data_queries(promql_parser.parse(rule["expr"])):
        _returns_data(prometheus, part, rule["alert"])


def test_the_daemon_reports_what_happened(prometheus: Prometheus) -> None:
    def states() -> dict[str, str] | None:
        rows = prometheus.query("nomad_reconciler_job_sync_state == 1")
        found = {r["metric"]["nomad_job"]: r["metric"]["state"] for r in rows}
        # web's file matches what Nomad runs: in sync, its rollout awaiting promotion.
        want = {"hello": "modified", "web": "in_sync", "flaky": "held", "rejected": "error",
                "churn": "held"}
        return found if all(found.get(k) == v for k, v in want.items()) else None

    wait_for("every job in its expected state", states, deadline_s=90)
    held = {r["metric"]["nomad_job"]: r["metric"]["reason"]
            for r in prometheus.query("nomad_reconciler_job_held == 1")}
    assert held == {"flaky": "failed_rollout", "churn": "not_converging"}
    (unmanaged,) = prometheus.query('nomad_reconciler_jobs{state="unmanaged"}')
    assert unmanaged["value"][1] == "1"
    (awaiting,) = prometheus.query("nomad_reconciler_job_awaiting_promotion == 1")
    assert awaiting["metric"]["nomad_job"] == "web"
    failed = prometheus.query('nomad_reconciler_deployments_finished_total{status="failed"} > 0')
    assert [r["metric"]["nomad_job"] for r in failed] == ["flaky"]
    assert prometheus.query('nomad_reconciler_nomad_requests_total{status="500"} > 0')
    (parse_errors,) = prometheus.query("nomad_reconciler_parse_error_files")
    assert parse_errors["value"][1] == "1"
