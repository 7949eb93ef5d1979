"""The job answers real Nomad 1.0.18 sent (tests/golden/api/) parse to what it said.

Plans, registers, deregisters, version lists and the event stream's Job and
Evaluation payloads, each read once in ``reconciler/nomad/objects.py``; and a
body with keys missing reads as the zero values the callers used to default to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from reconciler.job_plan import NO_CHANGE, JobPlan, JobWrite, ObjectDiff
from reconciler.nomad.events import decode_frame
from reconciler.nomad.objects import (
    parse_evaluation,
    parse_event_job,
    parse_job_diff,
    parse_job_plan,
    parse_job_versions,
    parse_job_write,
)
from reconciler.sync.failed_rollouts import replaced_unstable_versions


def exchanges(golden: Path) -> Iterator[tuple[str, str, str, Any]]:
    """(file, method, path, body) of every recorded 2xx answer."""
    for path in sorted((golden / "api").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            exchange = json.loads(line)
            request, response = exchange["request"], exchange["response"]
            if 200 <= response.get("status", 0) < 300:
                yield path.name, request["method"], request["path"], response.get("body")


def assert_same_object(parsed: ObjectDiff, body: Mapping[str, Any]) -> None:
    assert (parsed.type, parsed.name) == (body["Type"], body.get("Name") or "")
    assert [(f.type, f.name, f.old, f.new) for f in parsed.fields] == [
        (f["Type"], f["Name"], f["Old"], f["New"]) for f in body["Fields"] or ()]
    assert len(parsed.objects) == len(body["Objects"] or ())
    for inner, raw in zip(parsed.objects, body["Objects"] or (), strict=True):
        assert_same_object(inner, raw)


def test_recorded_plans_parse_to_what_nomad_said(golden: Path) -> None:
    bodies = [body for _, method, path, body in exchanges(golden)
              if method in ("PUT", "POST") and path.endswith("/plan") and isinstance(body, dict)]
    assert len(bodies) > 10
    for body in bodies:
        plan = parse_job_plan(body)
        assert plan.job_modify_index == body["JobModifyIndex"]
        assert plan.warnings == body["Warnings"]
        assert plan.annotations == body["Annotations"]["DesiredTGUpdates"]
        assert plan.failed_groups == tuple(sorted(body["FailedTGAllocs"] or ()))
        diff = body["Diff"]
        if diff is None:
            assert plan.diff is None
            continue
        assert plan.diff is not None and plan.diff.id == diff["ID"]
        assert_same_object(plan.diff, diff)
        assert len(plan.diff.task_groups) == len(diff["TaskGroups"] or ())
        for group, raw in zip(plan.diff.task_groups, diff["TaskGroups"] or (), strict=True):
            assert_same_object(group, raw)
            for task, raw_task in zip(group.tasks, raw["Tasks"] or (), strict=True):
                assert_same_object(task, raw_task)


def test_a_plan_nomad_could_not_place_names_its_groups(golden: Path) -> None:
    """No recorded plan failed to place; its ``FailedTGAllocs`` is the map a recorded
    evaluation carries (``map[string]*AllocationMetric`` in both, api/jobs.go v1.0.18)."""
    [metrics] = [body["FailedTGAllocs"] for _, _, path, body in exchanges(golden)
                 if path.startswith("/v1/evaluation/") and isinstance(body, dict)
                 and body.get("FailedTGAllocs")]  # fmt: skip
    [plan] = [body for name, _, path, body in exchanges(golden)
              if name.startswith("09-") and path.endswith("/plan") and isinstance(body, dict)
              and body["Diff"]["Type"] == "Added"]  # fmt: skip
    assert parse_job_plan({**plan, "FailedTGAllocs": metrics}).failed_groups == ("app",)


def test_recorded_registers_and_deregisters_parse(golden: Path) -> None:
    writes = [(method, body) for _, method, path, body in exchanges(golden)
              if (method, path) == ("PUT", "/v1/jobs")
              or (method == "DELETE" and path.startswith("/v1/job/"))]
    assert {method for method, _ in writes} == {"PUT", "DELETE"}
    for _, body in writes:
        answer = parse_job_write(body)
        assert answer.eval_id == (body["EvalID"] or None)
        assert (answer.eval_create_index, answer.job_modify_index) == (
            body["EvalCreateIndex"], body["JobModifyIndex"])
        assert answer.warnings == body.get("Warnings", "")


def test_recorded_versions_parse_newest_first(golden: Path) -> None:
    lists = [body for _, method, path, body in exchanges(golden)
             if method == "GET" and path.endswith("/versions") and isinstance(body, dict)]
    assert len(lists) > 5
    for body in lists:
        versions = parse_job_versions(body)
        assert [(v.version, v.stable, v.meta) for v in versions] == [
            (raw["Version"], raw["Stable"], raw["Meta"]) for raw in body["Versions"]]
        assert [v.job for v in versions] == body["Versions"]


def test_the_recorded_auto_revert_leaves_the_failed_version_replaced(golden: Path) -> None:
    """06: versions 2 (the revert of 0), 1 (its deployment failed), 0: only 1 may be the failure."""
    [body] = [body for name, _, path, body in exchanges(golden)
              if name.startswith("06-") and path.endswith("/versions")
              and len(body["Versions"]) == 3]  # fmt: skip
    versions = parse_job_versions(body)
    assert [v.version for v in versions] == [2, 1, 0]
    assert [v.version for v in replaced_unstable_versions(versions)] == [1]


def test_event_stream_job_and_evaluation_payloads_arrive_parsed(golden: Path) -> None:
    events = [
        event
        for line in (golden / "api" / "07-event-stream.ndjson").read_bytes().splitlines()
        if (frame := decode_frame(line)) is not None
        for event in frame.events
    ]
    jobs = [e for e in events if e.topic == "Job"]
    evaluations = [e for e in events if e.topic == "Evaluation"]
    assert jobs and evaluations
    for event in jobs:
        raw = event.payload["Job"]
        assert event.job == parse_event_job(raw)
        assert event.job is not None
        assert (event.job.id, event.job.namespace, event.job.job_modify_index) == (
            raw["ID"], raw["Namespace"], raw["JobModifyIndex"])
    for event in evaluations:
        assert event.evaluation == event.payload["Evaluation"]
        assert event.evaluation is not None and event.evaluation.get("JobID") == "rec-07-events"
    assert all(e.job is None for e in events if e.topic != "Job")
    assert all(e.evaluation is None for e in events if e.topic != "Evaluation")


def test_missing_keys_read_as_zero_values() -> None:
    assert parse_job_plan({}) == JobPlan() == parse_job_plan(None)
    assert parse_job_write({}) == JobWrite() == parse_job_write(None)
    assert parse_job_write({"EvalID": ""}).eval_id is None
    assert parse_job_diff(None) is None
    assert parse_job_diff({"Type": None, "TaskGroups": []}) is None  # no verdict without a Type
    diff = parse_job_diff({"Type": "Edited", "Fields": [{"Name": "Priority"}], "Objects": None})
    assert diff is not None and diff.fields[0].type == NO_CHANGE and diff.objects == ()
    assert parse_job_versions({"Versions": None}) == []
    [version] = parse_job_versions({"Versions": [{"Meta": "not a map"}]})
    assert (version.version, version.stable, version.meta) == (0, False, None)
    job = parse_event_job({"ID": "web"})
    assert (job.namespace, job.job_modify_index, job.meta) == ("", 0, None)


@pytest.mark.parametrize("body", [[], "job not found", 3])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    for parse in (parse_job_plan, parse_job_write, parse_job_versions, parse_event_job,
                  parse_evaluation):
        with pytest.raises(ValueError, match="must be a JSON object"):
            parse(body)
