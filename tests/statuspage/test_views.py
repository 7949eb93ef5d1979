"""The status page's view models: pure tables of inputs and what a person reads."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.diff import DriftState, JobDrift
from reconciler.core.plan import ActionKind, HoldReason, JobAction, LiveJob, Plan
from reconciler.deployment import Deployment
from reconciler.model import Diagnostic, JobKey, Severity
from reconciler.nomad.objects import parse_deployment
from reconciler.observability.job_series import JobStateView
from reconciler.statuspage.deployment_views import (
    group_progress,
    rollout_timeline,
    steps_reached,
    summarize_deployment,
)
from reconciler.statuspage.feed import Registration
from reconciler.statuspage.text import format_age, job_url
from reconciler.statuspage.views import (
    DaemonFacts,
    JobFilter,
    annotation_rows,
    build_overview,
    classify_diff_lines,
    effective_state,
    explain_hold,
    job_row,
)


def dep(
    status: str = "running",
    *,
    canaries: int = 1,
    placed_canaries: int = 1,
    healthy: int = 0,
    unhealthy: int = 0,
    promoted: bool = False,
    description: str = "",
    total: int = 3,
) -> Deployment:
    return parse_deployment({
        "ID": "0123456789abcdef",
        "Status": status,
        "StatusDescription": description,
        "TaskGroups": {
            "web": {
                "DesiredCanaries": canaries,
                "PlacedCanaries": [f"a{i}" for i in range(placed_canaries)],
                "DesiredTotal": total,
                "PlacedAllocs": placed_canaries,
                "HealthyAllocs": healthy,
                "UnhealthyAllocs": unhealthy,
                "Promoted": promoted,
            }
        },
    })


def action(
    key: JobKey = ("default", "web"),
    state: DriftState = DriftState.IN_SYNC,
    *,
    kind: ActionKind = ActionKind.NONE,
    hold: HoldReason | None = None,
    deployment: Deployment | None = None,
    version: int | None = 3,
    reason: str = "",
    live: bool = True,
) -> JobAction:
    return JobAction(
        key=key, kind=kind, hold_reason=hold, reason=reason,
        drift=JobDrift(key=key, state=state, path=f"{key[1]}.nomad"),
        live=LiveJob(key=key, job_modify_index=7, version=version, deployment=deployment)
        if live else None,
    )  # fmt: skip


def daemon(state: str, held: str | None = None, cause: str | None = None,
           awaiting_since: float | None = None) -> JobStateView:  # fmt: skip
    return JobStateView(state=state, held_reason=held, error_cause=cause, last_sync=None,
                        awaiting_since=awaiting_since)  # fmt: skip


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (0, "0s"), (59.9, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h"),
    (86400 * 3 + 5, "3d"), (-4, "0s"),
])  # fmt: skip
def test_format_age(seconds: float | None, text: str) -> None:
    assert format_age(seconds) == text


def test_job_url_escapes_both_parts() -> None:
    assert job_url(("team a", "web/1<x>")) == "/jobs/team%20a/web%2F1%3Cx%3E"


def test_group_progress_before_and_after_promotion() -> None:
    [before] = group_progress(dep(healthy=1))
    assert (before.placed_canaries, before.healthy_canaries) == (1, 1)
    assert before.text == "web: canaries 1/1 placed, 1 healthy"
    [after] = group_progress(dep(promoted=True, healthy=2, placed_canaries=1))
    assert after.text == "web: 2/3 healthy"
    [plain] = group_progress(dep(canaries=0, placed_canaries=0, healthy=3, unhealthy=1))
    assert plain.text == "web: 3/3 healthy, 1 unhealthy"


def test_awaiting_promotion_says_for_how_long() -> None:
    summary = summarize_deployment(dep(healthy=1), awaiting_since=100.0, now=190.0)
    assert summary is not None
    assert (summary.phase, summary.label, summary.tone) == (
        "awaiting_promotion", "awaiting promotion", "warn")
    assert summary.awaiting_for == "1m"
    assert summary.short_id == "01234567"
    # First seen by this page: no clock yet, still said.
    assert summarize_deployment(dep(), awaiting_since=None, now=5.0).awaiting_for == "just now"  # type: ignore[union-attr]
    assert summarize_deployment(dep("successful", promoted=True), awaiting_since=1.0,
                                now=5.0).awaiting_for is None  # type: ignore[union-attr]
    assert summarize_deployment(None, awaiting_since=None, now=0.0) is None


@pytest.mark.parametrize(("deployment", "reached"), [
    (dep(), ["registered"]),
    (dep(healthy=1), ["registered", "canaries_healthy"]),
    (dep(promoted=True, healthy=1), ["registered", "canaries_healthy", "promoted"]),
    (dep("successful", promoted=True, healthy=3),
     ["registered", "canaries_healthy", "promoted", "successful"]),
    (dep("failed", unhealthy=1,
         description="Failed due to unhealthy allocations - rolling back to job version 2"),
     ["registered", "failed", "reverted"]),
    (dep("failed", description="Failed due to progress deadline"), ["registered", "failed"]),
    (dep("successful", canaries=0, placed_canaries=0, healthy=3), ["registered", "successful"]),
])  # fmt: skip
def test_steps_reached(deployment: Deployment, reached: list[str]) -> None:
    assert steps_reached(deployment) == reached


def statuses(steps: list[Any]) -> list[tuple[str, str, str]]:
    return [(s.name, s.label, s.status) for s in steps]


def test_timeline_of_a_canary_rollout_awaiting_promotion() -> None:
    steps = rollout_timeline(dep(healthy=1), version=4, seen={"registered": 10.0})
    assert statuses(steps) == [
        ("registered", "version 4 registered", "done"),
        ("canaries_healthy", "canaries healthy", "done"),
        ("promoted", "awaiting promotion", "current"),
        ("successful", "successful", "pending"),
    ]
    assert steps[0].at == 10.0 and steps[1].at is None
    assert [s.tone for s in steps] == ["ok", "ok", "info", "idle"]


def test_timeline_of_a_failed_rollout_that_nomad_reverted() -> None:
    failed = dep("failed", unhealthy=1,
                 description="Failed due to unhealthy allocations - rolling back to job version 2")
    assert statuses(rollout_timeline(failed, version=3, seen={})) == [
        ("registered", "version 3 registered", "done"),
        ("canaries_healthy", "canaries healthy", "pending"),
        ("promoted", "promoted", "pending"),
        ("failed", "failed", "failed"),
        ("reverted", "reverted to the previous version", "done"),
    ]


def test_timeline_without_canaries_and_without_deployment() -> None:
    running = dep(canaries=0, placed_canaries=0, healthy=1)
    assert statuses(rollout_timeline(running, version=None, seen={})) == [
        ("registered", "registered", "done"),
        ("successful", "rolling out", "current"),
    ]
    assert rollout_timeline(None, version=1, seen={}) == []


@pytest.mark.parametrize(("plan_state", "hold", "daemon_state", "expected"), [
    (DriftState.IN_SYNC, None, None, ("in_sync", None, None)),
    (DriftState.MODIFIED, None, None, ("modified", None, None)),
    # A hold the plan itself made.
    (DriftState.MODIFIED, HoldReason.ACTIVE_DEPLOYMENT, None,
     ("held", "active_deployment", None)),
    # Holds only the daemon knows (its failed-rollout memory, waves, the cap): /metrics says them.
    (DriftState.MODIFIED, None, daemon("held", "wave"), ("held", "wave", None)),
    (DriftState.MISSING, None, daemon("error", cause="file"), ("error", None, "file")),
    # A job in sync is in sync, whatever an older daemon state said.
    (DriftState.IN_SYNC, None, daemon("held", "deployment_cap"), ("in_sync", None, None)),
])  # fmt: skip
def test_effective_state(plan_state: DriftState, hold: HoldReason | None,
                         daemon_state: JobStateView | None, expected: tuple[Any, ...]) -> None:  # fmt: skip
    kind = ActionKind.HOLD if hold else ActionKind.NONE
    assert effective_state(action(state=plan_state, kind=kind, hold=hold), daemon_state) == expected


def test_job_row_labels_and_last_change() -> None:
    row = job_row(
        action(deployment=dep(healthy=1)), daemon=daemon("in_sync", awaiting_since=40.0),
        registration=Registration(at=30.0, commit="abcdef0123456789", version=None), now=100.0,
    )  # fmt: skip
    assert row.state == "in_sync"
    assert row.state_label == "in_sync (awaiting promotion)"
    assert row.tone == "warn"
    assert row.version == "3"
    assert row.last_change == "1m ago from abcdef01"
    assert row.deployment is not None and row.deployment.awaiting_for == "1m"
    assert row.url == "/jobs/default/web"
    assert row.dom_id == "job-default%2Fweb"
    held = job_row(action(state=DriftState.MODIFIED), daemon=daemon("held", "failed_rollout"),
                   registration=None, now=0.0)  # fmt: skip
    assert (held.state_label, held.tone, held.last_change) == (
        "held (failed rollout)", "bad", "-")
    told = job_row(action(state=DriftState.MODIFIED), daemon=daemon("error", cause="cluster"),
                   registration=None, now=0.0, last_problem="nonexistent namespace")  # fmt: skip
    assert told.reason == "nonexistent namespace"  # Nomad's words, not only "modified"
    missing = job_row(action(state=DriftState.MISSING, live=False), daemon=None,
                      registration=None, now=0.0)  # fmt: skip
    assert (missing.version, missing.deployment, missing.tone) == ("-", None, "warn")


def test_filters_and_search() -> None:
    rows = [
        job_row(action(("default", "web")), daemon=None, registration=None, now=0),
        job_row(action(("default", "api"), DriftState.MODIFIED), daemon=None, registration=None,
                now=0),
        job_row(action(("platform", "web-cache")), daemon=None, registration=None, now=0),
    ]  # fmt: skip
    ids = lambda flt: [r.job_id for r in rows if flt.matches(r)]  # noqa: E731
    assert ids(JobFilter()) == ["web", "api", "web-cache"]
    assert ids(JobFilter(namespace="platform")) == ["web-cache"]
    assert ids(JobFilter(state="modified")) == ["api"]
    assert ids(JobFilter(search=" WEB ")) == ["web", "web-cache"]
    assert ids(JobFilter(search="api.nomad")) == ["api"]  # the file name too
    assert ids(JobFilter(namespace="default", search="web")) == ["web"]
    assert not JobFilter().active and JobFilter(state="held").active


def facts(**more: Any) -> DaemonFacts:
    values: dict[str, Any] = dict(
        nomad_address="http://nomad:4646", server_version="1.0.18", stream_connected=True,
        ready=True, ready_reason="ready", passes=2, last_pass_at=90.0, commit=None,
    )  # fmt: skip
    values.update(more)
    return DaemonFacts(**values)


def test_overview_counts_every_state_and_lists_holds() -> None:
    plan = Plan(
        actions=(
            action(("default", "b")),
            action(("default", "a"), DriftState.MODIFIED, kind=ActionKind.HOLD,
                   hold=HoldReason.NOT_CONVERGING, reason="Nomad still reports Count"),
            action(("ops", "c"), DriftState.MISSING, live=False),
        ),
        errors=(Diagnostic(path="x.nomad", line=3, message="bad block", severity=Severity.ERROR),),
        refusals=("prune refused: 1 file(s) failed to load; fix them first",), unmanaged=4,
    )  # fmt: skip
    o = build_overview(plan, facts=facts(), daemon_states={}, registrations=lambda k: None,
                       flt=JobFilter(namespace="default"), now=100.0)  # fmt: skip
    assert dict(o.counts) == {"in_sync": 1, "modified": 0, "missing": 1, "orphaned": 0,
                              "held": 1, "error": 0}  # fmt: skip
    assert [r.job_id for r in o.rows] == ["a", "b"]  # sorted, filtered
    assert o.total == 3
    assert [r.job_id for r in o.holds] == ["a"]
    assert o.namespaces == ("default", "ops")
    assert o.errors == ("x.nomad:3: bad block",)
    assert o.unmanaged == 4 and o.last_pass_age == "10s"
    assert (o.stream_label, o.stream_tone) == ("connected", "ok")
    off = build_overview(plan, facts=facts(stream_connected=None), daemon_states={},
                         registrations=lambda k: None, flt=JobFilter(), now=0.0)  # fmt: skip
    assert (off.stream_label, off.stream_tone) == ("off (blocking queries)", "idle")


def test_diff_lines_are_tagged_by_the_sign_plan_prints() -> None:
    lines = [
        "~ update   web  [web.nomad]",
        '    +/- Job: "web"',
        '      + Meta[x]: "1"',
        '      - Meta[y]: "2"',
        '      ~ Env[TOKEN]: "<redacted>" => "<redacted>"',
        "    note: group 'app': live count 5 kept",
        "      }",
    ]
    assert [d.kind for d in classify_diff_lines(lines)] == [
        "head", "edit", "add", "del", "edit", "note", "plain"]
    assert classify_diff_lines(lines)[4].text == lines[4]  # the text itself, unchanged


def test_annotation_rows_keep_nonzero_counts() -> None:
    rows = annotation_rows({"web": {"Canary": 1, "Ignore": 2, "Place": 0, "Stop": 0},
                            "db": {"Place": 0}})  # fmt: skip
    assert [(r.group, r.counts) for r in rows] == [
        ("db", ()), ("web", (("Canary", 1), ("Ignore", 2)))]
    assert annotation_rows(None) == []


@pytest.mark.parametrize("reason", [r.value for r in HoldReason])
def test_every_hold_reason_says_how_to_release_it(reason: str) -> None:
    row = job_row(action(state=DriftState.MODIFIED), daemon=daemon("held", reason),
                  registration=None, now=0.0)  # fmt: skip
    hold = explain_hold(row, daemon("held", reason))
    assert hold is not None and hold.reason == reason
    assert hold.why and hold.release and hold.why != "The job is held."


def test_errors_are_explained_by_cause_and_in_sync_needs_nothing() -> None:
    row = job_row(action(state=DriftState.MODIFIED), daemon=daemon("error", cause="file"),
                  registration=None, now=0.0)  # fmt: skip
    hold = explain_hold(row, daemon("error", cause="file"))
    assert hold is not None and hold.reason == "error (file)" and "fix it" in hold.why
    fine = job_row(action(), daemon=None, registration=None, now=0.0)
    assert explain_hold(fine, None) is None
