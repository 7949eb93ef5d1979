"""The analysis state machine: from a check's query results to pass, fail, inconclusive or pending.

A purely computational module: it takes a ``Check`` (``analysis_checks``),
the time the analysis started (the group's canaries all healthy in Nomad's
eyes) and the query results seen so far, and returns a verdict.  It keeps no
state between calls, reads no clock and talks to nobody.  That is what makes
an analysis survive a restart: the daemon can recompute it from a Prometheus
range query over the deployment's lifetime (``step`` = the interval) instead
of from memory, and gets the verdict a process that never stopped would have.

Measurements sit on a grid: the k-th is due at ``start + k * interval``
(k = 1, 2, ...), so the first one looks at a full interval of canary traffic.
A result is assigned to the nearest grid slot; a slot measured twice keeps the
later result.  Walking the slots in order:

- a value that meets ``success`` is a pass; one that does not is a failure;
- an empty result (no series, or only NaN) counts as ``on_empty``, a failed
  query as ``on_error``: ``inconclusive`` by default, or a failure;
- more than ``failure_limit`` failures → **fail**, at once, naming the value;
- ``count`` conclusive measurements (passes, and failures within the limit)
  → **pass**;
- otherwise **inconclusive** when the latest measurement was inconclusive
  (nothing can be concluded now: Prometheus down, no series), else
  **pending**.

Inconclusive measurements never count towards the window, so an outage only
delays a pass: the analysis resumes when data comes back.  Once a check has
passed or failed, later results are ignored: a verdict never flips.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from reconciler.core.analysis_checks import Check, Outcome, format_value


class Verdict(enum.StrEnum):
    PENDING = "pending"
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Result(enum.StrEnum):
    """One measurement's result (``nomad_reconciler_analysis_runs_total{result}``)."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Sample:
    """What one query returned at Unix time ``at``.

    ``values``: one number per series (``()`` when the query returned no
    series); ``error``: why the query failed (then ``values`` is ignored).
    """

    at: float
    values: tuple[float, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Measurement:
    slot: int
    at: float
    result: Result
    value: float | None  # the value judged (the first failing series, else the first)
    note: str = ""  # why it is inconclusive or failed without a value: "no data", "query failed: ..."

    def describe(self) -> str:
        return format_value(self.value) if self.value is not None else self.note


@dataclass(frozen=True)
class CheckStatus:
    """A check's verdict and how it got there (for logs, ``status`` and metrics)."""

    check: Check
    verdict: Verdict
    measurements: tuple[Measurement, ...]
    decided_at: float | None  # the grid time of the measurement that decided pass or fail

    @property
    def passes(self) -> int:
        return sum(1 for m in self.measurements if m.result is Result.PASS)

    @property
    def failures(self) -> int:
        return sum(1 for m in self.measurements if m.result is Result.FAIL)

    @property
    def inconclusive(self) -> int:
        return sum(1 for m in self.measurements if m.result is Result.INCONCLUSIVE)

    @property
    def last(self) -> Measurement | None:
        return self.measurements[-1] if self.measurements else None

    @property
    def reason(self) -> str:
        """``<check> = <value>, wanted <condition>``: the hold reason of a failed analysis."""
        failing = next(
            (m for m in reversed(self.measurements) if m.result is Result.FAIL), self.last
        )
        shown = failing.describe() if failing is not None else "no measurement"
        return f"{self.check.qualified_name} = {shown}, wanted {self.check.success.describe()}"

    def summary(self) -> str:
        """One line for ``status`` and logs: verdict, last value, condition, counts."""
        last = self.last.describe() if self.last is not None else "not measured yet"
        return (
            f"{self.check.qualified_name}: {self.verdict.value} (last {last}, wanted "
            f"{self.check.success.describe()}; {self.passes} passed, {self.failures} failed "
            f"of {self.check.failure_limit} allowed, {self.inconclusive} inconclusive; "
            f"window {self.check.count})"
        )


def slot_time(check: Check, *, start: float, slot: int) -> float:
    """When measurement ``slot`` (1-based) is due."""
    return start + slot * check.interval_s


def slot_of(check: Check, *, start: float, at: float) -> int:
    """The grid slot nearest to ``at`` (0 or less: before the first measurement)."""
    return round((at - start) / check.interval_s)


def due_slot(check: Check, *, start: float, now: float) -> int:
    """The latest slot due at ``now`` (0 when none is due yet)."""
    return max(0, math.floor((now - start) / check.interval_s + 1e-9))


def measure(check: Check, sample: Sample, *, slot: int) -> Measurement:
    """Judge one query result against the check."""
    if sample.error is not None:
        return Measurement(slot, sample.at, _as(check.on_error), None, f"query failed: {sample.error}")
    values = [v for v in sample.values if not math.isnan(v)]
    if not values:
        return Measurement(slot, sample.at, _as(check.on_empty), None, "no data")
    failing = next((v for v in values if not check.success.holds(v)), None)
    if failing is not None:
        return Measurement(slot, sample.at, Result.FAIL, failing)
    return Measurement(slot, sample.at, Result.PASS, values[0])


def _as(outcome: Outcome) -> Result:
    return Result.FAIL if outcome is Outcome.FAIL else Result.INCONCLUSIVE


def evaluate_check(check: Check, samples: Iterable[Sample], *, start: float) -> CheckStatus:
    """The check's verdict from every result seen since ``start`` (any order)."""
    by_slot: dict[int, Sample] = {}
    for sample in sorted(samples, key=lambda s: s.at):
        slot = slot_of(check, start=start, at=sample.at)
        if slot >= 1:
            by_slot[slot] = sample
    measurements: list[Measurement] = []
    failures = conclusive = 0
    for slot in sorted(by_slot):
        m = measure(check, by_slot[slot], slot=slot)
        measurements.append(m)
        if m.result is Result.INCONCLUSIVE:
            continue
        conclusive += 1
        if m.result is Result.FAIL:
            failures += 1
            if failures > check.failure_limit:
                return CheckStatus(check, Verdict.FAIL, tuple(measurements), slot_time(check, start=start, slot=slot))
        if conclusive >= check.count:
            return CheckStatus(check, Verdict.PASS, tuple(measurements), slot_time(check, start=start, slot=slot))
    last = measurements[-1] if measurements else None
    verdict = Verdict.INCONCLUSIVE if last is not None and last.result is Result.INCONCLUSIVE else Verdict.PENDING
    return CheckStatus(check, verdict, tuple(measurements), None)


@dataclass(frozen=True)
class AnalysisStatus:
    """The verdict over several checks (a group's, or a deployment's)."""

    verdict: Verdict
    checks: tuple[CheckStatus, ...]

    @property
    def failed(self) -> CheckStatus | None:
        """The check that failed first (by the time it was decided)."""
        failed = [c for c in self.checks if c.verdict is Verdict.FAIL]
        return min(failed, key=lambda c: c.decided_at or 0.0) if failed else None

    @property
    def reason(self) -> str:
        """The hold reason: ``analysis: <check> = <value>, wanted <condition>``."""
        failed = self.failed
        if failed is not None:
            return "analysis: " + failed.reason
        waiting = [c.check.qualified_name for c in self.checks if c.verdict is not Verdict.PASS]
        if self.verdict is Verdict.PASS:
            return "analysis: all checks passed"
        return f"analysis {self.verdict.value}: " + ", ".join(waiting)

    @property
    def passed_at(self) -> float | None:
        if self.verdict is not Verdict.PASS:
            return None
        return max((c.decided_at or 0.0 for c in self.checks), default=None)


def combine(statuses: Sequence[CheckStatus]) -> AnalysisStatus:
    """Fail if any check failed; pass when all passed; inconclusive when any is; else pending.

    No checks at all is a pass: there is nothing to wait for.
    """
    verdicts = {s.verdict for s in statuses}
    if Verdict.FAIL in verdicts:
        verdict = Verdict.FAIL
    elif verdicts <= {Verdict.PASS}:
        verdict = Verdict.PASS
    elif Verdict.INCONCLUSIVE in verdicts:
        verdict = Verdict.INCONCLUSIVE
    else:
        verdict = Verdict.PENDING
    return AnalysisStatus(verdict, tuple(statuses))


def evaluate_checks(
    checks: Sequence[Check], samples: Mapping[str, Iterable[Sample]], *, start: float
) -> AnalysisStatus:
    """``combine`` of ``evaluate_check`` for each check (samples keyed by qualified name)."""
    return combine([evaluate_check(c, samples.get(c.qualified_name, ()), start=start) for c in checks])


def range_samples(
    points: Mapping[float, Sequence[float]], *, check: Check, start: float, end: float
) -> list[Sample]:
    """A range query's answer (timestamp → values, from ``start + interval`` to ``end``
    with ``step`` = interval) as samples, one per grid slot: a slot Prometheus
    returned nothing for is an empty result, as an instant query there would be."""
    by_slot = {slot_of(check, start=start, at=t): tuple(v) for t, v in points.items()}
    return [
        Sample(at=slot_time(check, start=start, slot=slot), values=by_slot.get(slot, ()))
        for slot in range(1, due_slot(check, start=start, now=end) + 1)
    ]


# --- when to start, and which queries to make ---------------------------------------------


def unix_time(text: object) -> float | None:
    """RFC 3339 (Nomad writes nanoseconds, and the server's zone) → Unix time; ``None`` for
    Go's zero time."""
    if not isinstance(text, str) or text.startswith("0001-"):
        return None
    trimmed = text.replace("Z", "+00:00")
    if "." in trimmed:
        head, _, rest = trimmed.partition(".")
        digits = "".join(itertools.takewhile(str.isdigit, rest))  # not the zone's digits
        zone = rest[len(digits):]
        trimmed = f"{head}.{digits[:6]}{zone}"
    try:
        return datetime.fromisoformat(trimmed).timestamp()
    except ValueError:
        return None


def canary_start(healthy_at: Sequence[float | None], *, now: float) -> float:
    """When a group's analysis starts: its last canary turned healthy.

    ``healthy_at``: each placed canary's ``DeploymentStatus.Timestamp`` (``unix_time``);
    when one is unknown (or there are none) the analysis starts ``now``, so a
    missing timestamp can only delay a verdict, never hasten it.
    """
    known = [t for t in healthy_at if t is not None]
    return max(known) if known and len(known) == len(healthy_at) else now


@dataclass(frozen=True)
class QueryPlan:
    """The Prometheus queries one check needs now (the query budget lives here).

    ``history``: a range query over the grid times (first, last) with ``step`` =
    the interval, made once per run when the analysis is first looked at late
    (a restart, or a command attaching to a running analysis); ``instant``: the
    grid time of the one due measurement not taken yet.  Everything else is
    already known, so a check costs at most one instant query per interval.
    """

    history: tuple[float, float] | None = None
    instant: float | None = None


def plan_queries(
    check: Check, *, start: float, now: float, measured: Collection[int], resumed: bool
) -> QueryPlan:
    """What to ask Prometheus for ``check`` at ``now``; ``measured``: slots already held."""
    due = due_slot(check, start=start, now=now)
    history = None
    if not resumed and due >= 2:
        history = (slot_time(check, start=start, slot=1), slot_time(check, start=start, slot=due - 1))
    instant = slot_time(check, start=start, slot=due) if due >= 1 and due not in measured else None
    return QueryPlan(history, instant)


def history_window(check: Check, *, start: float, now: float) -> tuple[float, float] | None:
    """The grid times (first, last) of every measurement due at ``now``: the one range
    query that recomputes a check from Prometheus alone (``status``); ``None`` before
    the first is due."""
    due = due_slot(check, start=start, now=now)
    if due < 1:
        return None
    return slot_time(check, start=start, slot=1), slot_time(check, start=start, slot=due)
