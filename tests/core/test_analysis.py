"""The analysis state machine: query results over time → pending / pass / fail / inconclusive.

Pure tables: a check, the start (canaries healthy), and results on the grid
``start + k * interval``.
"""

from __future__ import annotations

import math

import pytest

from reconciler.core.analysis import (
    Result,
    Sample,
    Verdict,
    combine,
    due_slot,
    evaluate_check,
    evaluate_checks,
    range_samples,
    slot_time,
)
from reconciler.core.analysis_checks import Check, Outcome, parse_condition

START = 1_700_000_000.0


def check(
    *, success: str = "< 0.01", count: int = 3, failure_limit: int = 0, interval_s: float = 30.0,
    on_empty: Outcome = Outcome.INCONCLUSIVE, on_error: Outcome = Outcome.INCONCLUSIVE,
) -> Check:  # fmt: skip
    return Check(
        template="http", name="error-rate", query="q", success=parse_condition(success),
        interval_s=interval_s, count=count, failure_limit=failure_limit,
        on_empty=on_empty, on_error=on_error,
    )  # fmt: skip


def at(slot: int, c: Check | None = None) -> float:
    return START + slot * (c or check()).interval_s


# Shorthand for a slot's result: a number, None (no series), "err" (the query failed),
# or a tuple of numbers (several series).
Cell = float | None | str | tuple[float, ...]


def samples(cells: list[Cell], c: Check | None = None) -> list[Sample]:
    out = []
    for slot, cell in enumerate(cells, start=1):
        if cell == "err":
            out.append(Sample(at(slot, c), error="HTTP 503: unavailable"))
        elif cell is None:
            out.append(Sample(at(slot, c)))
        elif isinstance(cell, tuple):
            out.append(Sample(at(slot, c), values=cell))
        else:
            assert isinstance(cell, float | int)
            out.append(Sample(at(slot, c), values=(float(cell),)))
    return out


@pytest.mark.parametrize(
    ("cells", "kwargs", "verdict", "counts"),
    [
        ([], {}, Verdict.PENDING, (0, 0, 0)),
        ([0.001], {}, Verdict.PENDING, (1, 0, 0)),
        ([0.001, 0.002, 0.0], {}, Verdict.PASS, (3, 0, 0)),
        ([0.001, 0.5], {}, Verdict.FAIL, (1, 1, 0)),
        # a failure within the limit still counts towards the window
        ([0.5, 0.001, 0.001], {"failure_limit": 1}, Verdict.PASS, (2, 1, 0)),
        ([0.5, 0.001, 0.5], {"failure_limit": 1}, Verdict.FAIL, (1, 2, 0)),
        # inconclusive results never count towards the window: an outage delays a pass
        ([0.001, None, 0.001], {}, Verdict.PENDING, (2, 0, 1)),
        ([0.001, None, 0.001, 0.001], {}, Verdict.PASS, (3, 0, 1)),
        ([0.001, "err"], {}, Verdict.INCONCLUSIVE, (1, 0, 1)),
        (["err", "err", "err", "err"], {}, Verdict.INCONCLUSIVE, (0, 0, 4)),
        ([None], {"on_empty": Outcome.FAIL}, Verdict.FAIL, (0, 1, 0)),
        (["err"], {"on_error": Outcome.FAIL}, Verdict.FAIL, (0, 1, 0)),
        # NaN (0/0: no requests at all) is no data, not a pass
        ([math.nan], {}, Verdict.INCONCLUSIVE, (0, 0, 1)),
        # several series: one failing series fails the measurement
        ([(0.001, 0.2)], {}, Verdict.FAIL, (0, 1, 0)),
        ([(0.001, math.nan)], {"count": 1}, Verdict.PASS, (1, 0, 0)),
        # decided: later results are ignored, the verdict never flips
        ([0.001, 0.001, 0.001, 0.9, 0.9], {}, Verdict.PASS, (3, 0, 0)),
        ([0.9, 0.001, 0.001, 0.001], {}, Verdict.FAIL, (0, 1, 0)),
    ],
)  # fmt: skip
def test_verdicts(
    cells: list[Cell], kwargs: dict[str, object], verdict: Verdict, counts: tuple[int, int, int]
) -> None:
    c = check(**kwargs)  # type: ignore[arg-type]
    status = evaluate_check(c, samples(cells, c), start=START)
    assert status.verdict is verdict
    assert (status.passes, status.failures, status.inconclusive) == counts


def test_a_failure_names_the_check_the_value_and_the_condition() -> None:
    c = check(failure_limit=1)
    status = evaluate_check(c, samples([0.05, 0.001, 0.25], c), start=START)
    assert status.verdict is Verdict.FAIL
    assert status.reason == "http/error-rate = 0.25, wanted < 0.01"
    assert status.decided_at == at(3)
    assert combine([status]).reason == "analysis: http/error-rate = 0.25, wanted < 0.01"
    empty = check(on_empty=Outcome.FAIL)
    assert evaluate_check(empty, samples([None], empty), start=START).reason == (
        "http/error-rate = no data, wanted < 0.01"
    )


def test_the_summary_says_last_value_condition_and_counts() -> None:
    c = check(count=5, failure_limit=1)
    status = evaluate_check(c, samples([0.001, 0.5, None], c), start=START)
    assert status.summary() == (
        "http/error-rate: inconclusive (last no data, wanted < 0.01; 1 passed, 1 failed of 1 "
        "allowed, 1 inconclusive; window 5)"
    )


def test_pass_comes_no_sooner_than_the_window() -> None:
    c = check(count=4, interval_s=30.0)
    status = evaluate_check(c, samples([0.0] * 4, c), start=START)
    assert status.verdict is Verdict.PASS
    assert status.decided_at == START + c.window_s == START + 120.0
    # results before the first slot (the canaries were not yet healthy) are not measurements
    early = [Sample(START - 30.0, (0.0,)), Sample(START + 1.0, (0.0,))]
    assert evaluate_check(c, early, start=START).measurements == ()


def test_results_land_on_the_nearest_slot_and_a_later_one_replaces_an_earlier() -> None:
    c = check(count=2)
    status = evaluate_check(
        c,
        [Sample(at(1) + 2.0, (0.5,)), Sample(at(1) + 3.0, (0.001,)), Sample(at(2) - 4.0, (0.002,))],
        start=START,
    )
    assert [(m.slot, m.result) for m in status.measurements] == [(1, Result.PASS), (2, Result.PASS)]
    assert status.verdict is Verdict.PASS


def test_order_of_results_does_not_matter() -> None:
    c = check(count=3, failure_limit=1)
    ordered = samples([0.001, 0.5, 0.001, 0.001], c)
    assert evaluate_check(c, reversed(ordered), start=START) == evaluate_check(c, ordered, start=START)


def test_recomputed_from_a_range_query_equals_the_live_verdict() -> None:
    """A restart loses nothing: the range query's points give the same measurements."""
    c = check(count=5, failure_limit=1)
    live_cells: list[Cell] = [0.001, 0.5, None, 0.002]
    live = samples(live_cells, c)
    # what query_range(start + interval, now, step=interval) returns: missing points are absent
    points = {s.at: list(s.values) for s in live if s.values}
    now = at(4) + 10.0
    recomputed = range_samples(points, check=c, start=START, end=now)
    assert [s.at for s in recomputed] == [at(k) for k in (1, 2, 3, 4)]
    assert evaluate_check(c, recomputed, start=START) == evaluate_check(c, live, start=START)
    # and the analysis continues from there, not from zero
    resumed = evaluate_check(c, [*recomputed, Sample(at(5), (0.001,)), Sample(at(6), (0.0,))], start=START)
    assert resumed.verdict is Verdict.PASS
    assert (resumed.passes, resumed.failures) == (4, 1)


def test_due_slots() -> None:
    c = check(interval_s=30.0)
    assert due_slot(c, start=START, now=START + 29.9) == 0
    assert due_slot(c, start=START, now=START + 30.0) == 1
    assert due_slot(c, start=START, now=START + 95.0) == 3
    assert slot_time(c, start=START, slot=3) == START + 90.0


def test_combining_checks() -> None:
    a, b = check(count=1), Check(**{**check(count=2).__dict__, "name": "p99"})
    both = {a.qualified_name: samples([0.0], a), b.qualified_name: samples([0.0, 0.0], b)}
    assert evaluate_checks([a, b], both, start=START).verdict is Verdict.PASS
    assert evaluate_checks([a, b], {a.qualified_name: samples([0.0], a)}, start=START).verdict is Verdict.PENDING
    waiting = {a.qualified_name: samples([0.0], a), b.qualified_name: samples([None], b)}
    status = evaluate_checks([a, b], waiting, start=START)
    assert status.verdict is Verdict.INCONCLUSIVE
    assert status.reason == "analysis inconclusive: http/p99"
    failing = {a.qualified_name: samples([0.9], a), b.qualified_name: samples([None], b)}
    assert evaluate_checks([a, b], failing, start=START).verdict is Verdict.FAIL
    passed = evaluate_checks([a, b], both, start=START)
    assert passed.passed_at == at(2)
    assert combine([]).verdict is Verdict.PASS


def test_the_first_failing_check_is_the_one_reported() -> None:
    a, b = check(count=3), Check(**{**check(count=3).__dict__, "name": "p99"})
    status = evaluate_checks(
        [a, b], {a.qualified_name: samples([0.0, 0.9], a), b.qualified_name: samples([0.8], b)}, start=START
    )
    assert status.failed is not None and status.failed.check.name == "p99"
    assert status.reason == "analysis: http/p99 = 0.8, wanted < 0.01"
