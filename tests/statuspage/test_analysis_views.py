"""The status page's canary analysis: which of the daemon's analyses a job's row shows, its
JSON (``status --json``'s ``analysis`` object) and the card's words; the daemon's hold
reason on a held row."""

from __future__ import annotations

from reconciler.core.analysis import Sample, evaluate_checks
from reconciler.core.analysis_checks import Check, parse_condition
from reconciler.core.diff import DriftState, JobDrift
from reconciler.core.plan import ActionKind, HoldReason, JobAction, LiveJob
from reconciler.daemon.memory import JobAnalysis, JobMemory
from reconciler.deployment import Deployment, DeploymentStatus
from reconciler.statuspage.analysis_views import (
    analyses_json,
    analysis_holds,
    analysis_view,
    shown_analysis,
)
from reconciler.statuspage.views import job_row
from reconciler.sync.analysis import Gate

KEY = ("default", "web")
START = 1_700_000_000.0
CHECK = Check(template="http", name="error-rate", query="q", success=parse_condition("< 0.05"),
              interval_s=2.0, count=3)  # fmt: skip
FAILED = Deployment(id="failed-dep", status=DeploymentStatus.FAILED)
REVERT = Deployment(id="revert-dep", status=DeploymentStatus.SUCCESSFUL)


def breach() -> Gate:
    status = evaluate_checks([CHECK], {"http/error-rate": [Sample(START + 2, values=(0.5,))]}, start=START)
    return Gate(status.verdict, status.reason, status=status)


def held_action(*, failed: Deployment | None = FAILED) -> JobAction:
    live = LiveJob(key=KEY, job_modify_index=9, version=2, deployment=REVERT, failed_digest="d1",
                   failed_deployment=failed)  # fmt: skip
    return JobAction(key=KEY, kind=ActionKind.HOLD, hold_reason=HoldReason.FAILED_ROLLOUT,
                     reason="the rollout of this spec failed (Deployment marked as failed)",
                     drift=JobDrift(key=KEY, state=DriftState.MODIFIED, path="web.nomad"), live=live)  # fmt: skip


def test_the_failed_deployments_analysis_is_shown_for_the_held_job() -> None:
    memory = JobMemory()
    memory.note_analysis(KEY, "failed-dep", breach())
    # Nomad's rollback may place canaries too: its analysis does not replace the failure's
    memory.note_analysis(KEY, "revert-dep", Gate(None, "analysis pending"))
    assert [a.deployment_id for a in memory.analyses_of(KEY)] == ["failed-dep", "revert-dep"]
    doc = analyses_json((held_action(),), {KEY: memory.analyses_of(KEY)})[KEY]
    assert doc["verdict"] == "fail" and doc["evaluated"] is True
    assert doc["reason"] == "analysis: http/error-rate = 0.5, wanted < 0.05"
    [check] = doc["checks"]
    assert (check["name"], check["last_value"], check["passes"], check["failures"]) == (
        "http/error-rate", 0.5, 0, 1)
    view = analysis_view(doc)
    assert view is not None and view.tone == "bad"
    [row] = view.checks
    assert (row.last, row.condition, row.failures, row.window) == ("0.5", "< 0.05", "1 of 0 allowed", "3")


def test_the_analysis_of_a_deployment_in_progress_is_shown() -> None:
    running = Deployment(id="running-dep", status=DeploymentStatus.RUNNING)
    action = JobAction(key=KEY, kind=ActionKind.NONE, reason="in sync",
                       drift=JobDrift(key=KEY, state=DriftState.IN_SYNC, path="web.nomad"),
                       live=LiveJob(key=KEY, job_modify_index=9, version=1, deployment=running))  # fmt: skip
    status = evaluate_checks([CHECK], {"http/error-rate": [Sample(START + 2, values=(0.01,))]}, start=START)
    gate = Gate(status.verdict, status.reason, status=status)
    doc = analyses_json((action,), {KEY: (JobAnalysis("failed-before", breach()),
                                          JobAnalysis("running-dep", gate))})[KEY]  # fmt: skip
    assert (doc["verdict"], doc["reason"]) == ("pending", "analysis pending: http/error-rate")
    view = analysis_view(doc)
    assert view is not None and view.tone == "info" and view.checks[0].passes == "1"


def test_an_analysis_of_another_deployment_is_not_shown() -> None:
    analysis = JobAnalysis("older-dep", breach())
    assert shown_analysis(held_action(), (analysis,)) is None
    assert shown_analysis(held_action(failed=None), (JobAnalysis("failed-dep", breach()),)) is None
    assert analyses_json((held_action(),), {KEY: (analysis,)}) == {}


def test_memory_keeps_the_latest_two_and_forgets_with_the_job() -> None:
    memory = JobMemory()
    for dep_id in ("one", "two", "three"):
        memory.note_analysis(KEY, dep_id, breach())
    assert [a.deployment_id for a in memory.analyses_of(KEY)] == ["two", "three"]
    memory.note_analysis(KEY, "three", None)  # that deployment has no analysis after all
    assert [a.deployment_id for a in memory.analyses_of(KEY)] == ["two"]
    memory.forget(KEY)
    assert memory.analyses_of(KEY) == ()


def test_an_analysis_that_cannot_run_lists_its_checks_unevaluated() -> None:
    gate = Gate(None, "analysis cannot run: no --prometheus-url", checks=(CHECK,))
    view = analysis_view(analyses_json((held_action(),), {KEY: (JobAnalysis("failed-dep", gate),)})[KEY])
    assert view is not None and not view.evaluated and view.verdict == "not evaluated"
    [row] = view.checks
    assert (row.verdict, row.last, row.passes) == ("not evaluated", "not measured yet", "-")


def test_a_held_row_says_the_reason_the_daemon_recorded() -> None:
    analyses = {KEY: (JobAnalysis("failed-dep", breach()),)}
    said = analysis_holds((held_action(),), analyses)[KEY]
    assert said == "analysis: http/error-rate = 0.5, wanted < 0.05"
    # a hold the analysis did not cause (the failed deployment's analysis was pending)
    pending = Gate(None, "analysis pending: http/error-rate")
    assert analysis_holds((held_action(),), {KEY: (JobAnalysis("failed-dep", pending),)}) == {}
    row = job_row(held_action(), daemon=None, registration=None, now=0.0,
                  last_problem="analysis failed the canaries: deployment failed, Nomad rolls back",
                  daemon_hold=said)  # fmt: skip
    assert row.state == "held" and row.reason == said
    plain = job_row(held_action(), daemon=None, registration=None, now=0.0, last_problem=None)
    assert plain.reason.startswith("the rollout of this spec failed")
