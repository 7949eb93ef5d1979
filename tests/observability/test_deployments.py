"""summarize_deployment on the deployment JSON a real Nomad 1.0.18 returned
(tests/golden/api/04-canary-manual-promote.jsonl and friends), parsed as the client parses it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.nomad.objects import parse_deployment
from reconciler.observability import DeploymentStatus, DeploymentView, summarize_deployment


def summarize(body: dict[str, Any]) -> DeploymentView:
    return summarize_deployment(parse_deployment(body))


def recorded_deployments(golden: Path, name: str) -> list[dict[str, Any]]:
    found = []
    for line in (golden / "api" / name).read_text().splitlines():
        body = json.loads(line).get("response", {}).get("body")
        # deployments have a TaskGroups map; jobs have a TaskGroups list
        if (
            isinstance(body, dict)
            and "StatusDescription" in body
            and isinstance(body.get("TaskGroups"), dict)
        ):
            found.append(body)
    return found


def test_manual_canary_rollout_as_recorded(golden: Path) -> None:
    views = [
        summarize(d)
        for d in recorded_deployments(golden, "04-canary-manual-promote.jsonl")
    ]
    needs_promotion = [
        v for v, d in zip(views, recorded_deployments(golden, "04-canary-manual-promote.jsonl"), strict=True)
        if d["StatusDescription"] == "Deployment is running but requires manual promotion"
    ]  # fmt: skip
    assert needs_promotion, "the recording has deployments waiting for promotion"
    assert all(
        v.awaiting_promotion and v.status is DeploymentStatus.RUNNING for v in needs_promotion
    )
    assert all(v.canaries_desired == 1 and v.canaries_placed == 1 for v in needs_promotion)
    # the canary turns healthy while waiting
    assert [v.canaries_healthy for v in needs_promotion] == [0, 1]
    final = views[-1]
    assert final.status is DeploymentStatus.SUCCESSFUL and not final.awaiting_promotion
    # after promotion, healthy counts stay capped at the placed canaries
    assert final.canaries_healthy == 1
    first = views[0]
    assert first.canaries_desired == 0 and not first.awaiting_promotion


def test_failed_deployment_as_recorded(golden: Path) -> None:
    views = [
        summarize(d)
        for d in recorded_deployments(golden, "06-failed-deployment-auto-revert.jsonl")
    ]
    assert DeploymentStatus.FAILED in {v.status for v in views}
    assert all(v.deployment_id for v in views)


def test_auto_promote_waits_count_as_awaiting_promotion(golden: Path) -> None:
    pending = [
        summarize(d)
        for d in recorded_deployments(golden, "05-canary-auto-promote.jsonl")
        if d["StatusDescription"] == "Deployment is running pending automatic promotion"
    ]
    assert pending and all(v.awaiting_promotion for v in pending)


def test_multi_group_sums_and_partial_promotion() -> None:
    view = summarize(
        {
            "ID": "d",
            "Status": "running",
            "TaskGroups": {
                "a": {"DesiredCanaries": 2, "PlacedCanaries": ["1", "2"], "HealthyAllocs": 5,
                      "UnhealthyAllocs": 0, "Promoted": True},
                "b": {"DesiredCanaries": 1, "PlacedCanaries": None, "HealthyAllocs": 0,
                      "UnhealthyAllocs": 0, "Promoted": False},
                "c": {"DesiredCanaries": 0, "PlacedCanaries": None, "HealthyAllocs": 3},
            },
        }
    )  # fmt: skip
    assert (view.canaries_desired, view.canaries_placed, view.canaries_healthy) == (3, 2, 2)
    assert view.awaiting_promotion


def test_terminal_deployment_never_awaits_promotion() -> None:
    view = summarize(
        {"ID": "d", "Status": "failed",
         "TaskGroups": {"a": {"DesiredCanaries": 1, "PlacedCanaries": ["1"], "Promoted": False}}}
    )  # fmt: skip
    assert view.status is DeploymentStatus.FAILED and not view.awaiting_promotion


def test_empty_or_odd_json_does_not_raise() -> None:
    view = summarize({})
    assert view.status is DeploymentStatus.UNKNOWN and view.deployment_id is None
