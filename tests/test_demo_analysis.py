"""The pieces of the demo's canary-analysis walkthrough: the traffic exporter, the built-in
Prometheus query API (asked by the project's own Prometheus client, over loopback), the
job-file edit that opts into analysis, and the daemon log lines the demo narrates from.
The walkthrough itself runs end to end in tests/test_demo.py."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

from reconciler.core.analysis_templates import (
    PlaceholderValues,
    build_catalog,
    group_analyses,
    render_query,
)
from reconciler.demo import CHANGE_KEY, compute_changed_source, opt_into_analysis
from reconciler.demo.builtin_prometheus import (
    UnsupportedQuery,
    parse_query,
    serving_builtin_prometheus,
)
from reconciler.demo.support import parse_log_line
from reconciler.demo.traffic import REQUESTS_PER_S, TrafficExporter
from reconciler.errors import PrometheusQueryError
from reconciler.jobspec.analysis_files import read_analysis_files
from reconciler.jobspec.hcl_convert import convert_hcl
from reconciler.jobspec.jsonspec import parse_json_job
from reconciler.prometheus import PrometheusClient, PrometheusConfig

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_700_000_000.0  # when the allocations below start serving


def _stub(alloc_id: str, version: int, status: str = "running") -> dict[str, object]:
    return {"ID": alloc_id, "ClientStatus": status, "JobVersion": version, "TaskGroup": "frontend"}


def _exporter() -> TrafficExporter:
    """web with an old allocation (version 1) and the canary of the faulty version 2."""
    exporter = TrafficExporter("default", "web")
    exporter.faulty_version = 2
    exporter.observe_allocations([_stub("old-1", 1), _stub("canary-2", 2)], now=T0)
    return exporter


def _demo_query(*canaries: str) -> str:
    """The jobs repository's template, rendered as the daemon renders it."""
    texts, unread = read_analysis_files(ROOT / "jobs")
    catalog = build_catalog(texts, read_errors=unread)
    assert not catalog.errors
    (check,) = catalog.templates["http-errors"].checks
    values = PlaceholderValues(job="web", namespace="default", group="frontend", deployment_id="d1",
                               version=2, canary_alloc_ids=canaries)  # fmt: skip
    return render_query(check.query, values)


def test_the_exporter_serves_per_allocation_counters_and_the_faulty_canary_errs() -> None:
    exporter = _exporter()
    text = exporter.render(T0 + 10)
    line = 'http_requests_total{alloc_id="canary-2",code="500",nomad_job="web",task_group="frontend"}'
    assert f"{line} {REQUESTS_PER_S * 0.25 * 10!r}" in text
    assert 'http_requests_total{alloc_id="old-1",code="500",nomad_job="web",task_group="frontend"}' in text
    # An allocation that stopped keeps its counters, no longer growing.
    exporter.observe_allocations([_stub("old-1", 1)], now=T0 + 10)
    assert f"{line} {REQUESTS_PER_S * 0.25 * 10!r}" in exporter.render(T0 + 30)


def test_the_builtin_api_answers_the_projects_client_for_the_demo_template() -> None:
    exporter = _exporter()

    async def ask(url: str) -> None:
        async with PrometheusClient(PrometheusConfig(url=url)) as client:
            assert await client.query(_demo_query("canary-2"), at=T0 + 10) == pytest.approx((0.25,))
            assert await client.query(_demo_query("old-1"), at=T0 + 10) == pytest.approx((0.002,))
            assert await client.query(_demo_query("canary-2"), at=T0 - 1) == ()  # no series yet
            assert await client.query(_demo_query("elsewhere"), at=T0 + 10) == ()
            points = await client.query_range(_demo_query("canary-2"), start=T0 + 2, end=T0 + 10, step=2)
            assert sorted(points) == [T0 + 2, T0 + 4, T0 + 6, T0 + 8, T0 + 10]
            assert all(v == [pytest.approx(0.25)] for v in points.values())
            with pytest.raises(PrometheusQueryError, match=r"bad_data: .*answers only sum"):
                await client.query("histogram_quantile(0.99, rate(x[1m]))", at=T0 + 10)

    with serving_builtin_prometheus(exporter, lambda: T0 + 10) as url:
        asyncio.run(ask(url))


def test_the_builtin_api_reads_matchers_and_refuses_what_it_does_not_evaluate() -> None:
    numerator, denominator = parse_query(_demo_query("a-1", "b.2"))
    assert denominator is not None and numerator.window_s == 10
    assert ("alloc_id", "=~", r"a-1|b\.2") in numerator.matchers  # PromQL's escaping undone once
    assert numerator.matches((("alloc_id", "b.2"), ("code", "503"), ("nomad_job", "web"), ("task_group", "frontend")))
    assert not numerator.matches((("alloc_id", "bx2"), ("code", "503"), ("nomad_job", "web"), ("task_group", "frontend")))
    assert not denominator.matches((("alloc_id", "a-1"), ("nomad_job", "api"), ("task_group", "frontend")))
    for query in ("sum(rate(x[1m])) * 2", "rate(x[1m])", 'sum(rate(x{a~"b"}[1m]))', "max(rate(x[1m]))"):
        with pytest.raises(UnsupportedQuery):
            parse_query(query)


def test_a_stopped_canary_measures_nothing_but_nan_once_its_window_is_idle() -> None:
    exporter = _exporter()
    exporter.observe_allocations([], now=T0 + 10)

    async def ask(url: str) -> tuple[float, ...]:
        async with PrometheusClient(PrometheusConfig(url=url)) as client:
            return await client.query(_demo_query("canary-2"), at=T0 + 30)

    with serving_builtin_prometheus(exporter, lambda: T0 + 30) as url:
        (value,) = asyncio.run(ask(url))
    assert math.isnan(value)  # 0/0, as Prometheus answers it: the check's on_empty applies


WEB_LIKE = """job "a" {
  datacenters = ["dc1"]
  meta {
    team = "x" # a comment stays
  }
  group "g" {
    update {
      canary = 1
    }
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/sleep" }
    }
  }
}
"""


def test_opting_into_analysis_turns_a_meta_block_into_a_map_and_changes_nothing_else() -> None:
    changed = opt_into_analysis(WEB_LIKE, source_format="hcl2", templates="http-errors")
    old, new = convert_hcl(WEB_LIKE), convert_hcl(changed)
    assert new["Meta"] == {"team": "x", "gitops.analysis": "http-errors"}
    assert {**new, "Meta": None} == {**old, "Meta": None}
    assert group_analyses(new) == {"g": ("http-errors",)}
    # The walkthrough's Meta change still finds the (now) map, and a second opt-in replaces the first.
    again = opt_into_analysis(compute_changed_source(changed, source_format="hcl2", revision=3),
                              source_format="hcl2", templates="other")  # fmt: skip
    assert convert_hcl(again)["Meta"] == {"team": "x", "gitops.analysis": "other", CHANGE_KEY: "3"}


def test_the_demo_opts_the_example_web_job_into_the_template_of_the_jobs_repository() -> None:
    source = (ROOT / "jobs/default/web/web.nomad").read_text()
    for revision in (2, 3):  # the walkthrough's first change, then the second
        source = compute_changed_source(source, source_format="hcl2", revision=revision)
        if revision == 3:
            source = opt_into_analysis(source, source_format="hcl2", templates="http-errors")
    job = convert_hcl(source)
    assert job["Meta"][CHANGE_KEY] == "3"
    assert group_analyses(job) == {"frontend": ("http-errors",)}


def test_opting_a_json_job_into_analysis() -> None:
    source = json.dumps({"Job": {"ID": "a", "Name": "a", "Datacenters": ["dc1"], "Meta": {"team": "x"},
                                 "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec"}]}]}})
    changed = parse_json_job(opt_into_analysis(source, source_format="json", templates="http-errors"), path="a.json")
    assert changed["Meta"] == {"team": "x", "gitops.analysis": "http-errors"}


def test_daemon_log_lines_are_read_back_as_their_fields() -> None:
    line = ('11:03:16 warning analysis failed the canaries: deployment failed, Nomad rolls back  '
            'nomad_namespace=default  nomad_job=web  deployment=960b0f7f  '
            'reason="analysis: http-errors/error-rate = 0.25, wanted < 0.05"')  # fmt: skip
    assert parse_log_line(line) == {
        "level": "warning", "message": "analysis failed the canaries: deployment failed, Nomad rolls back",
        "nomad_namespace": "default", "nomad_job": "web", "deployment": "960b0f7f",
        "reason": "analysis: http-errors/error-rate = 0.25, wanted < 0.05",
    }  # fmt: skip
    assert parse_log_line("11:03:16 info    stopped") == {"level": "info", "message": "stopped"}
    assert parse_log_line("  File \"x.py\", line 1") is None  # a traceback line
