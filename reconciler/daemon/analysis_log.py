"""The daemon's side of canary analysis: the shared runner, with the daemon's logs and metrics.

The analysis itself (which groups, when it starts, which queries, the
verdict) is ``sync.analysis.AnalysisRunner``, the runner of ``sync --wait``
and ``status``.  What only the daemon does lives here: it owns the Prometheus
client for the process's lifetime, hands the runner the checkout's current
templates (they change on a commit or a checkout switch), logs each
measurement (``analysis measurement``), a failed history read once per check
(``analysis history unavailable``) and each change of an analysis as a whole
(``canary analysis``, or ``background analysis`` for the checks of a rolling
update without canaries, with per-check summaries), and feeds the metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from reconciler.core.analysis import Measurement, Verdict
from reconciler.core.analysis_templates import AnalysisCatalog, Check
from reconciler.deployment import Deployment
from reconciler.errors import PrometheusError
from reconciler.model import DesiredJob, JobKey
from reconciler.prometheus import PrometheusClient
from reconciler.sync.analysis import AllocationsReader, AnalysisRunner, Gate, finite

log = logging.getLogger(__name__)

MeasurementMetric = Callable[[JobKey, str, str, float | None], None]
"""``(key, check, result, value)``: ``ReconcilerMetrics.observe_analysis_measurement``."""


class DaemonAnalysis:
    """Runs the analyses of the deployments the daemon follows (one runner per process)."""

    def __init__(
        self,
        client: PrometheusClient | None,
        *,
        on_measurement: MeasurementMetric,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._metric = on_measurement
        self.runner = AnalysisRunner(
            client, AnalysisCatalog(), on_measurement=self._measured,
            on_history_error=self._history_missed, clock=clock,
        )  # fmt: skip
        self._said: dict[tuple[JobKey, str], str] = {}  # (key, what) → the summary last logged

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def forget(self, key: JobKey, deployment_id: str | None = None) -> None:
        for what in ("canary analysis", "background analysis"):
            self._said.pop((key, what), None)
        if deployment_id is not None:
            self.runner.forget(deployment_id)

    async def gate(
        self, key: JobKey, deployment: Deployment, desired: DesiredJob, *,
        catalog: AnalysisCatalog, allocations: AllocationsReader,
    ) -> Gate | None:  # fmt: skip
        """The analysis verdict of ``deployment``'s canaries; ``None`` when the job has none."""
        self.runner.catalog = catalog  # the checkout's current templates
        gate = await self.runner.gate(key, deployment, desired.job, allocations=allocations)
        return gate if gate is None else self._say(key, gate, "canary analysis")

    async def background(
        self, key: JobKey, deployment: Deployment, desired: DesiredJob, *,
        catalog: AnalysisCatalog, allocations: AllocationsReader,
    ) -> Gate | None:  # fmt: skip
        """The verdict of the background checks of ``deployment``'s groups without canaries;
        ``None`` when none opts in (``AnalysisRunner.background``)."""
        self.runner.catalog = catalog
        found = await self.runner.background(key, deployment, desired.job, allocations=allocations)
        return found if found is None else self._say(key, found, "background analysis")

    def _measured(self, key: JobKey, check: Check, m: Measurement) -> None:
        name = check.qualified_name
        self._metric(key, name, m.result.value, finite(m.value))
        log.info("analysis measurement", extra=_fields(
            key, check=name, result=m.result.value, value=m.describe(),
            wanted=check.success.describe()))  # fmt: skip

    def _history_missed(self, key: JobKey, check: Check, exc: PrometheusError) -> None:
        log.warning("analysis history unavailable",
                    extra=_fields(key, check=check.qualified_name, error=str(exc)))  # fmt: skip

    def _say(self, key: JobKey, gate: Gate, what: str) -> Gate:
        """Log the analysis state when it changes (per-check summaries with it)."""
        summary = gate.reason if gate.status is None else "; ".join(gate.summaries())
        if self._said.get((key, what)) != summary:
            self._said[(key, what)] = summary
            level = logging.WARNING if gate.verdict in (None, Verdict.FAIL) else logging.INFO
            log.log(level, what, extra=_fields(
                key, verdict=gate.verdict.value if gate.verdict else "blocked",
                reason=gate.reason, checks=summary))  # fmt: skip
        return gate


def _fields(key: JobKey, **extra: Any) -> dict[str, Any]:
    return {"fields": {"nomad_namespace": key[0], "nomad_job": key[1], **extra}}
