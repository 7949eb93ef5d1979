"""deploy/prometheus: alert rules use only exported series, every alert is unit
tested firing and not firing, and promtool accepts the rules, their tests and
the scrape configuration."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from tests.support.monitoring import ALERTS, PROMETHEUS_DIR, load
from tests.support.promql import problems

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not on PATH (Debian package 'prometheus'; .ci/run installs it)",
)




def test_the_required_alerts_exist() -> None:
    assert {r["alert"] for r in ALERTS} >= {
        "NomadReconcilerDown",
        "NomadReconcilerAbsent",
        "NomadReconcilerNoSuccessfulSync",
        "NomadReconcilerJobDrifted",
        "NomadReconcilerDeploymentFailed",
        "NomadReconcilerCanaryAwaitingPromotion",
        "NomadReconcilerNomadAPIErrors",
        "NomadReconcilerParseErrors",
    }


@pytest.mark.parametrize("rule", ALERTS, ids=[r["alert"] for r in ALERTS])
def test_alert_expression_uses_only_exported_series(
    rule: dict[str, Any], exposed: dict[str, set[str]]
) -> None:
    assert problems(rule["expr"], exposed) == []


@pytest.mark.parametrize("rule", ALERTS, ids=[r["alert"] for r in ALERTS])
def test_alert_has_severity_and_text(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    # per-job alerts must keep the job identity, never Prometheus' own `job` label
    if "nomad_job" in rule["annotations"]["summary"]:
        assert "nomad_namespace" in rule["annotations"]["summary"]


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in load("alerts.test.yml")["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {r["alert"] for r in ALERTS}
    assert names - fired == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown staying quiet"


def test_a_problem_is_reported_for_unknown_series_and_labels(
    exposed: dict[str, set[str]],
) -> None:
    # the checker itself must catch what it is meant to catch
    assert problems("nomad_reconciler_nope > 0", exposed) == [
        "nomad_reconciler_nope is not exported"
    ]
    assert problems('nomad_reconciler_jobs{job_name="x"}', exposed) == [
        "nomad_reconciler_jobs has no label 'job_name'"
    ]
    assert problems("sum by (reason) (nomad_reconciler_jobs)", exposed) == [
        "groups by 'reason', which no series in it has"
    ]


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60
    )


@needs_promtool
def test_promtool_check_rules() -> None:
    result = run_promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


@needs_promtool
def test_promtool_test_rules() -> None:
    result = run_promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_check_scrape_config() -> None:
    result = run_promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_scrape_config_names_the_job_the_alerts_expect() -> None:
    jobs = [c["job_name"] for c in load("prometheus.yml")["scrape_configs"]]
    assert jobs == ["nomad-reconciler"]
    assert load("prometheus.yml")["rule_files"] == ["alerts.yml"]
