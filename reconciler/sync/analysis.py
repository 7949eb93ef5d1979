"""Canary analysis for the one-shot commands: ``sync --wait`` runs it, ``status`` recomputes it.

The I/O around ``core.analysis`` (which judges) and ``core.analysis_templates``
(which renders the queries): which canary groups of a deployment opt in, when
each group's analysis started (its last canary turned healthy, from Nomad's
allocation timestamps), and the Prometheus queries.  Which queries, and when,
is ``core.analysis.plan_queries``: at most one instant query per check per
interval, plus one range query when a run first looks at an analysis that is
already under way.  ``recompute`` answers from one range query per check and
keeps nothing, so ``status`` shows what Prometheus' data says, not memory.

``background`` runs the checks of groups without canaries while their rolling
update runs (``core.analysis_background``: which groups, which allocations,
from when).  The daemon uses this runner too (``daemon/analysis_log.py`` adds
its logs and metrics).

It never promotes nor fails anything: ``gate`` and ``background`` say what the
verdict means and the caller (``sync.rollout``, the daemon's rollouts) acts on it.  ``bench/bench_analysis_queries.py``
measures the query budget of this runner.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.core.analysis import (
    AnalysisStatus,
    CheckStatus,
    Measurement,
    Sample,
    Verdict,
    canary_start,
    combine,
    due_slot,
    evaluate_check,
    history_window,
    measure,
    plan_queries,
    range_samples,
    slot_of,
    slot_time,
    unix_time,
)
from reconciler.core.analysis_background import background_groups, group_allocations
from reconciler.core.analysis_templates import (
    AnalysisCatalog,
    Check,
    PlaceholderValues,
    group_analyses,
    render_query,
)
from reconciler.deployment import Deployment, DeploymentGroup
from reconciler.errors import PrometheusError, PrometheusUnavailableError
from reconciler.model import META_PREFIX, ApiJob, JobKey
from reconciler.prometheus import PrometheusClient


class AllocationsReader(Protocol):
    """``reader(deployment_id, *, namespace)``: the deployment's allocation stubs (as
    ``NomadClient.deployment_allocations``)."""

    def __call__(self, deployment_id: str, /, *, namespace: str) -> Awaitable[Sequence[Mapping[str, Any]]]: ...
MeasurementHook = Callable[[JobKey, Check, Measurement], None]
HistoryErrorHook = Callable[[JobKey, Check, PrometheusError], None]
"""Told once per check and run when the history's range query failed."""

NO_PROMETHEUS = (
    "analysis cannot run: no --prometheus-url; canaries that opt into analysis are never "
    "promoted without it"
)


@dataclass(frozen=True)
class Gate:
    """What the analysis says about a deployment's canaries now."""

    verdict: Verdict | None  # None: it cannot run (a template error, no Prometheus)
    reason: str
    recheck_in: float | None = None  # seconds until the next measurement is due
    status: AnalysisStatus | None = None
    checks: tuple[Check, ...] = ()  # what would be measured (shown when it cannot run)

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    @property
    def failed(self) -> bool:
        return self.verdict is Verdict.FAIL

    def summaries(self) -> list[str]:
        """One line per check: verdict, last value, condition, passes and failures."""
        if self.status is not None:
            return [c.summary() for c in self.status.checks]
        return [f"{c.qualified_name}: not evaluated (wanted {c.success.describe()})" for c in self.checks]


@dataclass
class _Run:
    """One group's analysis within one deployment."""

    start: float
    samples: dict[str, list[Sample]] = field(default_factory=dict)  # by qualified check name
    resumed: set[str] = field(default_factory=set)  # checks whose history was read (or not needed)
    history_missed: set[str] = field(default_factory=set)  # told once: history unavailable
    alloc_ids: tuple[str, ...] = ()  # background: the new allocations last read

    def wants_query(self, checks: Sequence[Check], *, now: float) -> bool:
        """Some undecided check has a query due (``plan_queries``)."""
        for check in checks:
            name = check.qualified_name
            samples = self.samples.get(name, [])
            if evaluate_check(check, samples, start=self.start).verdict in (Verdict.PASS, Verdict.FAIL):
                continue
            measured = {slot_of(check, start=self.start, at=s.at) for s in samples}
            plan = plan_queries(check, start=self.start, now=now, measured=measured, resumed=name in self.resumed)
            if plan.history is not None or plan.instant is not None:
                return True
        return False


@dataclass(frozen=True)
class _Group:
    group: DeploymentGroup
    checks: tuple[Check, ...]


class AnalysisRunner:
    """Runs (``gate``) or recomputes (``recompute``) the analyses of canary deployments."""

    def __init__(
        self,
        client: PrometheusClient | None,
        catalog: AnalysisCatalog,
        *,
        on_measurement: MeasurementHook | None = None,
        on_history_error: HistoryErrorHook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.catalog = catalog  # the daemon replaces it when the checkout's templates change
        self._on_measurement = on_measurement
        self._on_history_error = on_history_error
        self._clock = clock
        self._runs: dict[tuple[str, str], _Run] = {}  # (deployment ID, group)

    def forget(self, deployment_id: str) -> None:
        """The deployment is over: drop what its analyses measured."""
        for run_key in [k for k in self._runs if k[0] == deployment_id]:
            del self._runs[run_key]

    def opts_in(self, job: ApiJob) -> bool:
        """Some group of ``job`` (as submitted) names analysis templates in its Meta."""
        return bool(group_analyses(job, prefix=META_PREFIX))

    def now(self) -> float:
        """The runner's clock (Unix time)."""
        return self._clock()

    async def gate(
        self, key: JobKey, deployment: Deployment, job: ApiJob, *, allocations: AllocationsReader
    ) -> Gate | None:
        """The verdict on ``deployment``'s canaries, measuring what is due; ``None`` when none
        of its unpromoted canary groups opts in.  Call it once the canaries are healthy."""
        groups, blocked = self._resolve(deployment, job)
        if blocked is not None or not groups:
            return blocked
        assert self.client is not None
        now = self._clock()
        starts = await self._starts(key, deployment, groups, allocations, now=now)
        runs = [
            (self._runs.setdefault((deployment.id, name), _Run(start=starts[name])),
             _values(key, deployment, wanted.group), wanted.checks)
            for name, wanted in groups.items()
        ]  # fmt: skip
        return await self._judge(key, runs, now=now)

    async def background(
        self, key: JobKey, deployment: Deployment, job: ApiJob, *, allocations: AllocationsReader
    ) -> Gate | None:
        """The verdict of the background checks of ``deployment``'s groups without canaries
        (``core.analysis_background``), measuring what is due; ``None`` when none opts in.
        It never gates anything: the caller fails the deployment on a breach, else waits
        for Nomad.  A group is measured from its first healthy new allocation on."""
        wanted = background_groups(job, deployment, prefix=META_PREFIX)
        if not wanted:
            return None
        groups, blocked = self._resolve_groups(deployment, wanted)
        if blocked is not None:
            return blocked
        now = self._clock()
        known = {name: self._runs.get((deployment.id, name)) for name in groups}
        # Nomad is asked for the allocations only when they matter: a group not started
        # yet, or a query due (the batches placed since then join it).
        read = any(r is None or r.wants_query(groups[n].checks, now=now) for n, r in known.items())
        stubs = await allocations(deployment.id, namespace=key[0]) if read else ()
        runs, waiting = [], []
        for name, group in groups.items():
            run = known[name]
            if read:
                found = group_allocations(deployment, group.group, stubs)
                if run is None and found.first_healthy_at is not None:
                    run = self._runs[(deployment.id, name)] = _Run(start=found.first_healthy_at)
                if run is not None:
                    run.alloc_ids = found.alloc_ids or run.alloc_ids
            if run is None:
                waiting += [evaluate_check(c, (), start=now) for c in group.checks]  # pending
                continue
            runs.append((run, _values(key, deployment, group.group, alloc_ids=run.alloc_ids), group.checks))
        return await self._judge(key, runs, now=now, waiting=waiting)

    async def _judge(
        self, key: JobKey, runs: Sequence[tuple[_Run, PlaceholderValues, tuple[Check, ...]]], *,
        now: float, waiting: Sequence[CheckStatus] = (),
    ) -> Gate:  # fmt: skip
        """Measure what is due for each run's checks and combine the verdicts."""
        statuses, next_due = list(waiting), []
        for run, values, checks in runs:
            for check in checks:
                known = run.samples.get(check.qualified_name)
                status = evaluate_check(check, known or (), start=run.start)
                if known is None or status.verdict not in (Verdict.PASS, Verdict.FAIL):
                    # a decided check is never measured again: a verdict never flips
                    samples = await self._measure(key, check, run, values, now=now)
                    status = evaluate_check(check, samples, start=run.start)
                statuses.append(status)
                if status.verdict not in (Verdict.PASS, Verdict.FAIL):
                    following = due_slot(check, start=run.start, now=now) + 1
                    next_due.append(slot_time(check, start=run.start, slot=following) - now)
        combined = combine(statuses)
        recheck = max(0.0, min(next_due)) if next_due else None
        return Gate(combined.verdict, combined.reason, recheck, combined)

    async def recompute(
        self, key: JobKey, deployment: Deployment, job: ApiJob, *, allocations: AllocationsReader,
        until: float | None = None,
    ) -> Gate | None:
        """The verdict so far from Prometheus' data alone: one range query per check over
        every measurement due.  Keeps nothing; ``None`` when the job has no analysis here.

        ``until``: the deployment ended then (Unix time; a failed deployment's analysis
        window closes when Nomad failed it), so only the measurements due by then count."""
        groups, blocked = self._resolve(deployment, job)
        if blocked is not None or not groups:
            return blocked
        assert self.client is not None
        waiting = [n for n, g in groups.items() if not g.group.canaries_healthy]
        if waiting:
            checks = tuple(c for g in groups.values() for c in g.checks)
            said = ("analysis waits for healthy canaries: " if until is None
                    else "analysis never started (canaries not healthy when the deployment ended): ")
            return Gate(Verdict.PENDING, said + ", ".join(waiting), checks=checks)  # fmt: skip
        now = self._clock() if until is None else until
        starts = await self._starts(key, deployment, groups, allocations, now=now)
        statuses = []
        for name, wanted in groups.items():
            start = starts[name]
            values = _values(key, deployment, wanted.group)
            for check in wanted.checks:
                samples: list[Sample] = []
                window = history_window(check, start=start, now=now)
                if window is not None:
                    query = render_query(check.query, values)
                    try:
                        points = await self.client.query_range(
                            query, start=window[0], end=window[1], step=check.interval_s)
                        samples = range_samples(points, check=check, start=start, end=window[1])
                    except PrometheusError as exc:
                        samples = [Sample(at=window[1], error=str(exc))]
                statuses.append(evaluate_check(check, samples, start=start))
        combined = combine(statuses)
        return Gate(combined.verdict, combined.reason, None, combined)

    def _resolve(self, deployment: Deployment, job: ApiJob) -> tuple[dict[str, _Group], Gate | None]:
        """The unpromoted canary groups that opt in, with their checks; or why it cannot run."""
        wanted = group_analyses(job, prefix=META_PREFIX)
        pending = {g.name: wanted[g.name] for g in deployment.groups if g.awaiting_promotion and g.name in wanted}
        return self._resolve_groups(deployment, pending)

    def _resolve_groups(
        self, deployment: Deployment, wanted: Mapping[str, tuple[str, ...]]
    ) -> tuple[dict[str, _Group], Gate | None]:
        """``wanted`` (group → template names) with their checks; or why it cannot run."""
        groups: dict[str, _Group] = {}
        problems: list[str] = []
        for group in deployment.groups:
            if group.name not in wanted:
                continue
            templates, missing = self.catalog.resolve(wanted[group.name])
            problems += missing
            groups[group.name] = _Group(group, tuple(c for t in templates for c in t.checks))
        checks = tuple(c for g in groups.values() for c in g.checks)
        if problems:
            reason = "analysis cannot run: " + "; ".join(dict.fromkeys(problems))
            return groups, Gate(None, reason, checks=checks)
        if groups and self.client is None:
            return groups, Gate(None, NO_PROMETHEUS, checks=checks)
        return groups, None

    async def _starts(
        self, key: JobKey, deployment: Deployment, groups: Mapping[str, _Group],
        allocations: AllocationsReader, *, now: float,
    ) -> dict[str, float]:  # fmt: skip
        """When each group's last canary turned healthy (Nomad's own timestamps)."""
        known = {g: self._runs[(deployment.id, g)].start for g in groups if (deployment.id, g) in self._runs}
        if len(known) == len(groups):
            return known
        stubs = await allocations(deployment.id, namespace=key[0])
        healthy_at = {
            str(a.get("ID")): unix_time((a.get("DeploymentStatus") or {}).get("Timestamp")) for a in stubs
        }
        for name, wanted in groups.items():
            if name not in known:
                canaries = wanted.group.placed_canaries
                known[name] = canary_start([healthy_at.get(c) for c in canaries], now=now)
        return known

    async def _measure(
        self, key: JobKey, check: Check, run: _Run, values: PlaceholderValues, *, now: float
    ) -> list[Sample]:
        """The check's samples, with what ``plan_queries`` says is due asked for."""
        assert self.client is not None
        name = check.qualified_name
        samples = run.samples.setdefault(name, [])
        measured = {slot_of(check, start=run.start, at=s.at) for s in samples}
        plan = plan_queries(check, start=run.start, now=now, measured=measured, resumed=name in run.resumed)
        run.resumed.add(name)
        query = render_query(check.query, values)
        if plan.history is not None:
            first, last = plan.history
            try:
                points = await self.client.query_range(query, start=first, end=last, step=check.interval_s)
                # Slots this process measured itself (failed queries while Prometheus was
                # down) stay as they were: the range query's lookback would fill them with
                # the last value from before the outage.
                samples += [h for h in range_samples(points, check=check, start=run.start, end=last)
                            if slot_of(check, start=run.start, at=h.at) not in measured]  # fmt: skip
            except PrometheusError as exc:
                if isinstance(exc, PrometheusUnavailableError):
                    # Prometheus down: read the history when it is back, or a restarted
                    # process would start the analysis again from zero.
                    run.resumed.discard(name)
                if name not in run.history_missed:
                    run.history_missed.add(name)
                    if self._on_history_error is not None:
                        self._on_history_error(key, check, exc)
        if plan.instant is not None:
            try:
                sample = Sample(at=plan.instant, values=await self.client.query(query, at=plan.instant))
            except PrometheusError as exc:
                sample = Sample(at=plan.instant, error=str(exc))
            samples.append(sample)
            if self._on_measurement is not None:
                slot = due_slot(check, start=run.start, now=now)
                self._on_measurement(key, check, measure(check, sample, slot=slot))
        return samples


def _values(
    key: JobKey, deployment: Deployment, group: DeploymentGroup, *, alloc_ids: tuple[str, ...] | None = None
) -> PlaceholderValues:
    """A group's placeholders: the allocations analysed are its canaries unless given."""
    return PlaceholderValues(
        job=key[1], namespace=key[0], group=group.name, deployment_id=deployment.id,
        version=deployment.job_version or 0,
        canary_alloc_ids=group.placed_canaries if alloc_ids is None else alloc_ids,
    )  # fmt: skip


def finite(value: float | None) -> float | None:
    """A measured value fit for JSON (NaN and infinities become ``None``)."""
    return value if value is not None and math.isfinite(value) else None
