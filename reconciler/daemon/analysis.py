"""Canary analysis in the daemon: query Prometheus on the grid, ask the pure core for a verdict.

Responsible for the I/O around ``core.analysis``: the analysis start of each
canary group (when its last canary turned healthy, read from Nomad's
allocations: ``DeploymentStatus.Timestamp``), the rendered queries, the
samples (one instant query per check per interval, at the grid time), and the
resume after a restart (one range query per check over the deployment's
lifetime: the samples are Prometheus' data, not this process's memory).  It
decides nothing itself: ``gate`` returns what the verdict means for the
promotion (promote, fail, or wait and why), and the loop acts on it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.analysis import (
    AnalysisStatus,
    Sample,
    Verdict,
    combine,
    due_slot,
    evaluate_check,
    measure,
    range_samples,
    slot_of,
    slot_time,
    unix_time,
)
from reconciler.core.analysis_templates import (
    AnalysisCatalog,
    Check,
    PlaceholderValues,
    group_analyses,
    render_query,
)
from reconciler.deployment import Deployment, DeploymentGroup
from reconciler.errors import PrometheusError, PrometheusUnavailableError
from reconciler.model import DesiredJob, JobKey
from reconciler.nomad.objects import AllocationStub
from reconciler.prometheus import PrometheusClient, PrometheusConfig

log = logging.getLogger(__name__)

AllocationsReader = Callable[..., Awaitable[Sequence[AllocationStub]]]
"""``reader(deployment_id, *, namespace)``: the deployment's allocation stubs."""


@dataclass(frozen=True)
class Gate:
    """What the analysis says about promoting a deployment now."""

    verdict: Verdict | None  # None: the analysis cannot run (a template error, no Prometheus)
    reason: str
    recheck_in: float | None = None  # seconds until the next measurement is due
    status: AnalysisStatus | None = None

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    @property
    def failed(self) -> bool:
        return self.verdict is Verdict.FAIL


@dataclass
class _Run:
    """One canary group's analysis within one deployment."""

    start: float
    samples: dict[str, list[Sample]] = field(default_factory=dict)  # by qualified check name
    resumed: set[str] = field(default_factory=set)  # checks whose history was read (or not needed)
    history_missed: set[str] = field(default_factory=set)  # said once: history unavailable


class CanaryAnalysis:
    """Runs the analyses of the deployments the daemon follows."""

    def __init__(
        self,
        config: PrometheusConfig | None,
        *,
        on_measurement: Callable[[JobKey, str, str, float | None], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._client = PrometheusClient(config) if config is not None else None
        self._on_measurement = on_measurement
        self._clock = clock
        self._runs: dict[tuple[str, str], _Run] = {}  # (deployment ID, group)
        self._said: dict[JobKey, str] = {}

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def forget(self, key: JobKey, deployment_id: str | None = None) -> None:
        self._said.pop(key, None)
        if deployment_id is not None:
            for run_key in [k for k in self._runs if k[0] == deployment_id]:
                del self._runs[run_key]

    async def gate(
        self,
        key: JobKey,
        deployment: Deployment,
        desired: DesiredJob,
        *,
        catalog: AnalysisCatalog,
        allocations: AllocationsReader,
        prefix: str = "gitops.",
    ) -> Gate | None:
        """The analysis verdict of ``deployment``'s canaries; ``None`` when the job has none."""
        wanted = group_analyses(desired.job, prefix=prefix)
        groups = {
            g.name: g for g in deployment.groups if g.awaiting_promotion and g.name in wanted
        }
        if not groups:
            return None
        checks: dict[str, list[Check]] = {}
        problems: list[str] = []
        for group in groups:
            templates, missing = catalog.resolve(wanted[group])
            problems += missing
            checks[group] = [c for t in templates for c in t.checks]
        if problems:
            return self._say(key, Gate(None, "analysis cannot run: " + "; ".join(dict.fromkeys(problems))))
        if self._client is None:
            return self._say(key, Gate(None, "analysis cannot run: no --prometheus-url; canaries "
                                             "that opt into analysis are never promoted without it"))
        dep_id = deployment.id
        now = self._clock()
        starts = await self._starts(key, dep_id, groups, allocations, now=now)
        statuses = []
        next_due: list[float] = []
        for group, group_checks in checks.items():
            run = self._runs.setdefault((dep_id, group), _Run(start=starts[group]))
            values = PlaceholderValues(
                job=key[1], namespace=key[0], group=group, deployment_id=dep_id,
                version=deployment.job_version or 0,
                canary_alloc_ids=groups[group].placed_canaries,
            )  # fmt: skip
            for check in group_checks:
                samples = await self._measure(key, check, run, values, now=now)
                status = evaluate_check(check, samples, start=run.start)
                statuses.append(status)
                if status.verdict not in (Verdict.PASS, Verdict.FAIL):
                    following = due_slot(check, start=run.start, now=now) + 1
                    next_due.append(slot_time(check, start=run.start, slot=following) - now)
        combined = combine(statuses)
        recheck = max(0.0, min(next_due)) if next_due else None
        return self._say(key, Gate(combined.verdict, combined.reason, recheck, combined))

    async def _starts(
        self, key: JobKey, dep_id: str, groups: Mapping[str, DeploymentGroup],
        allocations: AllocationsReader, *, now: float,
    ) -> dict[str, float]:  # fmt: skip
        """When each group's last canary turned healthy (Nomad's own timestamps)."""
        known = {g: self._runs[(dep_id, g)].start for g in groups if (dep_id, g) in self._runs}
        if len(known) == len(groups):
            return known
        stubs = await allocations(dep_id, namespace=key[0])
        for group, tg in groups.items():
            if group in known:
                continue
            canaries = set(tg.placed_canaries)
            times = [
                unix_time((a.get("DeploymentStatus") or {}).get("Timestamp"))
                for a in stubs if a.get("ID") in canaries
            ]  # fmt: skip
            found = [t for t in times if t is not None]
            known[group] = max(found) if found and len(found) == len(times) else now
        return known

    async def _measure(
        self, key: JobKey, check: Check, run: _Run, values: PlaceholderValues, *, now: float
    ) -> list[Sample]:
        """The check's samples, with the latest due measurement taken if it was not yet."""
        assert self._client is not None
        name = check.qualified_name
        query = render_query(check.query, values)
        samples = run.samples.setdefault(name, [])
        due = due_slot(check, start=run.start, now=now)
        if name not in run.resumed:
            run.resumed.add(name)
            if due >= 2:
                # A restart (or a first look at a running analysis): Prometheus' data over
                # the deployment's lifetime, not this process's memory.
                try:
                    points = await self._client.query_range(
                        query, start=slot_time(check, start=run.start, slot=1),
                        end=slot_time(check, start=run.start, slot=due - 1),
                        step=check.interval_s,
                    )  # fmt: skip
                    # Slots this process measured itself (failed queries while Prometheus
                    # was down) stay inconclusive: the range query's lookback would fill
                    # them with the last value from before the outage.
                    own = {slot_of(check, start=run.start, at=s.at) for s in samples}
                    samples += [h for h in range_samples(
                        points, check=check, start=run.start,
                        end=slot_time(check, start=run.start, slot=due - 1),
                    ) if slot_of(check, start=run.start, at=h.at) not in own]  # fmt: skip
                except PrometheusError as exc:
                    if isinstance(exc, PrometheusUnavailableError):
                        # Prometheus down: read the history when it is back, or the
                        # analysis would start again from zero.
                        run.resumed.discard(name)
                    if name not in run.history_missed:
                        run.history_missed.add(name)
                        log.warning("analysis history unavailable",
                                    extra=_fields(key, check=name, error=str(exc)))
        measured = {slot_of(check, start=run.start, at=s.at) for s in samples}
        if due >= 1 and due not in measured:
            at = slot_time(check, start=run.start, slot=due)
            try:
                sample = Sample(at=at, values=await self._client.query(query, at=at))
            except PrometheusError as exc:
                sample = Sample(at=at, error=str(exc))
            samples.append(sample)
            m = measure(check, sample, slot=due)
            value = m.value if m.value is not None and math.isfinite(m.value) else None
            self._on_measurement(key, name, m.result.value, value)
            log.info("analysis measurement", extra=_fields(
                key, check=name, result=m.result.value, value=m.describe(),
                wanted=check.success.describe()))  # fmt: skip
        return samples

    def _say(self, key: JobKey, gate: Gate) -> Gate:
        """Log the analysis state when it changes (per-check summaries with it)."""
        summary = gate.reason if gate.status is None else "; ".join(c.summary() for c in gate.status.checks)
        if self._said.get(key) != summary:
            self._said[key] = summary
            level = logging.WARNING if gate.verdict in (None, Verdict.FAIL) else logging.INFO
            log.log(level, "canary analysis", extra=_fields(
                key, verdict=gate.verdict.value if gate.verdict else "blocked",
                reason=gate.reason, checks=summary))  # fmt: skip
        return gate


def _fields(key: JobKey, **extra: Any) -> dict[str, Any]:
    return {"fields": {"nomad_namespace": key[0], "nomad_job": key[1], **extra}}
