"""The methods that set the reconciler's Prometheus series from what the daemon and engine observe.

Responsibility: turn what the daemon and the sync engine observe into series
values.  The definitions (names, types, labels, buckets) are ``series.py``'s.
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
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, ProcessCollector

from reconciler import __version__
from reconciler.deployment import Deployment, DeploymentStatus
from reconciler.model import Diagnostic, JobKey, Severity, Snapshot
from reconciler.observability.deployments import DeploymentView, summarize_deployment
from reconciler.observability.job_series import (
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
from reconciler.observability.series import MetricSeries


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


class ReconcilerMetrics(MetricSeries):
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
        super().__init__(registry if registry is not None else CollectorRegistry(), version=version)
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs = JobTable(clock)
        self._failing_loads: frozenset[tuple[str, str]] = frozenset()
        self._revision_labels: tuple[str, str] | None = None
        self._analysis_checks: dict[JobKey, set[str]] = {}
        self.registry.register(PerJobCollector(self._jobs))
        if process_metrics:
            # process_start_time_seconds lets "no successful sync" alerts cover a
            # daemon that never completed a pass since it started.
            ProcessCollector(registry=self.registry)

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
        self, key: JobKey, deployment: Deployment, *, now: float | None = None
    ) -> None:
        """Set the job's latest deployment (as the client parsed it)."""
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
