"""The analysis history (one range query after a restart) when Prometheus is down at first.

``DaemonAnalysis`` (the shared ``AnalysisRunner`` with the daemon's logs) with a stand-in for the Prometheus client whose answers the test
sets, and a clock the test moves: the history is read once Prometheus is back (not
given up on, or the analysis would start from zero), and slots this process
measured while Prometheus was down stay inconclusive (a range query's lookback
would fill them with the last value from before the outage).  The end-to-end
version, with a real Prometheus stopped and started, is in test_analysis_e2e.py.
"""

from __future__ import annotations

from typing import Any

from reconciler.core.analysis_templates import build_catalog
from reconciler.daemon.analysis_log import DaemonAnalysis
from reconciler.errors import PrometheusUnavailableError
from reconciler.nomad.objects import parse_deployment
from tests.support.jobs import make_job

TEMPLATE = """\
analysis "http" {
  check "error-rate" {
    query    = "max(canary_error_ratio{alloc_id=~\\"{{canary_alloc_ids}}\\"})"
    success  = "< 0.05"
    interval = "10s"
    count    = 4
  }
}
"""
START = 1_000_000.0  # when the canary turned healthy (Unix time)
DEPLOYMENT = parse_deployment({
    "ID": "d1", "JobVersion": 2,
    "TaskGroups": {"app": {"DesiredCanaries": 1, "PlacedCanaries": ["c1"], "Promoted": False}},
})  # fmt: skip


class Prometheus:
    """Answers like a Prometheus whose data says 0.01 at every step; or is down."""

    def __init__(self) -> None:
        self.down = False
        self.range_queries: list[tuple[float, float]] = []

    async def query(self, expr: str, *, at: float | None = None) -> tuple[float, ...]:
        if self.down:
            raise PrometheusUnavailableError("connection refused")
        return (0.01,)

    async def query_range(self, expr: str, *, start: float, end: float,
                          step: float) -> dict[float, list[float]]:  # fmt: skip
        if self.down:
            raise PrometheusUnavailableError("connection refused")
        self.range_queries.append((start, end))
        steps = round((end - start) / step) + 1
        return {start + i * step: [0.01] for i in range(steps)}

    async def aclose(self) -> None:
        pass


async def _allocations(deployment_id: str, *, namespace: str) -> list[dict[str, Any]]:
    return [{"ID": "c1", "DeploymentStatus": {"Timestamp": "1970-01-12T13:46:40Z"}}]


async def test_the_history_is_read_once_prometheus_is_back_and_outage_slots_stay_inconclusive() -> None:
    now = [START + 35.0]  # a restarted daemon: slots 1-3 were measured by its predecessor
    prom = Prometheus()
    measured: list[str] = []
    analysis = DaemonAnalysis(prom,  # type: ignore[arg-type]
                              on_measurement=lambda _k, _c, result, _v: measured.append(result),
                              clock=lambda: now[0])  # fmt: skip
    catalog = build_catalog({".reconciler/analysis/http.hcl": TEMPLATE})
    job = make_job("web", meta={"gitops.analysis": "http"})

    async def gate() -> Any:
        return await analysis.gate(("default", "web"), DEPLOYMENT, job, catalog=catalog,
                                   allocations=_allocations)  # fmt: skip

    prom.down = True
    first = await gate()
    assert first.verdict.value == "inconclusive"  # slot 3: query failed
    assert measured == ["inconclusive"] and prom.range_queries == []

    prom.down = False
    now[0] = START + 45.0  # slot 4 due; Prometheus is back
    second = await gate()
    # The history was read now: slots 1 and 2 passed; slot 3 stays what this process saw.
    assert prom.range_queries == [(START + 10.0, START + 30.0)]
    check = second.status.checks[0]
    assert [m.result.value for m in check.measurements] == ["pass", "pass", "inconclusive", "pass"]
    assert second.verdict.value == "pending"  # 3 of 4 conclusive: not from zero, nor from stale data

    now[0] = START + 55.0
    third = await gate()
    assert third.verdict.value == "pass"
    assert prom.range_queries == [(START + 10.0, START + 30.0)]  # read once
