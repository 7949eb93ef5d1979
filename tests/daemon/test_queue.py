"""The per-key work queue: one worker per key, keys in parallel, per-key backoff."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Mapping

import pytest

from reconciler.daemon.queue import Outcome, QueueSettings, Result, WorkQueue, outcome_of
from reconciler.errors import NomadJobRejectedError, NomadUnavailableError

ZERO = QueueSettings(backoffs=(0.0,), jitter=0.0, max_workers=8)


async def _wait_for(predicate, *, timeout: float = 5.0) -> None:
    """Poll a condition with a deadline (bounded; the condition is the synchronisation)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_keys_due_together_form_one_batch() -> None:
    batches: list[frozenset[str]] = []

    async def handler(keys: frozenset[str]) -> None:
        batches.append(keys)

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    for i in range(50):
        queue.submit(f"job{i}")
        queue.submit(f"job{i}")  # duplicates coalesce
    await asyncio.wait_for(queue.join(), 5)
    assert batches == [frozenset(f"job{i}" for i in range(50))]
    await queue.close(timeout=1)


async def test_one_worker_per_key_and_triggers_during_a_run_coalesce() -> None:
    release = asyncio.Event()
    active: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    runs: Counter[str] = Counter()

    async def handler(keys: frozenset[str]) -> None:
        for k in keys:
            active[k] += 1
            peak[k] = max(peak[k], active[k])
            runs[k] += 1
        await release.wait()
        for k in keys:
            active[k] -= 1

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    queue.submit("a")
    await _wait_for(lambda: runs["a"] == 1)
    for _ in range(10):  # ten triggers during the run → exactly one follow-up run
        queue.submit("a")
    release.set()
    await asyncio.wait_for(queue.join(), 5)
    assert peak["a"] == 1
    assert runs["a"] == 2
    await queue.close(timeout=1)


async def test_other_keys_run_in_parallel_with_a_running_key() -> None:
    slow_started = asyncio.Event()
    release_slow = asyncio.Event()
    done: list[str] = []

    async def handler(keys: frozenset[str]) -> None:
        if "slow" in keys:
            slow_started.set()
            await release_slow.wait()
        done.extend(sorted(keys))

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    queue.submit("slow")
    await asyncio.wait_for(slow_started.wait(), 5)
    queue.submit("b")
    queue.submit("c")
    await _wait_for(lambda: done == ["b", "c"])  # finished while "slow" still runs
    assert queue.running == {"slow"}
    release_slow.set()
    await asyncio.wait_for(queue.join(), 5)
    assert done == ["b", "c", "slow"]
    await queue.close(timeout=1)


async def test_max_workers_caps_concurrent_batches() -> None:
    active = 0
    peak = 0
    gate = asyncio.Event()

    async def handler(keys: frozenset[int]) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await gate.wait()
        active -= 1

    queue: WorkQueue[int] = WorkQueue(
        handler, settings=QueueSettings(backoffs=(0.0,), jitter=0.0, max_workers=2, max_batch=1)
    )
    queue.submit_many(range(6))
    await _wait_for(lambda: active == 2)
    gate.set()
    await asyncio.wait_for(queue.join(), 5)
    assert peak == 2
    assert queue.batches == 6
    await queue.close(timeout=1)


async def test_failing_key_backs_off_alone_and_does_not_stall_others() -> None:
    calls: Counter[str] = Counter()

    async def handler(keys: frozenset[str]) -> Mapping[str, Result]:
        calls.update(keys)
        return {"bad": NomadUnavailableError("connection refused")} if "bad" in keys else {}

    # A long backoff: the bad key sits in backoff while the others keep being handled.
    queue: WorkQueue[str] = WorkQueue(
        handler, settings=QueueSettings(backoffs=(60.0,), jitter=0.0)
    )
    queue.submit("bad")
    queue.submit("good")
    await asyncio.wait_for(queue.join(), 5)
    assert calls == {"bad": 1, "good": 1}
    assert queue.backing_off == {"bad"}
    status = queue.status("bad")
    assert status is not None and status.attempts == 1
    assert "connection refused" in str(status.last_error)
    assert queue.status("good").last_outcome is Outcome.DONE  # type: ignore[union-attr]
    # More work for the good key meanwhile: not blocked.
    queue.submit("good")
    await asyncio.wait_for(queue.join(), 5)
    assert calls["good"] == 2
    # An ordinary trigger waits for the backoff; an urgent one (file changed) runs now.
    queue.submit("bad")
    await asyncio.wait_for(queue.join(), 5)
    assert calls["bad"] == 1
    queue.submit("bad", urgent=True)
    await _wait_for(lambda: calls["bad"] == 2)
    await queue.close(timeout=1)


async def test_retryable_errors_retry_until_success() -> None:
    attempts = 0

    async def handler(keys: frozenset[str]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 4:
            raise NomadUnavailableError("503")  # the whole batch fails: Nomad is down

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    queue.submit_many(["a", "b"])
    await asyncio.wait_for(queue.join(include_backoff=True), 5)
    # a and b failed together and were retried together (due in the same tick).
    assert attempts == 4
    for key in ("a", "b"):
        status = queue.status(key)
        assert status is not None and status.attempts == 0 and status.last_outcome is Outcome.DONE
    await queue.close(timeout=1)


async def test_rejected_job_is_not_retried() -> None:
    calls = 0
    outcomes: list[tuple[str, Outcome]] = []

    async def handler(keys: frozenset[str]) -> Mapping[str, Result]:
        nonlocal calls
        calls += 1
        return {"k": NomadJobRejectedError("1 error occurred: bad driver", status=500)}

    queue: WorkQueue[str] = WorkQueue(
        handler, settings=ZERO, on_outcome=lambda k, o, e: outcomes.append((k, o))
    )
    queue.submit("k")
    await asyncio.wait_for(queue.join(include_backoff=True), 5)
    assert calls == 1
    assert outcomes == [("k", Outcome.FAILED)]
    assert queue.backing_off == set()
    await queue.close(timeout=1)


async def test_unexpected_exception_is_retried_not_fatal() -> None:
    calls = 0

    async def handler(keys: frozenset[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("bug")

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    queue.submit("k")
    await asyncio.wait_for(queue.join(include_backoff=True), 5)
    assert calls == 2
    await queue.close(timeout=1)


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        (None, Outcome.DONE),
        (Outcome.FAILED, Outcome.FAILED),
        (NomadUnavailableError("down"), Outcome.RETRY),
        (NomadJobRejectedError("bad", status=500), Outcome.FAILED),
        (RuntimeError("bug"), Outcome.RETRY),
    ],
)
def test_outcome_of(result: Result, outcome: Outcome) -> None:
    assert outcome_of(result) is outcome


@pytest.mark.parametrize(
    ("attempts", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0), (10, 4.0)]
)
async def test_backoff_schedule_repeats_last_delay(attempts: int, expected: float) -> None:
    queue: WorkQueue[str] = WorkQueue(
        lambda keys: asyncio.sleep(0), settings=QueueSettings(backoffs=(1.0, 2.0, 4.0), jitter=0.0)
    )
    assert queue.backoff_delay(attempts) == expected


async def test_backoff_jitter_stays_within_bounds() -> None:
    queue: WorkQueue[str] = WorkQueue(
        lambda keys: asyncio.sleep(0),
        settings=QueueSettings(backoffs=(10.0,), jitter=0.2),
        rng=random.Random(1),
    )
    delays = {queue.backoff_delay(1) for _ in range(200)}
    assert all(8.0 <= d <= 12.0 for d in delays)
    assert len(delays) > 100  # jitter really varies the delay


async def test_close_lets_in_flight_work_finish_and_refuses_new_work() -> None:
    started = asyncio.Event()
    finish = asyncio.Event()
    finished: list[str] = []

    async def handler(keys: frozenset[str]) -> None:
        started.set()
        await finish.wait()  # an in-flight write
        finished.extend(keys)

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    queue.submit("a")
    await asyncio.wait_for(started.wait(), 5)
    closing = asyncio.ensure_future(queue.close(timeout=5))
    await asyncio.sleep(0)
    assert not closing.done()  # close waits for the write
    finish.set()
    assert await closing is True
    assert finished == ["a"]
    queue.submit("b")
    await asyncio.wait_for(queue.join(), 5)
    assert finished == ["a"]


async def test_close_cancels_batches_that_overrun_the_timeout() -> None:
    started = asyncio.Event()

    async def handler(keys: frozenset[str]) -> None:
        started.set()
        await asyncio.Event().wait()  # never finishes

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    queue.submit("stuck")
    await asyncio.wait_for(started.wait(), 5)
    assert await queue.close(timeout=0.01) is False
    status = queue.status("stuck")
    assert status is not None and not status.running
