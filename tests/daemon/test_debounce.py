"""Debouncing bursts of file events and holding back errors of half-written files."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.daemon.debounce import Debouncer, ParseErrorGate, flush_deadline
from reconciler.model import Diagnostic, Severity


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (0.0, 0.0, 0.1),  # a single event flushes after the quiet period
        (0.0, 0.5, 0.6),  # each event pushes the flush back ...
        (0.0, 0.95, 1.0),  # ... but never past first + max_delay
        (0.0, 3.0, 1.0),
    ],
)
def test_flush_deadline(first: float, last: float, expected: float) -> None:
    assert flush_deadline(first, last, quiet=0.1, max_delay=1.0) == pytest.approx(expected)


async def test_burst_of_events_flushes_once_with_every_path() -> None:
    flushes: list[frozenset[str]] = []
    flushed = asyncio.Event()

    def flush(paths: frozenset[str]) -> None:
        flushes.append(paths)
        flushed.set()

    debouncer = Debouncer(flush, quiet=0.05, max_delay=5.0)
    for i in range(50):
        debouncer.add([f"job{i}.nomad"])
        debouncer.add([f"job{i}.nomad"])  # duplicates merge
    assert flushes == []  # nothing before the burst goes quiet
    await asyncio.wait_for(flushed.wait(), 5)
    assert flushes == [frozenset(f"job{i}.nomad" for i in range(50))]
    assert debouncer.pending == frozenset()


async def test_separate_bursts_flush_separately() -> None:
    flushes: list[frozenset[str]] = []
    got = asyncio.Queue[frozenset[str]]()

    def flush(paths: frozenset[str]) -> None:
        flushes.append(paths)
        got.put_nowait(paths)

    debouncer = Debouncer(flush, quiet=0.01, max_delay=1.0)
    debouncer.add(["a.nomad"])
    assert await asyncio.wait_for(got.get(), 5) == {"a.nomad"}
    debouncer.add(["b.nomad"])
    assert await asyncio.wait_for(got.get(), 5) == {"b.nomad"}
    assert len(flushes) == 2


async def test_cancel_drops_the_pending_burst() -> None:
    flushes: list[frozenset[str]] = []
    got = asyncio.Event()

    def flush(paths: frozenset[str]) -> None:
        flushes.append(paths)
        got.set()

    debouncer = Debouncer(flush, quiet=0.01, max_delay=0.02)
    debouncer.add(["a.nomad"])
    debouncer.cancel()
    assert debouncer.pending == frozenset()
    debouncer.add(["b.nomad"])  # a later burst: its flush comes after a's deadline
    await asyncio.wait_for(got.wait(), 5)
    assert flushes == [frozenset({"b.nomad"})]


def _err(path: str, message: str, line: int | None = 1) -> Diagnostic:
    return Diagnostic(path=path, message=message, line=line)


def test_error_is_held_back_until_it_persists() -> None:
    gate = ParseErrorGate(settle=1.0)
    report, recheck = gate.filter([_err("web.nomad", "Unclosed configuration block")], now=10.0)
    assert report == ()
    assert recheck == 11.0
    report, recheck = gate.filter([_err("web.nomad", "Unclosed configuration block")], now=11.0)
    assert [d.path for d in report] == ["web.nomad"]
    assert recheck is None


def test_file_that_settles_is_never_reported() -> None:
    gate = ParseErrorGate(settle=1.0)
    report, _ = gate.filter([_err("web.nomad", "Unclosed configuration block")], now=0.0)
    assert report == ()
    report, recheck = gate.filter([], now=0.5)  # the writer finished: file loads now
    assert report == () and recheck is None
    assert gate.unsettled_paths(now=0.5) == frozenset()


def test_changing_error_restarts_the_clock() -> None:
    gate = ParseErrorGate(settle=1.0)
    gate.filter([_err("web.nomad", "error A", line=3)], now=0.0)
    report, recheck = gate.filter([_err("web.nomad", "error B", line=9)], now=0.9)
    assert report == () and recheck == pytest.approx(1.9)
    assert gate.unsettled_paths(now=1.0) == {"web.nomad"}


def test_warnings_pass_through_the_gate_untouched() -> None:
    gate = ParseErrorGate(settle=0.0)
    warning = Diagnostic(path="a.nomad", message="w", severity=Severity.WARNING)
    report, _ = gate.filter([warning, _err("b.nomad", "broken")], now=0.0)
    assert [d.path for d in report] == ["b.nomad"]
