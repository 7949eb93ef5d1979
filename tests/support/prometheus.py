"""A real Prometheus on loopback, for end-to-end tests of what we export.

``running_prometheus(target, workdir)`` starts the ``prometheus`` binary
(Debian package ``prometheus``) scraping ``target`` ("host:port") every
second with the project's alert rules loaded (or ``immediate_alerts``: the same
rules without their ``for`` durations), waits (bounded) until it has
scraped a few times, and stops it afterwards.  The observability tests point
it at an ObservabilityServer; the daemon's tests can point it at a running
daemon's ``--listen`` address.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.network import free_port
from tests.support.waiting import stop_process, wait_for

PROMETHEUS = shutil.which("prometheus")
ALERTS_FILE = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
JOB_NAME = "nomad-reconciler"  # the name alerts.yml expects
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus not on PATH (Debian package 'prometheus'; .ci/run installs it)",
)


class Prometheus:
    """Prometheus' HTTP API, just what the tests need."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(self.url + path + query, timeout=10) as response:
            return json.loads(response.read())

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; fails the test when Prometheus rejects the expression."""
        answer = self.get("/api/v1/query", query=expr)
        assert answer["status"] == "success", (expr, answer)
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def answered(self, handler: str) -> float:
        """Requests this Prometheus has answered on ``handler`` (its own ``/metrics``)."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as response:
            text = response.read().decode()
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "prometheus_http_requests_total" and sample.labels.get("handler") == handler
        )

    def firing(self, alert: str, **labels: str) -> list[dict[str, Any]]:
        """The alert's firing instances (Prometheus' ``ALERTS`` series) with these labels."""
        matchers = "".join(f', {k}="{v}"' for k, v in labels.items())
        return self.query(f'ALERTS{{alertname="{alert}", alertstate="firing"{matchers}}}')


class RunningPrometheus(Prometheus):
    """A Prometheus process this test started: ``stop()`` takes it down (an outage),
    ``restart()`` brings it back on the same address with the same data."""

    def __init__(self, target: str, workdir: Path, *, port: int, min_scrapes: int) -> None:
        super().__init__(f"http://127.0.0.1:{port}")
        self.target, self.workdir, self.port, self.min_scrapes = target, workdir, port, min_scrapes
        self.log_path = workdir / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None

    def restart(self) -> None:
        assert self.process is None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(PROMETHEUS),
                    f"--config.file={self.workdir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = self.process

        def scraped_enough() -> bool | None:
            if process.poll() is not None:
                raise AssertionError(f"prometheus exited: {self.log_path.read_text()}")
            # rate() needs at least two samples inside its window
            got = self.query(f'count_over_time(up{{job="{JOB_NAME}"}}[5m])')
            return True if got and float(got[0]["value"][1]) >= self.min_scrapes else None

        try:
            wait_for(f"{self.min_scrapes} scrapes of {self.target}", scraped_enough)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=30)
            self.process = None


def immediate_alerts(workdir: Path) -> Path:
    """``alerts.yml`` with every rule's ``for`` set to ``0s`` (written under ``workdir``): an
    alert fires at the first evaluation its expression holds, the expressions unchanged."""
    rules = yaml.safe_load(ALERTS_FILE.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "0s"
    path = workdir / "alerts-immediate.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


@contextmanager
def running_prometheus(
    target: str, workdir: Path, *, min_scrapes: int = 3, rule_files: Sequence[Path] = (ALERTS_FILE,)
) -> Iterator[RunningPrometheus]:
    """Run Prometheus scraping ``target`` until the block ends; needs the binary on PATH."""
    if PROMETHEUS is None:
        raise RuntimeError("prometheus is not on PATH")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [{"job_name": JOB_NAME, "static_configs": [{"targets": [target]}]}],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    prom = RunningPrometheus(target, workdir, port=free_port(), min_scrapes=min_scrapes)
    prom.restart()
    try:
        yield prom
    finally:
        prom.stop()
