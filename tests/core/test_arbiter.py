"""The arbiter's pure parts: the probe job, and reading Nomad's plan answers as recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.arbiter import (
    changed_field_paths,
    compute_arbiter_job,
    nomad_diff_fields,
    plan_changes_job,
)
from reconciler.core.diff import compute_job_drift
from reconciler.job_plan import JobPlan
from reconciler.nomad.objects import parse_job_plan
from tests.support.jobs import make_job

API = Path(__file__).resolve().parents[1] / "golden" / "api"


def recorded_plans() -> dict[str, dict[str, Any]]:
    out = {}
    for line in (API / "02-plan-diff.jsonl").read_text().splitlines():
        exchange = json.loads(line)
        if exchange["request"]["path"].endswith("/plan"):
            out[exchange["step"]] = exchange["response"]["body"]
    return out


def plan_where(words: str) -> JobPlan:
    [body] = [b for step, b in recorded_plans().items() if words in step]
    return parse_job_plan(body)


def test_recorded_unchanged_plan_is_in_sync_and_diffless_plan_is_unknown() -> None:
    assert plan_changes_job(plan_where("identical job again")) is False
    assert plan_changes_job(plan_where("Diff=false")) is None


def test_recorded_edits_name_their_fields() -> None:
    edited = plan_where("changed job (config args")
    assert plan_changes_job(edited) is True
    fields = nomad_diff_fields(edited.diff)
    assert fields == (
        "Meta[owner]", "Meta[rev]", "Priority",
        "app/sleeper: Env[EXTRA]", "app/sleeper: Env[MODE]", "app/sleeper: Config.args[0]",
    )  # fmt: skip
    count = nomad_diff_fields(plan_where("count-only").diff)
    assert count == ("app: Count",)
    added = nomad_diff_fields(plan_where("second task group").diff)
    assert added == ("extra (added)",)


@pytest.mark.parametrize(
    ("fields", "changed"),
    [
        (
            [
                {"Type": "Added", "Name": "Meta[gitops.source]"},
                {"Type": "Added", "Name": "Meta[gitops.digest]"},
            ],
            False,
        ),
        ([{"Type": "Edited", "Name": "Meta[gitops.digest]"}], False),
        (
            [
                {"Type": "Edited", "Name": "Meta[gitops.digest]"},
                {"Type": "Edited", "Name": "Priority"},
            ],
            True,
        ),
        ([{"Type": "Edited", "Name": "Meta[team]"}], True),
    ],
)
def test_the_ownership_stamp_alone_is_not_a_change(
    fields: list[dict[str, Any]], changed: bool
) -> None:
    answer = {"Diff": {"Type": "Edited", "Fields": fields, "TaskGroups": []}}
    assert plan_changes_job(parse_job_plan(answer)) is changed


def test_probe_keeps_counts_the_file_does_not_own() -> None:
    desired = make_job("web", count=2)
    live = {"TaskGroups": [{"Name": desired.job["TaskGroups"][0]["Name"], "Count": 7}]}
    plain = compute_arbiter_job(desired.job, live, preserve_counts=False)
    assert plain["TaskGroups"][0]["Count"] == 2
    kept = compute_arbiter_job(desired.job, live, preserve_counts=True)
    assert kept["TaskGroups"][0]["Count"] == 7
    assert desired.job["TaskGroups"][0]["Count"] == 2, "the desired job is never mutated"


def test_local_changes_become_low_cardinality_field_paths() -> None:
    desired = make_job("web", count=2, meta={"owner": "x"})
    live = make_job("web").canonical
    drift = compute_job_drift(desired, live)
    assert changed_field_paths(drift.changes) == ("Meta", "TaskGroups.Count")
