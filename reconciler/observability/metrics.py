"""Every Prometheus series the reconciler exports, and the methods that set them.

Responsibility: own the metric definitions (names, types, labels, buckets)
and turn what the daemon and the sync engine observe into series values.
It never serves HTTP (``server.py`` does), reads no environment and never
touches prometheus_client's global default registry: each instance owns its
``CollectorRegistry``, so every test builds a fresh one.

Per-job series carry ``nomad_namespace`` and ``nomad_job``, never ``job``,
which Prometheus attaches to every scraped series itself.  Per-job series
are produced at scrape time from one table guarded by a lock
(``job_series.JobTable``), so the per-job states and the per-state counts
always agree, and ``forget_job`` makes all of a job's series disappear at once.  Methods are safe to call from any thread
(the HTTP server scrapes from its own thread).

``docs/metrics.md`` documents every series; keep the two in step.
"""

from __future__ import annotations

import contextlib
import platform
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from reconciler import __version__
from reconciler.deployment import Deployment, DeploymentStatus
from reconciler.model import Diagnostic, JobKey, Severity, Snapshot
from reconciler.nomad.objects import parse_deployment
from reconciler.observability.deployments import DeploymentView, summarize_deployment
from reconciler.observability.job_series import (
    JOB_LABELS,
    PREFIX,
    JobStateView,
    JobTable,
    PerJobCollector,
)
from reconciler.observability.labels import (
    ErrorKind,
    OperationResult,
    SyncOperation,
    SyncState,
)

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


class RequestRecord(Protocol):
    """What the Nomad client's ``on_request`` hook reports (reconciler.nomad)."""

    @property
    def endpoint(self) -> str: ...  # a template such as "/v1/job/:id", never a raw path

    @property
    def method(self) -> str: ...

    @property
    def status(self) -> int | str: ...  # HTTP status, or "error" when no response came

    @property
    def duration_s(self) -> float: ...


class ReconcilerMetrics:
    """The reconciler's metrics, registered on ``registry`` (a new one when omitted).

    ``clock`` gives Unix time for timestamps and the promotion wait; every
    method taking ``now`` uses it when ``now`` is omitted.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        version: str = __version__,
        clock: Callable[[], float] = time.time,
        process_metrics: bool = True,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs = JobTable(clock)
        self._failing_loads: frozenset[tuple[str, str]] = frozenset()
        self._revision_labels: tuple[str, str] | None = None
        r = self.registry

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
        self._analysis_checks: dict[JobKey, set[str]] = {}
        # Series that exist from the start, so rate() and alerts see zeroes, not gaps.
        for op in SyncOperation:
            for result in OperationResult:
                self.sync_operations.labels(op.value, result.value)
        for kind in ErrorKind:
            self.reconcile_errors.labels(kind.value)
        self.event_stream_connected.set(0)
        self.registry.register(PerJobCollector(self._jobs))
        if process_metrics:
            # process_start_time_seconds lets "no successful sync" alerts cover a
            # daemon that never completed a pass since it started.
            ProcessCollector(registry=r)

    # -- passes and job states -------------------------------------------------

    def observe_pass(
        self,
        duration_s: float,
        states: Mapping[JobKey, str],
        *,
        held_reasons: Mapping[JobKey, str] | None = None,
        error_causes: Mapping[JobKey, str] | None = None,
        succeeded: bool = True,
        complete: bool = True,
        now: float | None = None,
    ) -> None:
        """Record one reconcile pass and the state it left each job in.

        ``states`` maps every job the pass looked at to a ``SyncState`` value.
        ``complete`` means the pass covered every declared and live job, so a
        job it did not mention no longer exists: its series are dropped.
        ``succeeded`` (no job failed) moves the last-successful-sync time.
        Raises ``ValueError`` on a state outside ``SyncState``.
        """
        at = self._clock() if now is None else now
        parsed = {key: SyncState(value) for key, value in states.items()}
        reasons = held_reasons or {}
        causes = error_causes or {}
        self.reconcile_pass_duration.observe(duration_s)
        self._jobs.set_states(
            parsed, held_reasons=reasons, error_causes=causes, at=at, complete=complete
        )
        if succeeded:
            self.last_successful_sync.set(at)

    def set_job_state(
        self,
        key: JobKey,
        state: str,
        *,
        held_reason: str | None = None,
        error_cause: str | None = None,
        now: float | None = None,
    ) -> None:
        """Set one job's sync state (for work done one job at a time).

        ``held_reason`` is shown while the state is ``held`` (e.g.
        ``failed_rollout``, ``active_deployment``, ``deployment_cap``,
        ``wave``, ``guard``); it must come from a small fixed set.
        ``error_cause`` (``file`` or ``cluster``, ``ErrorCause``) is shown while
        the state is ``error``: fix the file, or wait for the cluster.
        """
        parsed = SyncState(state)
        at = self._clock() if now is None else now
        self._jobs.set_state(key, parsed, held_reason=held_reason, error_cause=error_cause, at=at)

    def mark_sync_succeeded(self, *, now: float | None = None) -> None:
        """Move the last-successful-sync time without a pass (e.g. per-job workers all idle)."""
        self.last_successful_sync.set(self._clock() if now is None else now)

    def job_state(self, key: JobKey) -> JobStateView | None:
        """One job's sync state as ``/metrics`` shows it, or None when it has none."""
        return self._jobs.state(key)

    def job_states(self) -> dict[JobKey, JobStateView]:
        """Each job's sync state as ``/metrics`` shows it (the status page reads it)."""
        return self._jobs.states()

    def forget_job(self, key: JobKey) -> None:
        """Drop every per-job series of ``key`` (the job was removed everywhere)."""
        self.clear_analysis(key)
        self._jobs.forget(key)
        with self._lock:
            checks = self._analysis_checks.pop(key, set())
        for check in checks:
            for result in ("pass", "fail", "inconclusive"):
                with contextlib.suppress(KeyError):
                    self.analysis_runs.remove(*key, check, result)

    # -- deployments -----------------------------------------------------------

    def set_deployment(
        self,
        key: JobKey,
        status: str,
        *,
        deployment_id: str | None = None,
        canaries_desired: int = 0,
        canaries_placed: int = 0,
        canaries_healthy: int = 0,
        canaries_unhealthy: int = 0,
        awaiting_promotion: bool = False,
        now: float | None = None,
    ) -> None:
        """Set the job's latest deployment.  ``status`` is Nomad's ``Deployment.Status``."""
        self.observe_deployment_view(
            key,
            DeploymentView(
                deployment_id=deployment_id,
                status=DeploymentStatus.parse(status),
                canaries_desired=canaries_desired,
                canaries_placed=canaries_placed,
                canaries_healthy=canaries_healthy,
                canaries_unhealthy=canaries_unhealthy,
                awaiting_promotion=awaiting_promotion,
            ),
            now=now,
        )

    def observe_deployment(
        self, key: JobKey, deployment: Deployment | Mapping[str, Any], *, now: float | None = None
    ) -> None:
        """Set the job's latest deployment.

        A mapping is Nomad's raw JSON, still accepted from the daemon until it
        passes ``Deployment`` values; it is parsed with the client's parser.
        """
        if not isinstance(deployment, Deployment):
            deployment = parse_deployment(deployment)
        self.observe_deployment_view(key, summarize_deployment(deployment), now=now)

    def observe_deployment_view(
        self, key: JobKey, view: DeploymentView, *, now: float | None = None
    ) -> None:
        """Set the job's latest deployment; counts it once when it reaches a terminal status."""
        self._jobs.observe_deployment(key, view, at=self._clock() if now is None else now)

    def clear_deployment(self, key: JobKey) -> None:
        """The job has no deployment to show (e.g. a batch job, or the job was stopped)."""
        self._jobs.clear_deployment(key)

    def observe_commit_to_healthy(self, latency_s: float) -> None:
        """A revision first seen ``latency_s`` ago has had its deployment succeed."""
        self.commit_to_healthy.observe(latency_s)

    # -- writes, errors, latencies ---------------------------------------------

    def observe_sync_operation(self, operation: str, result: str = OperationResult.SUCCESS) -> None:
        """Count one write.  Use ``OperationResult.from_error(exc)`` for a failed one."""
        self.sync_operations.labels(
            SyncOperation(operation).value, OperationResult(result).value
        ).inc()

    def observe_reconcile_error(self, exc: BaseException) -> None:
        """Count a failure reconciling one job, classified by the error tree."""
        self.reconcile_errors.labels(ErrorKind.from_error(exc).value).inc()

    def observe_change_registered(self, latency_s: float) -> None:
        """A file change took ``latency_s`` to be accepted by Nomad."""
        self.change_to_registered.observe(latency_s)

    def observe_drift_detected(self, latency_s: float) -> None:
        """An out-of-band change in Nomad was detected ``latency_s`` after it happened."""
        self.drift_detection.observe(latency_s)

    def observe_canonical_mismatch(self, fields: Iterable[str]) -> None:
        """Nomad overruled the local diff of one job: count each field it flagged."""
        for name in fields:
            self.canonical_mismatch.labels(name).inc()

    def observe_nomad_request(self, record: RequestRecord) -> None:
        """The Nomad client's ``on_request`` hook: count and time one HTTP request."""
        method = record.method.upper()
        self.nomad_requests.labels(record.endpoint, method, str(record.status)).inc()
        self.nomad_request_duration.labels(record.endpoint, method).observe(record.duration_s)

    def set_event_stream_connected(self, connected: bool) -> None:
        self.event_stream_connected.set(1 if connected else 0)

    # -- canary analysis -------------------------------------------------------

    def observe_analysis_measurement(
        self, key: JobKey, check: str, result: str, value: float | None = None
    ) -> None:
        """Count one measurement of ``check`` (``template/check``) for the job's canaries.

        ``result`` is ``pass``, ``fail`` or ``inconclusive``; ``value`` (when
        the query returned one) becomes ``analysis_value``.  The first
        measurement of a check creates its three result series at zero, so
        ``increase()`` sees the first inconclusive one.
        """
        results = ("pass", "fail", "inconclusive")
        if result not in results:
            raise ValueError(f"analysis result must be one of {results}, got {result!r}")
        namespace, job_id = key
        with self._lock:
            known = self._analysis_checks.setdefault(key, set())
            fresh = check not in known
            known.add(check)
        if fresh:
            for each in results:
                self.analysis_runs.labels(namespace, job_id, check, each)
        self.analysis_runs.labels(namespace, job_id, check, result).inc()
        if value is not None:
            self.analysis_value.labels(namespace, job_id, check).set(value)

    def clear_analysis(self, key: JobKey) -> None:
        """The job's analysis is over (promoted, failed, superseded): drop its values.

        The run counters stay, so alerts over ``increase()`` keep their history.
        """
        with self._lock:
            checks = self._analysis_checks.get(key, set())
        for check in checks:
            with contextlib.suppress(KeyError):
                self.analysis_value.remove(*key, check)

    # -- the checkout ----------------------------------------------------------

    def set_revision(self, commit: str | None, dirty: bool = False) -> None:
        """Report the checkout's revision (``commit`` None: not a git checkout)."""
        labels = (commit or "none", "true" if dirty else "false")
        with self._lock:
            if labels == self._revision_labels:
                return
            if self._revision_labels is not None:
                self.source_revision_info.remove(*self._revision_labels)
            self.source_revision_info.labels(*labels).set(1)
            self._revision_labels = labels

    def observe_load_errors(self, diagnostics: Iterable[Diagnostic]) -> None:
        """Report the load errors of the latest scan of the jobs directory.

        The gauge is the number of files failing now; the counter grows once
        per distinct (file, message) that starts failing, so rescanning an
        unchanged broken file does not inflate it.
        """
        failing = frozenset(
            (d.path, d.message) for d in diagnostics if d.severity is Severity.ERROR
        )
        with self._lock:
            new = len(failing - self._failing_loads)
            self._failing_loads = failing
        self.parse_error_files.set(len({path for path, _ in failing}))
        if new:
            self.parse_errors.inc(new)

    def observe_snapshot(self, snapshot: Snapshot) -> None:
        """Report a loaded jobs directory: its load errors and its revision."""
        self.observe_load_errors(snapshot.errors)
        if snapshot.revision is not None:
            self.set_revision(snapshot.revision.commit, snapshot.revision.dirty)
