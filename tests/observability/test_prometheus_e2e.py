"""End to end: a real Prometheus on loopback scrapes a running ObservabilityServer;
every dashboard query and alert expression is evaluated through its HTTP API
and must return data, and Prometheus evaluates the alert rules without error.

Skipped only when no ``prometheus`` binary is installed (Debian package
``prometheus``; .ci/run installs it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import promql_parser
import pytest
from prometheus_client import CollectorRegistry

from reconciler.observability import ReconcilerMetrics
from tests.support.monitoring import ALERTS, TARGETS, data_queries
from tests.support.observability import FakeClock, populate, serve
from tests.support.prometheus import Prometheus, needs_prometheus, running_prometheus
from tests.support.promql import substitute_grafana_variables
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, needs_prometheus]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    clock = FakeClock(start=time.time())
    metrics = ReconcilerMetrics(CollectorRegistry(), clock=clock)
    populate(metrics, clock)
    with serve(metrics) as server:
        host, port = server.address
        with running_prometheus(f"{host}:{port}", tmp_path_factory.mktemp("prometheus")) as prom:
            yield prom


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
