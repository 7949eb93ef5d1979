"""grafana/nomad-reconciler.json: importable into current Grafana, and every
query uses only series (and labels) the reconciler's /metrics exposes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.monitoring import DASHBOARD, PANELS, TARGETS
from tests.support.promql import problems, selectors, substitute_grafana_variables

DS_REF = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


def test_importable_shape() -> None:
    assert DASHBOARD["schemaVersion"] >= 39
    assert DASHBOARD["uid"] and DASHBOARD["title"]
    assert DASHBOARD["__inputs"] == [
        {
            "name": "DS_PROMETHEUS",
            "label": "Prometheus",
            "description": "",
            "type": "datasource",
            "pluginId": "prometheus",
            "pluginName": "Prometheus",
        }
    ]
    required = {(r["type"], r["id"]) for r in DASHBOARD["__requires"]}
    assert ("datasource", "prometheus") in required
    assert {("panel", p["type"]) for p in PANELS} <= required
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))


def test_every_panel_and_query_uses_the_datasource_variable() -> None:
    for panel in PANELS:
        assert panel["datasource"] == DS_REF, panel["title"]
        assert panel["targets"], panel["title"]
        for t in panel["targets"]:
            assert t["datasource"] == DS_REF, panel["title"]
    refs = [(title, t["refId"]) for title, t in TARGETS]
    assert len(refs) == len(set(refs)), "refIds repeat within a panel"


def test_panels_fit_the_grid_without_overlapping() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in DASHBOARD["panels"]:
        g = panel["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, panel["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_template_variables(exposed: dict[str, set[str]]) -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    for name, label in (("namespace", "nomad_namespace"), ("job", "nomad_job")):
        var = variables[name]
        assert var["type"] == "query" and var["datasource"] == DS_REF
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", var["definition"])
        assert match, var["definition"]
        assert var["query"]["query"] == var["definition"]
        selector, var_label = match.groups()
        assert var_label == label
        assert problems(substitute_grafana_variables(selector), exposed) == []
        ((metric, _),) = selectors(substitute_grafana_variables(selector))
        assert label in exposed[metric]


def test_required_panels_exist() -> None:
    titles = {p["title"] for p in PANELS}
    assert titles >= {
        "In sync", "Drifted", "Error", "Held",  # sync state overview
        "Jobs",  # per-job table
        "Jobs by sync state", "Drifted jobs",  # drift over time
        "Change to registered latency",
        "Deployments", "Canaries", "Awaiting promotion",
        "Nomad API error ratio", "Nomad API latency p95",
        "Files failing to load", "Load failures",
        "Last successful sync",
        "Source revision",
    }  # fmt: skip


def test_latency_panels_use_histogram_quantile() -> None:
    by_title = {p["title"]: p for p in PANELS}
    for title in (
        "Change to registered latency",
        "Nomad API latency p95",
        "Drift detection latency",
    ):
        for t in by_title[title]["targets"]:
            assert t["expr"].startswith("histogram_quantile("), title
            assert "_bucket" in t["expr"] and "rate(" in t["expr"], title


@pytest.mark.parametrize(
    ("title", "target"), TARGETS, ids=[f"{t}/{q['refId']}" for t, q in TARGETS]
)
def test_query_uses_only_exported_series(
    title: str, target: dict[str, Any], exposed: dict[str, set[str]]
) -> None:
    expr = substitute_grafana_variables(target["expr"])
    assert problems(expr, exposed) == []


@pytest.mark.parametrize(
    ("title", "target"), TARGETS, ids=[f"{t}/{q['refId']}" for t, q in TARGETS]
)
def test_per_job_queries_follow_the_variables(
    title: str, target: dict[str, Any], exposed: dict[str, set[str]]
) -> None:
    marked = substitute_grafana_variables(
        target["expr"], {"$namespace": "NAMESPACE_VAR", "$job": "JOB_VAR"}
    )
    for metric, matched in selectors(marked):
        if "nomad_job" in exposed.get(metric, set()):
            assert matched.get("nomad_namespace") == "NAMESPACE_VAR", (title, metric)
            assert matched.get("nomad_job") == "JOB_VAR", (title, metric)


def test_no_query_matches_prometheus_job_label_except_up() -> None:
    for title, target in TARGETS:
        for metric, matched in selectors(substitute_grafana_variables(target["expr"])):
            if "job" in matched:
                assert metric == "up", (title, metric)
