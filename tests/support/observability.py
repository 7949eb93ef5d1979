"""Values for the metrics tests: a controllable clock, request records, a busy minute of
metrics set through the public methods only, and the reading of a /metrics text."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from reconciler.errors import NomadIndexConflictError, NomadUnavailableError
from reconciler.model import Diagnostic, Revision, Snapshot
from reconciler.nomad.objects import parse_deployment
from reconciler.observability import ObservabilityServer, ReconcilerMetrics

SUFFIXES = {"histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}


class FakeClock:
    """Unix time under the test's control."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Record:
    """Shaped like reconciler.nomad's RequestRecord (endpoint, method, status, duration_s)."""

    def __init__(self, endpoint: str, method: str, status: int | str, duration_s: float) -> None:
        self.endpoint = endpoint
        self.method = method
        self.status = status
        self.duration_s = duration_s


def populate(metrics: ReconcilerMetrics, clock: FakeClock) -> None:
    """Drive every public method once, the way the daemon would in a busy minute."""
    web, db, api, batch = ("default", "web"), ("default", "db"), ("prod", "api"), ("prod", "batch")
    metrics.observe_snapshot(
        Snapshot(
            root="/jobs",
            jobs=(),
            errors=(
                Diagnostic(path="broken.nomad", message="Unclosed configuration block", line=3),
            ),
            revision=Revision(commit="0123456789abcdef0123456789abcdef01234567", dirty=False),
        )
    )
    metrics.observe_pass(
        0.42,
        {
            web: "in_sync",
            db: "held",
            api: "modified",
            batch: "missing",
            ("default", "legacy"): "unmanaged",
            ("prod", "old"): "orphaned",
            ("default", "broken"): "error",
            ("default", "churn"): "held",
        },
        held_reasons={db: "failed_rollout", ("default", "churn"): "not_converging"},
        succeeded=False,
    )
    metrics.observe_pass(0.05, {web: "in_sync"}, complete=False)
    metrics.observe_canonical_mismatch(["NodePool", "TaskGroups.Tasks.Identity"])
    metrics.set_deployment(web, "successful", deployment_id="d-web-1")
    metrics.set_deployment(db, "failed", deployment_id="d-db-1")
    metrics.observe_deployment(
        api,
        parse_deployment({
            "ID": "d-api-2",
            "Status": "running",
            "TaskGroups": {
                "app": {"DesiredCanaries": 2, "PlacedCanaries": ["a1", "a2"], "HealthyAllocs": 1,
                        "UnhealthyAllocs": 1, "Promoted": False},
            },
        }),
    )  # fmt: skip
    clock.now += 90
    metrics.set_deployment(
        api, "running", deployment_id="d-api-2", canaries_desired=2, canaries_placed=2,
        canaries_healthy=1, canaries_unhealthy=1, awaiting_promotion=True,
    )  # fmt: skip
    metrics.observe_sync_operation("create")
    metrics.observe_sync_operation("update")
    metrics.observe_sync_operation("update", "conflict")
    metrics.observe_sync_operation("promote")
    metrics.observe_reconcile_error(NomadUnavailableError("connection refused"))
    metrics.observe_reconcile_error(NomadIndexConflictError("changed", status=500))
    metrics.observe_change_registered(0.21)
    metrics.observe_drift_detected(0.4)
    metrics.observe_commit_to_healthy(75.0)
    for status in (200, 200, 500, "error"):
        metrics.observe_nomad_request(Record("/v1/job/:id", "GET", status, 0.012))
    metrics.observe_nomad_request(Record("/v1/jobs", "put", 200, 0.03))
    metrics.observe_analysis_measurement(api, "http/error-rate", "pass", 0.002)
    metrics.observe_analysis_measurement(api, "http/error-rate", "inconclusive")
    metrics.set_event_stream_connected(True)
    metrics.mark_sync_succeeded()


def serve(metrics: ReconcilerMetrics) -> ObservabilityServer:
    """An ObservabilityServer for ``metrics`` on a free loopback port, alive and ready (not started)."""
    return ObservabilityServer(
        metrics, host="127.0.0.1", port=0,
        liveness=lambda: (True, "alive"), readiness=lambda: (True, "ready"),
    )  # fmt: skip


def exposed_series(text: str) -> dict[str, set[str]]:
    """Every sample name in a /metrics text → the label names seen on it."""
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def exported_names(text: str) -> set[str]:
    """Sample names the exposition declares, from its ``# TYPE`` lines."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            names.update(family + s for s in SUFFIXES.get(kind, ("",)))
    return names
