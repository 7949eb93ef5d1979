"""``AnalysisRunner.background``: the checks of a rolling update without canaries, with a
stand-in for the Prometheus client that records every query, and a clock the test moves.

Nothing is measured before a new allocation is healthy; the grid starts at the first
healthy one (Nomad's timestamp); ``{{alloc_ids}}`` holds the deployment's new
allocations of the group as they are placed; one instant query per check per interval
however often it is asked; a decided check is not measured again; a finished deployment
is left alone.
"""

from __future__ import annotations

from typing import Any

from reconciler.core.analysis import Verdict, unix_time
from reconciler.core.analysis_templates import build_catalog
from reconciler.nomad.objects import parse_deployment
from reconciler.sync.analysis import AnalysisRunner
from tests.support.jobs import make_job

TEMPLATE = """\
analysis "http" {
  check "error-rate" {
    query    = "max(error_ratio{alloc_id=~\\"{{alloc_ids}}\\"})"
    success  = "< 0.05"
    interval = "10s"
    count    = 3
  }
}
"""
HEALTHY_AT = "2026-01-01T10:00:00Z"
START = unix_time(HEALTHY_AT) or 0.0


def _deployment(status: str = "running") -> Any:
    return parse_deployment({"ID": "d1", "JobVersion": 4, "Status": status,
                             "TaskGroups": {"app": {"DesiredTotal": 3, "DesiredCanaries": 0}}})  # fmt: skip


class Prometheus:
    """Answers ``value`` to every instant query and records them."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.queries: list[tuple[str, float | None]] = []

    async def query(self, expr: str, *, at: float | None = None) -> tuple[float, ...]:
        self.queries.append((expr, at))
        return (self.value,)

    async def query_range(self, expr: str, *, start: float, end: float, step: float) -> dict[float, list[float]]:
        raise AssertionError("a run followed from its start never needs the history")


class Allocations:
    """The deployment's allocation stubs, as the test places and heals them."""

    def __init__(self) -> None:
        self.reads = 0
        self.stubs: list[dict[str, Any]] = [
            {"ID": "old-1", "TaskGroup": "app", "JobVersion": 3,
             "DeploymentStatus": {"Healthy": True, "Timestamp": "2025-12-31T00:00:00Z"}},
        ]  # fmt: skip

    def place(self, alloc_id: str, healthy_at: str | None = None) -> None:
        status = {"Healthy": True, "Timestamp": healthy_at} if healthy_at else None
        self.stubs.append({"ID": alloc_id, "TaskGroup": "app", "JobVersion": 4, "DeploymentStatus": status})

    async def __call__(self, deployment_id: str, /, *, namespace: str) -> list[dict[str, Any]]:
        self.reads += 1
        return list(self.stubs)


def _runner(prom: Prometheus, now: list[float]) -> AnalysisRunner:
    catalog = build_catalog({".reconciler/analysis/http.hcl": TEMPLATE})
    return AnalysisRunner(prom, catalog, clock=lambda: now[0])  # type: ignore[arg-type]


JOB = make_job("web", meta={"gitops.analysis": "http"}).job
JOB["TaskGroups"][0]["Name"] = "app"
KEY = ("default", "web")


async def test_a_passing_rolling_update_is_measured_on_its_new_allocations_once_per_interval() -> None:
    prom, allocs, now = Prometheus(0.01), Allocations(), [START - 30.0]
    runner = _runner(prom, now)
    allocs.place("new-a")  # placed, not healthy yet: nothing to measure
    waiting = await runner.background(KEY, _deployment(), JOB, allocations=allocs)
    assert waiting is not None and waiting.verdict is Verdict.PENDING and prom.queries == []
    allocs.stubs[-1]["DeploymentStatus"] = {"Healthy": True, "Timestamp": HEALTHY_AT}
    for t in (START + 1.0, START + 9.0, START + 10.5, START + 12.0, START + 15.0):
        now[0] = t
        gate = await runner.background(KEY, _deployment(), JOB, allocations=allocs)
    assert [at for _q, at in prom.queries] == [START + 10.0]  # the first slot, asked once
    assert allocs.reads == 3  # Nomad asked only while it mattered: before the start, and at slot 1
    assert prom.queries[0][0] == 'max(error_ratio{alloc_id=~"new-a"})'  # never the old version's
    allocs.place("new-b", "2026-01-01T10:00:15Z")  # the next batch joins the query
    now[0] = START + 20.0
    gate = await runner.background(KEY, _deployment(), JOB, allocations=allocs)
    assert prom.queries[-1] == ('max(error_ratio{alloc_id=~"new-a|new-b"})', START + 20.0)
    assert gate is not None and gate.verdict is Verdict.PENDING and gate.recheck_in == 10.0
    now[0] = START + 30.0
    gate = await runner.background(KEY, _deployment(), JOB, allocations=allocs)
    assert gate is not None and gate.passed and len(prom.queries) == 3
    now[0] = START + 60.0  # passed: never measured again
    await runner.background(KEY, _deployment(), JOB, allocations=allocs)
    assert len(prom.queries) == 3
    # a finished deployment is left alone
    assert await runner.background(KEY, _deployment("successful"), JOB, allocations=allocs) is None


async def test_a_breach_fails_with_the_value_and_a_canary_group_is_not_analysed_here() -> None:
    prom, allocs, now = Prometheus(0.5), Allocations(), [START + 10.0]
    allocs.place("new-a", HEALTHY_AT)
    gate = await _runner(prom, now).background(KEY, _deployment(), JOB, allocations=allocs)
    assert gate is not None and gate.failed
    assert gate.reason == "analysis: http/error-rate = 0.5, wanted < 0.05"
    canary = parse_deployment({"ID": "d2", "JobVersion": 4, "Status": "running", "TaskGroups": {
        "app": {"DesiredCanaries": 1, "PlacedCanaries": ["c1"]}}})  # fmt: skip
    assert await _runner(prom, now).background(KEY, canary, JOB, allocations=allocs) is None


async def test_without_prometheus_the_checks_cannot_run_and_say_so() -> None:
    catalog = build_catalog({".reconciler/analysis/http.hcl": TEMPLATE})
    gate = await AnalysisRunner(None, catalog).background(KEY, _deployment(), JOB, allocations=Allocations())
    assert gate is not None and gate.verdict is None and "no --prometheus-url" in gate.reason
