"""The definitions of the reconciler's Prometheus series: names, types, labels, buckets.

``MetricSeries`` creates them on a ``CollectorRegistry`` (each instance its
own, never prometheus_client's global default); ``ReconcilerMetrics``
(``metrics.py``) turns what the daemon and the engine observe into their
values.  Per-job series are produced at scrape time (``job_series.py``).
``docs/metrics.md`` documents every series; keep the two in step.
"""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from reconciler.observability.job_series import JOB_LABELS, PREFIX
from reconciler.observability.labels import ErrorKind, OperationResult, SyncOperation

# Buckets in seconds, chosen around each latency's target or typical range.
PASS_DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# Fine around the file-save → registered targets (p50 ≤ 250 ms, p95 ≤ 500 ms).
CHANGE_TO_REGISTERED_BUCKETS = (
    0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2, 5, 10, 30, 60,
)  # fmt: skip
DRIFT_DETECTION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
# Blocking queries and the event stream legitimately take minutes.
NOMAD_REQUEST_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
)  # fmt: skip
COMMIT_TO_HEALTHY_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)


class MetricSeries:
    """Every series but the per-job ones, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry, *, version: str) -> None:
        self.registry = registry
        r = registry

        self.build_info = Gauge(
            PREFIX + "build_info",
            "Always 1; the reconciler's version and Python version.",
            ["version", "python_version"],
            registry=r,
        )
        self.build_info.labels(version, platform.python_version()).set(1)
        self.source_revision_info = Gauge(
            PREFIX + "source_revision_info",
            "Always 1; the git commit of the jobs checkout and whether it has local changes.",
            ["revision", "dirty"],
            registry=r,
        )
        self.reconcile_pass_duration = Histogram(
            PREFIX + "reconcile_pass_duration_seconds",
            "Wall time of one reconcile pass (all jobs or the jobs an event woke).",
            registry=r,
            buckets=PASS_DURATION_BUCKETS,
        )
        self.last_successful_sync = Gauge(
            PREFIX + "last_successful_sync_timestamp_seconds",
            "Unix time the last reconcile pass ended without error.",
            registry=r,
        )
        self.sync_operations = Counter(
            PREFIX + "sync_operations",
            "Writes made to Nomad, by operation and result.",
            ["operation", "result"],
            registry=r,
        )
        self.reconcile_errors = Counter(
            PREFIX + "reconcile_errors",
            "Failures reconciling a job, by kind.",
            ["kind"],
            registry=r,
        )
        self.change_to_registered = Histogram(
            PREFIX + "change_to_registered_seconds",
            "From a job file changing on disk to Nomad accepting the registration.",
            registry=r,
            buckets=CHANGE_TO_REGISTERED_BUCKETS,
        )
        self.drift_detection = Histogram(
            PREFIX + "drift_detection_seconds",
            "From an out-of-band change in Nomad to the reconciler detecting the drift.",
            registry=r,
            buckets=DRIFT_DETECTION_BUCKETS,
        )
        self.commit_to_healthy = Histogram(
            PREFIX + "commit_to_healthy_seconds",
            "From a revision first seen in the checkout to its deployment succeeding.",
            registry=r,
            buckets=COMMIT_TO_HEALTHY_BUCKETS,
        )
        self.parse_error_files = Gauge(
            PREFIX + "parse_error_files",
            "Job files that currently fail to load (syntax, evaluation or validation).",
            registry=r,
        )
        self.parse_errors = Counter(
            PREFIX + "parse_errors",
            "Load failures seen, each distinct failure counted once.",
            registry=r,
        )
        self.nomad_requests = Counter(
            PREFIX + "nomad_requests",
            "HTTP requests to Nomad by endpoint template, method and status ('error': no response).",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.nomad_request_duration = Histogram(
            PREFIX + "nomad_request_duration_seconds",
            "Latency of HTTP requests to Nomad (blocking queries included).",
            ["endpoint", "method"],
            registry=r,
            buckets=NOMAD_REQUEST_BUCKETS,
        )
        self.canonical_mismatch = Counter(
            PREFIX + "canonical_mismatch",
            "Fields the local diff flagged in jobs Nomad's own plan found unchanged "
            "(gaps in the local model of Nomad's defaults; never written).",
            ["field"],
            registry=r,
        )
        self.event_stream_connected = Gauge(
            PREFIX + "event_stream_connected",
            "1 while the Nomad event stream is connected.",
            registry=r,
        )
        self.analysis_runs = Counter(
            PREFIX + "analysis_runs",
            "Canary analysis measurements (one Prometheus query of one check), by result: "
            "pass, fail or inconclusive (no data, Prometheus unreachable).",
            [*JOB_LABELS, "check", "result"],
            registry=r,
        )
        self.analysis_value = Gauge(
            PREFIX + "analysis_value",
            "The value a canary analysis check last measured (while its deployment runs).",
            [*JOB_LABELS, "check"],
            registry=r,
        )
        # Series that exist from the start, so rate() and alerts see zeroes, not gaps.
        for op in SyncOperation:
            for result in OperationResult:
                self.sync_operations.labels(op.value, result.value)
        for kind in ErrorKind:
            self.reconcile_errors.labels(kind.value)
        self.event_stream_connected.set(0)
