"""ReconcilerMetrics: every public method moves the series it names, read back
with ``registry.get_sample_value`` on a fresh registry per test."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from reconciler.errors import (
    JobSyntaxError,
    NomadBadRequestError,
    NomadIndexConflictError,
    NomadPermissionDeniedError,
    NomadUnavailableError,
)
from reconciler.model import Diagnostic, Revision, Severity, Snapshot
from reconciler.nomad.objects import parse_deployment
from reconciler.observability import (
    DeploymentStatus,
    ErrorKind,
    OperationResult,
    ReconcilerMetrics,
    SyncState,
)
from tests.support.observability import FakeClock, Record

P = "nomad_reconciler_"
WEB = ("default", "web")
DB = ("prod", "db")


def job(key: tuple[str, str], **extra: str) -> dict[str, str]:
    return {"nomad_namespace": key[0], "nomad_job": key[1], **extra}


def value(m: ReconcilerMetrics, name: str, labels: dict[str, str] | None = None) -> float | None:
    return m.registry.get_sample_value(name, labels or {})


def test_two_instances_do_not_share_series() -> None:
    a, b = ReconcilerMetrics(), ReconcilerMetrics()
    a.observe_change_registered(0.1)
    assert value(a, P + "change_to_registered_seconds_count") == 1
    assert value(b, P + "change_to_registered_seconds_count") == 0


def test_build_info_carries_version_and_python() -> None:
    m = ReconcilerMetrics(CollectorRegistry(), version="9.9.9")
    text = generate_latest(m.registry).decode()
    line = next(x for x in text.splitlines() if x.startswith(P + "build_info{"))
    assert 'version="9.9.9"' in line and "python_version=" in line and line.endswith(" 1.0")


def test_observe_pass_sets_per_job_enum_and_counts(metrics: ReconcilerMetrics) -> None:
    metrics.observe_pass(
        1.5, {WEB: "in_sync", DB: "modified", ("default", "x"): "unmanaged"}, now=100.0
    )
    assert value(metrics, P + "job_sync_state", job(WEB, state="in_sync")) == 1
    for state in ("missing", "modified", "orphaned", "error", "held"):
        assert value(metrics, P + "job_sync_state", job(WEB, state=state)) == 0
    assert value(metrics, P + "job_sync_state", job(DB, state="modified")) == 1
    assert value(metrics, P + "jobs", {"state": "in_sync"}) == 1
    assert value(metrics, P + "jobs", {"state": "modified"}) == 1
    assert value(metrics, P + "jobs", {"state": "unmanaged"}) == 1
    assert value(metrics, P + "jobs", {"state": "error"}) == 0
    assert value(metrics, P + "reconcile_pass_duration_seconds_sum") == 1.5
    assert value(metrics, P + "last_successful_sync_timestamp_seconds") == 100.0
    assert value(metrics, P + "job_last_sync_timestamp_seconds", job(WEB)) == 100.0
    assert value(metrics, P + "job_last_sync_timestamp_seconds", job(DB)) is None


def test_unmanaged_jobs_get_no_per_job_series(metrics: ReconcilerMetrics) -> None:
    metrics.observe_pass(0.1, {("default", "x"): "unmanaged"})
    assert "nomad_job=" not in generate_latest(metrics.registry).decode()


def test_failed_pass_does_not_move_last_success(metrics: ReconcilerMetrics) -> None:
    metrics.observe_pass(0.1, {WEB: "in_sync"}, now=50.0)
    metrics.observe_pass(0.1, {WEB: "error"}, succeeded=False, now=60.0)
    assert value(metrics, P + "last_successful_sync_timestamp_seconds") == 50.0
    # last in-sync time of the job stays at when it was last in sync
    assert value(metrics, P + "job_last_sync_timestamp_seconds", job(WEB)) == 50.0


def test_complete_pass_drops_jobs_it_no_longer_sees(metrics: ReconcilerMetrics) -> None:
    metrics.observe_pass(0.1, {WEB: "in_sync", DB: "in_sync"})
    metrics.set_deployment(DB, "running")
    metrics.observe_pass(0.1, {WEB: "in_sync"}, complete=False)
    assert value(metrics, P + "job_sync_state", job(DB, state="in_sync")) == 1
    metrics.observe_pass(0.1, {WEB: "in_sync"})
    assert value(metrics, P + "job_sync_state", job(DB, state="in_sync")) is None
    assert value(metrics, P + "job_deployment_status", job(DB, status="running")) is None
    assert value(metrics, P + "jobs", {"state": "in_sync"}) == 1


def test_forget_job_removes_every_series_of_the_job(metrics: ReconcilerMetrics) -> None:
    metrics.set_job_state(WEB, "held", held_reason="failed_rollout")
    metrics.set_deployment(WEB, "failed", deployment_id="d1", canaries_desired=1)
    metrics.set_job_state(DB, "in_sync")
    metrics.forget_job(WEB)
    text = generate_latest(metrics.registry).decode()
    assert 'nomad_job="web"' not in text
    assert 'nomad_job="db"' in text
    assert value(metrics, P + "jobs", {"state": "held"}) == 0


def test_held_reason_only_while_held(metrics: ReconcilerMetrics) -> None:
    metrics.set_job_state(WEB, "held", held_reason="failed_rollout")
    assert value(metrics, P + "job_held", job(WEB, reason="failed_rollout")) == 1
    metrics.set_job_state(WEB, "in_sync", held_reason="failed_rollout")
    assert value(metrics, P + "job_held", job(WEB, reason="failed_rollout")) is None
    metrics.observe_pass(0.1, {WEB: "held"})
    assert value(metrics, P + "job_held", job(WEB, reason="unspecified")) == 1


def test_error_cause_only_while_in_error(metrics: ReconcilerMetrics) -> None:
    metrics.set_job_state(WEB, "error", error_cause="cluster")
    assert value(metrics, P + "job_error", job(WEB, cause="cluster")) == 1
    metrics.observe_pass(0.1, {WEB: "error", DB: "error"}, error_causes={WEB: "file"})
    assert value(metrics, P + "job_error", job(WEB, cause="file")) == 1
    assert value(metrics, P + "job_error", job(WEB, cause="cluster")) is None
    assert value(metrics, P + "job_error", job(DB, cause="file")) is None  # cause unknown
    metrics.set_job_state(WEB, "in_sync", error_cause="file")
    assert value(metrics, P + "job_error", job(WEB, cause="file")) is None
    with pytest.raises(ValueError):
        metrics.set_job_state(WEB, "error", error_cause="weather")


def test_unknown_state_is_a_programming_error(metrics: ReconcilerMetrics) -> None:
    with pytest.raises(ValueError):
        metrics.set_job_state(WEB, "drifting")
    with pytest.raises(ValueError):
        metrics.observe_pass(0.1, {WEB: "bogus"})


def test_state_enum_values_are_the_design_vocabulary() -> None:
    assert {s.value for s in SyncState} == {
        "in_sync", "missing", "modified", "orphaned", "error", "held", "unmanaged",
    }  # fmt: skip


def test_deployment_status_enum_and_canaries(metrics: ReconcilerMetrics) -> None:
    metrics.set_deployment(
        WEB, "running", deployment_id="d1", canaries_desired=2, canaries_placed=2,
        canaries_healthy=1, canaries_unhealthy=1,
    )  # fmt: skip
    assert value(metrics, P + "job_deployment_status", job(WEB, status="running")) == 1
    assert value(metrics, P + "job_deployment_status", job(WEB, status="failed")) == 0
    assert value(metrics, P + "job_canaries_desired", job(WEB)) == 2
    assert value(metrics, P + "job_canaries_placed", job(WEB)) == 2
    assert value(metrics, P + "job_canaries_healthy", job(WEB)) == 1
    assert value(metrics, P + "job_canaries_unhealthy", job(WEB)) == 1
    assert value(metrics, P + "job_awaiting_promotion", job(WEB)) == 0
    assert value(metrics, P + "job_awaiting_promotion_seconds", job(WEB)) is None


def test_deployment_without_canaries_has_no_canary_series(metrics: ReconcilerMetrics) -> None:
    metrics.set_deployment(WEB, "running", deployment_id="d1")
    assert value(metrics, P + "job_deployment_status", job(WEB, status="running")) == 1
    for name in ("desired", "placed", "healthy", "unhealthy"):
        assert value(metrics, P + f"job_canaries_{name}", job(WEB)) is None
    assert value(metrics, P + "job_awaiting_promotion", job(WEB)) is None


def test_a_status_newer_nomad_invents_is_unknown(metrics: ReconcilerMetrics) -> None:
    metrics.set_deployment(WEB, "rebalancing")
    assert value(metrics, P + "job_deployment_status", job(WEB, status="unknown")) == 1
    assert DeploymentStatus.parse("rebalancing") is DeploymentStatus.UNKNOWN


def test_promotion_wait_counts_from_first_seen_waiting(
    metrics: ReconcilerMetrics, clock: FakeClock
) -> None:
    metrics.set_deployment(
        WEB, "running", deployment_id="d1", canaries_desired=1, awaiting_promotion=True
    )
    clock.now += 30
    metrics.set_deployment(
        WEB, "running", deployment_id="d1", canaries_desired=1, awaiting_promotion=True
    )
    clock.now += 15
    assert value(metrics, P + "job_awaiting_promotion", job(WEB)) == 1
    assert value(metrics, P + "job_awaiting_promotion_seconds", job(WEB)) == 45
    # a new deployment restarts the wait
    metrics.set_deployment(
        WEB, "running", deployment_id="d2", canaries_desired=1, awaiting_promotion=True
    )
    clock.now += 5
    assert value(metrics, P + "job_awaiting_promotion_seconds", job(WEB)) == 5
    metrics.set_deployment(
        WEB, "running", deployment_id="d2", canaries_desired=1, awaiting_promotion=False
    )
    assert value(metrics, P + "job_awaiting_promotion", job(WEB)) == 0
    assert value(metrics, P + "job_awaiting_promotion_seconds", job(WEB)) is None


def test_terminal_deployment_counted_once_per_deployment(metrics: ReconcilerMetrics) -> None:
    failed = job(WEB, status="failed")
    metrics.set_deployment(WEB, "running", deployment_id="d1")
    assert value(metrics, P + "deployments_finished_total", failed) == 0
    metrics.set_deployment(WEB, "failed", deployment_id="d1")
    metrics.set_deployment(WEB, "failed", deployment_id="d1")  # seen again on the next poll
    assert value(metrics, P + "deployments_finished_total", failed) == 1
    metrics.set_deployment(WEB, "successful", deployment_id="d2")
    assert value(metrics, P + "deployments_finished_total", job(WEB, status="successful")) == 1
    metrics.set_deployment(WEB, "failed", deployment_id="d3")
    assert value(metrics, P + "deployments_finished_total", failed) == 2


def test_terminal_deployment_without_id_counted_on_transition(metrics: ReconcilerMetrics) -> None:
    metrics.set_deployment(WEB, "running")
    metrics.set_deployment(WEB, "failed")
    metrics.set_deployment(WEB, "failed")
    assert value(metrics, P + "deployments_finished_total", job(WEB, status="failed")) == 1


def test_clear_deployment_keeps_the_job(metrics: ReconcilerMetrics) -> None:
    metrics.set_job_state(WEB, "in_sync")
    metrics.set_deployment(WEB, "running")
    metrics.clear_deployment(WEB)
    assert value(metrics, P + "job_deployment_status", job(WEB, status="running")) is None
    assert value(metrics, P + "job_sync_state", job(WEB, state="in_sync")) == 1


def test_observe_deployment_of_nomad_json_as_the_client_parsed_it(metrics: ReconcilerMetrics) -> None:
    metrics.observe_deployment(
        WEB,
        parse_deployment({
            "ID": "d1",
            "Status": "running",
            "StatusDescription": "Deployment is running but requires manual promotion",
            "TaskGroups": {"app": {"DesiredCanaries": 1, "PlacedCanaries": ["a"],
                                   "HealthyAllocs": 1, "UnhealthyAllocs": 0, "Promoted": False}},
        }),
    )  # fmt: skip
    assert value(metrics, P + "job_awaiting_promotion", job(WEB)) == 1
    assert value(metrics, P + "job_canaries_healthy", job(WEB)) == 1


def test_sync_operations_exist_at_zero_and_count(metrics: ReconcilerMetrics) -> None:
    labels = {"operation": "update", "result": "conflict"}
    assert value(metrics, P + "sync_operations_total", labels) == 0
    metrics.observe_sync_operation("update", OperationResult.from_error(
        NomadIndexConflictError("changed", status=500)))  # fmt: skip
    metrics.observe_sync_operation("create")
    assert value(metrics, P + "sync_operations_total", labels) == 1
    assert (
        value(metrics, P + "sync_operations_total", {"operation": "create", "result": "success"})
        == 1
    )
    with pytest.raises(ValueError):
        metrics.observe_sync_operation("delete-everything")


@pytest.mark.parametrize(
    ("exc", "result"),
    [
        (NomadIndexConflictError("x", status=500), OperationResult.CONFLICT),
        (NomadBadRequestError("x", status=400), OperationResult.REJECTED),
        (NomadPermissionDeniedError("x", status=403), OperationResult.REJECTED),
        (NomadUnavailableError("x"), OperationResult.UNAVAILABLE),
        (RuntimeError("x"), OperationResult.ERROR),
    ],
)
def test_operation_result_from_error(exc: BaseException, result: OperationResult) -> None:
    assert OperationResult.from_error(exc) is result


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (JobSyntaxError("bad", path="a.nomad", line=1), ErrorKind.JOB_SPEC),
        (NomadUnavailableError("x"), ErrorKind.NOMAD_UNAVAILABLE),
        (NomadPermissionDeniedError("x", status=403), ErrorKind.PERMISSION_DENIED),
        (NomadIndexConflictError("x", status=500), ErrorKind.INDEX_CONFLICT),
        (NomadBadRequestError("x", status=400), ErrorKind.NOMAD_REJECTED),
        (KeyError("x"), ErrorKind.INTERNAL),
    ],
)
def test_reconcile_errors_by_kind(
    metrics: ReconcilerMetrics, exc: BaseException, kind: ErrorKind
) -> None:
    metrics.observe_reconcile_error(exc)
    assert value(metrics, P + "reconcile_errors_total", {"kind": kind.value}) == 1
    total = sum(
        value(metrics, P + "reconcile_errors_total", {"kind": k.value}) or 0 for k in ErrorKind
    )
    assert total == 1


def test_latency_histograms(metrics: ReconcilerMetrics) -> None:
    metrics.observe_change_registered(0.2)
    metrics.observe_change_registered(0.6)
    metrics.observe_drift_detected(0.3)
    metrics.observe_commit_to_healthy(100)
    assert value(metrics, P + "change_to_registered_seconds_bucket", {"le": "0.25"}) == 1
    assert value(metrics, P + "change_to_registered_seconds_bucket", {"le": "0.75"}) == 2
    assert value(metrics, P + "drift_detection_seconds_count") == 1
    assert value(metrics, P + "commit_to_healthy_seconds_bucket", {"le": "120.0"}) == 1
    assert value(metrics, P + "commit_to_healthy_seconds_bucket", {"le": "60.0"}) == 0


def test_nomad_request_hook(metrics: ReconcilerMetrics) -> None:
    metrics.observe_nomad_request(Record("/v1/job/:id", "get", 200, 0.02))
    metrics.observe_nomad_request(Record("/v1/job/:id", "GET", 500, 0.5))
    metrics.observe_nomad_request(Record("/v1/job/:id", "GET", "error", 3.0))
    base = {"endpoint": "/v1/job/:id", "method": "GET"}
    assert value(metrics, P + "nomad_requests_total", {**base, "status": "200"}) == 1
    assert value(metrics, P + "nomad_requests_total", {**base, "status": "500"}) == 1
    assert value(metrics, P + "nomad_requests_total", {**base, "status": "error"}) == 1
    assert value(metrics, P + "nomad_request_duration_seconds_count", base) == 3
    assert value(metrics, P + "nomad_request_duration_seconds_sum", base) == pytest.approx(3.52)


def test_event_stream_connected(metrics: ReconcilerMetrics) -> None:
    assert value(metrics, P + "event_stream_connected") == 0
    metrics.set_event_stream_connected(True)
    assert value(metrics, P + "event_stream_connected") == 1
    metrics.set_event_stream_connected(False)
    assert value(metrics, P + "event_stream_connected") == 0


def test_revision_info_has_exactly_one_series(metrics: ReconcilerMetrics) -> None:
    metrics.set_revision("aaa", dirty=False)
    metrics.set_revision("bbb", dirty=True)
    assert value(metrics, P + "source_revision_info", {"revision": "aaa", "dirty": "false"}) is None
    assert value(metrics, P + "source_revision_info", {"revision": "bbb", "dirty": "true"}) == 1
    metrics.set_revision(None)
    text = generate_latest(metrics.registry).decode()
    assert [x for x in text.splitlines() if x.startswith(P + "source_revision_info{")] == [
        P + 'source_revision_info{dirty="false",revision="none"} 1.0'
    ]


def test_load_errors_gauge_and_counter_counts_each_failure_once(
    metrics: ReconcilerMetrics,
) -> None:
    a = Diagnostic(path="a.nomad", message="Unclosed configuration block", line=3)
    a2 = Diagnostic(path="a.nomad", message="second error in the same file", line=9)
    b = Diagnostic(path="b.nomad", message="Unsupported argument", line=1)
    warn = Diagnostic(path="c.nomad", message="style", severity=Severity.WARNING)
    metrics.observe_load_errors([a, a2, warn])
    assert value(metrics, P + "parse_error_files") == 1
    assert value(metrics, P + "parse_errors_total") == 2
    metrics.observe_load_errors([a, a2, b])  # a unchanged: not counted again
    assert value(metrics, P + "parse_error_files") == 2
    assert value(metrics, P + "parse_errors_total") == 3
    metrics.observe_snapshot(Snapshot(root="/j", jobs=(), revision=Revision("c0ffee", dirty=True)))
    assert value(metrics, P + "parse_error_files") == 0
    assert value(metrics, P + "parse_errors_total") == 3
    assert value(metrics, P + "source_revision_info", {"revision": "c0ffee", "dirty": "true"}) == 1


def test_per_job_series_never_use_the_job_label(populated: ReconcilerMetrics) -> None:
    for family in populated.registry.collect():
        for sample in family.samples:
            assert "job" not in sample.labels, sample
            if "nomad_job" in sample.labels:
                assert "nomad_namespace" in sample.labels, sample


def test_naming_conventions(populated: ReconcilerMetrics) -> None:
    for family in populated.registry.collect():
        if family.name.startswith("process_"):
            continue
        assert family.name.startswith(P), family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name


def test_scrape_while_updating_from_another_thread(metrics: ReconcilerMetrics) -> None:
    import threading

    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set():
            key = ("default", f"j{i % 50}")
            metrics.set_job_state(key, "modified")
            metrics.set_deployment(key, "running", deployment_id=str(i))
            metrics.forget_job(key)
            i += 1

    t = threading.Thread(target=churn)
    t.start()
    try:
        for _ in range(200):
            generate_latest(metrics.registry)
    finally:
        stop.set()
        t.join(timeout=10)
    assert not t.is_alive()


def test_analysis_measurements_count_by_result_and_keep_the_last_value(
    metrics: ReconcilerMetrics,
) -> None:
    web = ("default", "web")
    labels = {"nomad_namespace": "default", "nomad_job": "web", "check": "http/error-rate"}
    metrics.observe_analysis_measurement(web, "http/error-rate", "inconclusive")
    # the first measurement creates every result at zero, so increase() sees it
    assert value(metrics, "nomad_reconciler_analysis_runs_total", {**labels, "result": "pass"}) == 0
    assert value(metrics, "nomad_reconciler_analysis_runs_total", {**labels, "result": "inconclusive"}) == 1
    assert value(metrics, "nomad_reconciler_analysis_value", labels) is None
    metrics.observe_analysis_measurement(web, "http/error-rate", "pass", 0.004)
    metrics.observe_analysis_measurement(web, "http/error-rate", "fail", 0.25)
    assert value(metrics, "nomad_reconciler_analysis_runs_total", {**labels, "result": "pass"}) == 1
    assert value(metrics, "nomad_reconciler_analysis_runs_total", {**labels, "result": "fail"}) == 1
    assert value(metrics, "nomad_reconciler_analysis_value", labels) == 0.25
    # the analysis ends: the value goes, the counters stay for increase()
    metrics.clear_analysis(web)
    assert value(metrics, "nomad_reconciler_analysis_value", labels) is None
    assert value(metrics, "nomad_reconciler_analysis_runs_total", {**labels, "result": "fail"}) == 1
    metrics.forget_job(web)
    assert value(metrics, "nomad_reconciler_analysis_runs_total", {**labels, "result": "fail"}) is None
    with pytest.raises(ValueError, match="analysis result"):
        metrics.observe_analysis_measurement(web, "http/error-rate", "maybe")
