"""The per-job table behind every per-job series, and the collector that renders it.

Responsibility: one record per job (sync state, held reason, error cause,
last sync, latest deployment, deployments finished), guarded by one lock, so
the per-job states and the per-state counts of one scrape always agree and
forgetting a job drops all of its series at once.  ``metrics.ReconcilerMetrics``
owns one ``JobTable`` and registers its ``PerJobCollector``; the series are
produced at scrape time, from the scraping thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from reconciler.deployment import DeploymentStatus
from reconciler.errors import ErrorCause
from reconciler.model import JobKey
from reconciler.observability.deployments import DeploymentView
from reconciler.observability.labels import (
    PER_JOB_STATES,
    TERMINAL_DEPLOYMENT_STATUSES,
    SyncState,
)

PREFIX = "nomad_reconciler_"
JOB_LABELS = ("nomad_namespace", "nomad_job")


@dataclass
class _Deployment:
    view: DeploymentView
    awaiting_since: float | None = None


@dataclass(frozen=True)
class JobStateView:
    """One job's row of the per-job state series, copied out for readers (the status page)."""

    state: str
    held_reason: str | None
    error_cause: str | None
    last_sync: float | None
    awaiting_since: float | None = None  # wall time canaries began awaiting promotion


@dataclass
class _JobRecord:
    state: SyncState | None = None
    held_reason: str | None = None
    error_cause: str | None = None  # "file" or "cluster" while the state is error
    last_sync: float | None = None
    deployment: _Deployment | None = None
    finished: dict[DeploymentStatus, int] = field(default_factory=dict)
    last_finished_id: str | None = None


def _state_view(rec: _JobRecord) -> JobStateView:
    assert rec.state is not None
    return JobStateView(
        state=rec.state.value, held_reason=rec.held_reason, error_cause=rec.error_cause,
        last_sync=rec.last_sync,
        awaiting_since=rec.deployment.awaiting_since if rec.deployment else None,
    )


class JobTable:
    """Per-job records, safe to use from any thread.  ``clock`` gives Unix time for a scrape."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[JobKey, _JobRecord] = {}

    def set_states(
        self,
        states: Mapping[JobKey, SyncState],
        *,
        held_reasons: Mapping[JobKey, str],
        error_causes: Mapping[JobKey, str],
        at: float,
        complete: bool,
    ) -> None:
        """Set the state of every job of one pass; ``complete``: drop the jobs it did not mention."""
        with self._lock:
            for key, state in states.items():
                self._set_state_locked(key, state, held_reasons.get(key), at, error_causes.get(key))
            if complete:
                for key in [k for k in self._jobs if k not in states]:
                    del self._jobs[key]

    def set_state(
        self,
        key: JobKey,
        state: SyncState,
        *,
        held_reason: str | None,
        error_cause: str | None,
        at: float,
    ) -> None:
        with self._lock:
            self._set_state_locked(key, state, held_reason, at, error_cause)

    def _set_state_locked(
        self,
        key: JobKey,
        state: SyncState,
        held_reason: str | None,
        at: float,
        error_cause: str | None = None,
    ) -> None:
        rec = self._jobs.setdefault(key, _JobRecord())
        rec.state = state
        rec.held_reason = held_reason if state is SyncState.HELD else None
        rec.error_cause = (
            ErrorCause(error_cause).value
            if (error_cause is not None and state is SyncState.ERROR)
            else None
        )
        if state is SyncState.IN_SYNC:
            rec.last_sync = at

    def forget(self, key: JobKey) -> None:
        with self._lock:
            self._jobs.pop(key, None)

    def state(self, key: JobKey) -> JobStateView | None:
        """One job's state as its series show it, or None when it has none."""
        with self._lock:
            rec = self._jobs.get(key)
            return _state_view(rec) if rec is not None and rec.state is not None else None

    def states(self) -> dict[JobKey, JobStateView]:
        with self._lock:
            return {key: _state_view(rec) for key, rec in self._jobs.items()
                    if rec.state is not None}  # fmt: skip

    def records(self) -> tuple[float, list[tuple[JobKey, _JobRecord]]]:
        """The time and a consistent copy of the per-job table, for one scrape."""
        with self._lock:
            copied = [
                (key, replace(rec, finished=dict(rec.finished))) for key, rec in self._jobs.items()
            ]
        return self._clock(), copied

    def observe_deployment(self, key: JobKey, view: DeploymentView, *, at: float) -> None:
        """Set the job's latest deployment; counts it once when it reaches a terminal status."""
        with self._lock:
            rec = self._jobs.setdefault(key, _JobRecord())
            if not rec.finished:
                # Zero series first, so increase() sees the first failure.
                rec.finished = dict.fromkeys(TERMINAL_DEPLOYMENT_STATUSES, 0)
            previous = rec.deployment
            same = previous is not None and previous.view.deployment_id == view.deployment_id
            since: float | None = None
            if view.awaiting_promotion:
                kept = previous.awaiting_since if (same and previous is not None) else None
                since = kept if kept is not None else at
            rec.deployment = _Deployment(view=view, awaiting_since=since)
            if view.status in TERMINAL_DEPLOYMENT_STATUSES:
                already = (
                    rec.last_finished_id == view.deployment_id
                    if view.deployment_id is not None
                    else same and previous is not None and previous.view.status is view.status
                )
                if not already:
                    rec.finished[view.status] += 1
                    rec.last_finished_id = view.deployment_id

    def clear_deployment(self, key: JobKey) -> None:
        with self._lock:
            rec = self._jobs.get(key)
            if rec is not None:
                rec.deployment = None


_Family = GaugeMetricFamily | CounterMetricFamily


class PerJobCollector(Collector):
    """Renders the per-job table at scrape time (and the per-state job counts)."""

    def __init__(self, table: JobTable) -> None:
        self._table = table

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        families = self._families()
        now, records = self._table.records()
        by_name = {f.name: f for f in families}
        counts = dict.fromkeys(SyncState, 0)
        for (namespace, job_id), rec in records:
            ident = [namespace, job_id]
            if rec.state is not None:
                counts[rec.state] += 1
            if rec.state is not None and rec.state is not SyncState.UNMANAGED:
                for state in PER_JOB_STATES:
                    by_name[PREFIX + "job_sync_state"].add_metric(
                        [*ident, state.value], 1.0 if state is rec.state else 0.0
                    )
                if rec.state is SyncState.HELD:
                    by_name[PREFIX + "job_held"].add_metric(
                        [*ident, rec.held_reason or "unspecified"], 1.0
                    )
                if rec.state is SyncState.ERROR and rec.error_cause is not None:
                    by_name[PREFIX + "job_error"].add_metric([*ident, rec.error_cause], 1.0)
            if rec.last_sync is not None:
                by_name[PREFIX + "job_last_sync_timestamp_seconds"].add_metric(ident, rec.last_sync)
            if rec.deployment is not None:
                self._add_deployment(by_name, ident, rec.deployment, now)
            for status, count in rec.finished.items():
                by_name[PREFIX + "deployments_finished"].add_metric(
                    [*ident, status.value], float(count)
                )
        for state, count in counts.items():
            by_name[PREFIX + "jobs"].add_metric([state.value], float(count))
        return families

    @staticmethod
    def _add_deployment(
        by_name: Mapping[str, _Family], ident: list[str], dep: _Deployment, now: float
    ) -> None:
        view = dep.view
        for status in DeploymentStatus:
            by_name[PREFIX + "job_deployment_status"].add_metric(
                [*ident, status.value], 1.0 if status is view.status else 0.0
            )
        if view.canaries_desired <= 0 and dep.awaiting_since is None:
            return  # no canaries: four zero series per job would only cost scrape time
        for name, value in (
            ("job_canaries_desired", view.canaries_desired),
            ("job_canaries_placed", view.canaries_placed),
            ("job_canaries_healthy", view.canaries_healthy),
            ("job_canaries_unhealthy", view.canaries_unhealthy),
            ("job_awaiting_promotion", 1 if dep.awaiting_since is not None else 0),
        ):
            by_name[PREFIX + name].add_metric(ident, float(value))
        if dep.awaiting_since is not None:
            by_name[PREFIX + "job_awaiting_promotion_seconds"].add_metric(
                ident, max(0.0, now - dep.awaiting_since)
            )

    @staticmethod
    def _families() -> list[_Family]:
        def gauge(name: str, doc: str, *extra: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(PREFIX + name, doc, labels=[*JOB_LABELS, *extra])

        return [
            GaugeMetricFamily(
                PREFIX + "jobs", "Jobs per sync state (unmanaged: live, not declared).",
                labels=["state"],
            ),
            gauge("job_sync_state", "Sync state of a managed job: 1 for its current state.",
                  "state"),
            gauge("job_held", "1 while a job is held on purpose, with the reason.", "reason"),
            gauge("job_error", "1 while a job is in error, with who must act: file or cluster.",
                  "cause"),
            gauge("job_last_sync_timestamp_seconds",
                  "Unix time the job was last seen in sync with its file."),
            gauge("job_deployment_status",
                  "Status of the job's latest deployment: 1 for the current status.", "status"),
            gauge("job_canaries_desired", "Canaries the latest deployment wants."),
            gauge("job_canaries_placed", "Canaries the latest deployment has placed."),
            gauge("job_canaries_healthy", "Placed canaries that are healthy."),
            gauge("job_canaries_unhealthy", "Placed canaries that are unhealthy."),
            gauge("job_awaiting_promotion",
                  "1 while the latest deployment waits for its canaries to be promoted."),
            gauge("job_awaiting_promotion_seconds",
                  "Seconds the latest deployment has been waiting for promotion."),
            CounterMetricFamily(
                PREFIX + "deployments_finished",
                "Deployments seen ending, by terminal status.",
                labels=[*JOB_LABELS, "status"],
            ),
        ]  # fmt: skip
