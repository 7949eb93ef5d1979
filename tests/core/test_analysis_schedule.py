"""When canary analysis starts and which Prometheus queries it makes: the pure scheduling
(``plan_queries``, ``history_window``, ``canary_start``, ``unix_time``) the runner of
``sync --wait`` and ``status`` follows."""

from __future__ import annotations

import pytest

from reconciler.core.analysis import (
    canary_start,
    history_window,
    plan_queries,
    slot_of,
    slot_time,
    unix_time,
)
from reconciler.core.analysis_templates import Check, parse_condition

START = 1_700_000_000.0
CHECK = Check(template="http", name="error-rate", query="q", success=parse_condition("< 0.01"),
              interval_s=30.0, count=3)  # fmt: skip


def test_nothing_is_asked_before_the_first_interval_has_passed() -> None:
    plan = plan_queries(CHECK, start=START, now=START + 29.0, measured=set(), resumed=False)
    assert (plan.history, plan.instant) == (None, None)


def test_a_fresh_run_asks_one_instant_query_at_the_grid_time_then_nothing_until_the_next() -> None:
    first = plan_queries(CHECK, start=START, now=START + 31.0, measured=set(), resumed=False)
    assert (first.history, first.instant) == (None, START + 30.0)
    again = plan_queries(CHECK, start=START, now=START + 45.0, measured={1}, resumed=True)
    assert (again.history, again.instant) == (None, None)
    second = plan_queries(CHECK, start=START, now=START + 60.0, measured={1}, resumed=True)
    assert second.instant == START + 60.0


def test_a_late_first_look_reads_the_history_once_with_a_range_query() -> None:
    plan = plan_queries(CHECK, start=START, now=START + 100.0, measured=set(), resumed=False)
    assert plan.history == (START + 30.0, START + 60.0)  # slots 1 and 2
    assert plan.instant == START + 90.0  # slot 3, measured now
    later = plan_queries(CHECK, start=START, now=START + 100.0, measured={1, 2, 3}, resumed=True)
    assert (later.history, later.instant) == (None, None)


def test_whatever_the_call_rate_a_check_costs_one_query_per_interval() -> None:
    """The query budget: called every second for 10 intervals, 10 instant queries."""
    measured: set[int] = set()
    queries = 0
    for second in range(0, 301):
        plan = plan_queries(CHECK, start=START, now=START + second, measured=measured,
                            resumed=True)  # fmt: skip
        if plan.instant is not None:
            queries += 1
            measured.add(slot_of(CHECK, start=START, at=plan.instant))
        assert plan.history is None
    assert queries == 10


def test_the_history_window_covers_every_measurement_due() -> None:
    assert history_window(CHECK, start=START, now=START + 10.0) is None
    assert history_window(CHECK, start=START, now=START + 95.0) == (START + 30.0, START + 90.0)
    assert slot_time(CHECK, start=START, slot=3) == START + 90.0


def test_the_analysis_starts_when_the_last_canary_turned_healthy() -> None:
    assert canary_start([START + 5.0, START + 9.0], now=START + 60.0) == START + 9.0


@pytest.mark.parametrize("times", [[START + 5.0, None], []], ids=["one-unknown", "none"])
def test_an_unknown_health_time_starts_the_analysis_now(times: list[float | None]) -> None:
    assert canary_start(times, now=START + 60.0) == START + 60.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20.123456789Z", 1_700_000_000.123456),  # Nomad's nanoseconds
        ("2023-11-14T23:13:20.5+01:00", 1_700_000_000.5),
        ("0001-01-01T00:00:00Z", None),  # Go's zero time: never healthy
        ("yesterday", None),
        (None, None),
    ],
)
def test_nomad_timestamps(text: object, expected: float | None) -> None:
    got = unix_time(text)
    assert got == pytest.approx(expected) if expected is not None else got is None
