"""End to end: a real Prometheus on loopback scrapes a running ObservabilityServer;
every dashboard query and alert expression is evaluated through its HTTP API
and must return data, and Prometheus evaluates the alert rules without error.

Skipped only when no ``prometheus`` binary is installed (Debian package
``prometheus``; .ci/run installs it).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import promql_parser
import pytest
import yaml
from prometheus_client import CollectorRegistry

from reconciler.metrics import ObservabilityServer, ReconcilerMetrics
from tests.observability.conftest import FakeClock, populate
from tests.observability.promql import substitute_grafana_variables
from tests.observability.test_alert_rules import ALERTS, PROMETHEUS_DIR
from tests.observability.test_dashboard import TARGETS

PROMETHEUS = shutil.which("prometheus")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None,
        reason="prometheus not on PATH (Debian package 'prometheus'; .ci/run installs it)",
    ),
]
DEADLINE_S = 60.0
COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, probe: Callable[[], T | None], *, deadline_s: float = DEADLINE_S) -> T:
    """Poll ``probe`` until it returns a value (bounded); the sleep paces polling only."""
    end = time.monotonic() + deadline_s
    last_error: Exception | None = None
    while time.monotonic() < end:
        try:
            value = probe()
        except (OSError, urllib.error.URLError) as exc:
            last_error, value = exc, None
        if value is not None:
            return value
        time.sleep(0.2)
    raise AssertionError(
        f"timed out after {deadline_s}s waiting for {what} (last error: {last_error})"
    )


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(self.url + path + query, timeout=10) as response:
            return json.loads(response.read())

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = self.get("/api/v1/query", query=expr)
        assert answer["status"] == "success", (expr, answer)
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    assert PROMETHEUS is not None
    clock = FakeClock(start=time.time())
    metrics = ReconcilerMetrics(CollectorRegistry(), clock=clock)
    populate(metrics, clock)
    server = ObservabilityServer(
        metrics, host="127.0.0.1", port=0,
        liveness=lambda: (True, "alive"), readiness=lambda: (True, "ready"),
    )  # fmt: skip
    workdir = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(PROMETHEUS_DIR / "alerts.yml")],
        "scrape_configs": [
            {"job_name": "nomad-reconciler", "static_configs": [{"targets": []}]},
        ],
    }
    port = free_port()
    with server:
        host, metrics_port = server.address
        config["scrape_configs"][0]["static_configs"][0]["targets"] = [f"{host}:{metrics_port}"]
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = (workdir / "prometheus.log").open("w")
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            prom = Prometheus(f"http://127.0.0.1:{port}")

            def enough_scrapes() -> bool | None:
                if process.poll() is not None:
                    raise AssertionError(
                        f"prometheus exited: {(workdir / 'prometheus.log').read_text()}"
                    )
                # rate() needs two samples inside its window
                got = prom.query('count_over_time(up{job="nomad-reconciler"}[5m])')
                return True if got and float(got[0]["value"][1]) >= 3 else None

            wait_for("three scrapes of the reconciler", enough_scrapes)
            yield prom
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
            log.close()


def test_prometheus_scrapes_the_endpoint(prometheus: Prometheus) -> None:
    (up,) = prometheus.query('up{job="nomad-reconciler"}')
    assert up["value"][1] == "1"


@pytest.mark.parametrize(
    ("title", "target"), TARGETS, ids=[f"{t}/{q['refId']}" for t, q in TARGETS]
)
def test_dashboard_query_returns_data(
    prometheus: Prometheus, title: str, target: dict[str, Any]
) -> None:
    expr = substitute_grafana_variables(target["expr"])
    assert prometheus.query(expr), f"{title}: no data for {expr}"


def data_queries(node: promql_parser.Expr) -> list[str]:
    """The parts of an alert expression that must return data when the series exist.

    A threshold filters series away when the alert is quiet, and absent()
    returns nothing while its argument exists, so both are looked through.
    """
    if isinstance(node, promql_parser.ParenExpr):
        return data_queries(node.expr)
    if isinstance(node, promql_parser.BinaryExpr):
        op = str(node.op)
        if op in COMPARISONS and isinstance(node.rhs, promql_parser.NumberLiteral):
            return data_queries(node.lhs)
        if op in {"or", "and"}:
            return data_queries(node.lhs) + data_queries(node.rhs)
    if isinstance(node, promql_parser.Call) and node.func.name == "absent":
        return [str(arg) for arg in node.args]
    return [str(node)]


@pytest.mark.parametrize("rule", ALERTS, ids=[r["alert"] for r in ALERTS])
def test_alert_expression_returns_data(prometheus: Prometheus, rule: dict[str, Any]) -> None:
    prometheus.query(rule["expr"])  # the whole rule evaluates
    for part in data_queries(promql_parser.parse(rule["expr"])):
        assert prometheus.query(part), f"{rule['alert']}: no data for {part}"


def test_rules_evaluate_cleanly_and_a_failed_deployment_fires(prometheus: Prometheus) -> None:
    def evaluated_rules() -> list[dict[str, Any]] | None:
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        done = rules and all(r.get("lastEvaluation", "").startswith("2") for r in rules)
        return rules if done and all(r["health"] != "unknown" for r in rules) else None

    rules = wait_for("every rule to be evaluated", evaluated_rules)
    assert {r["name"] for r in rules} == {r["alert"] for r in ALERTS}
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []

    def firing() -> list[dict[str, Any]] | None:
        alerts = prometheus.get("/api/v1/alerts")["data"]["alerts"]
        found = [
            a for a in alerts
            if a["labels"]["alertname"] == "NomadReconcilerDeploymentFailed" and a["state"] == "firing"
        ]  # fmt: skip
        return found or None

    alerts = wait_for("the failed deployment alert", firing)
    assert [(a["labels"]["nomad_namespace"], a["labels"]["nomad_job"]) for a in alerts] == [
        ("default", "db")
    ]
