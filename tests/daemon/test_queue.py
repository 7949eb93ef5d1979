"""The per-key work queue: one worker per key, keys in parallel, per-key backoff."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from reconciler.daemon.queue import Outcome, QueueSettings, WorkQueue
from reconciler.errors import NomadJobRejectedError, NomadUnavailableError

ZERO = QueueSettings(backoffs=(0.0,), jitter=0.0, max_workers=8)


async def _wait_for(predicate, *, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_one_worker_per_key_and_triggers_coalesce() -> None:
    release = asyncio.Event()
    active: Counter[str] = Counter()
    max_active: Counter[str] = Counter()
    runs: Counter[str] = Counter()

    async def handler(key: str) -> None:
        active[key] += 1
        max_active[key] = max(max_active[key], active[key])
        runs[key] += 1
        await release.wait()
        active[key] -= 1

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    queue.submit("a")
    await _wait_for(lambda: runs["a"] == 1)
    for _ in range(10):  # ten triggers during the run → exactly one follow-up run
        queue.submit("a")
    release.set()
    await asyncio.wait_for(queue.join(), 5)
    assert max_active["a"] == 1
    assert runs["a"] == 2
    await queue.close(timeout=1)


async def test_keys_run_in_parallel() -> None:
    started: set[str] = set()
    all_started = asyncio.Event()
    keys = {"a", "b", "c"}

    async def handler(key: str) -> None:
        started.add(key)
        if started == keys:
            all_started.set()
        # Every handler waits for the others: only possible if they run concurrently.
        await asyncio.wait_for(all_started.wait(), 5)

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    queue.submit_many(sorted(keys))
    await asyncio.wait_for(queue.join(), 5)
    assert started == keys
    assert all(queue.status(k).last_outcome is Outcome.DONE for k in keys)  # type: ignore[union-attr]
    await queue.close(timeout=1)


async def test_max_workers_caps_concurrency() -> None:
    active = 0
    peak = 0

    async def handler(key: int) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        active -= 1

    queue: WorkQueue[int] = WorkQueue(
        handler, settings=QueueSettings(backoffs=(0.0,), jitter=0.0, max_workers=2)
    )
    queue.submit_many(range(10))
    await asyncio.wait_for(queue.join(), 5)
    assert peak == 2
    await queue.close(timeout=1)


async def test_failing_key_backs_off_and_does_not_stall_others() -> None:
    calls: Counter[str] = Counter()
    healthy_done = asyncio.Event()

    async def handler(key: str) -> None:
        calls[key] += 1
        if key == "bad":
            raise NomadUnavailableError("connection refused")
        healthy_done.set()

    # A long backoff: the bad key must sit in backoff while "good" still runs.
    queue: WorkQueue[str] = WorkQueue(
        handler, settings=QueueSettings(backoffs=(60.0,), jitter=0.0, max_workers=1)
    )
    queue.submit("bad")
    queue.submit("good")
    await asyncio.wait_for(healthy_done.wait(), 5)
    await asyncio.wait_for(queue.join(), 5)
    assert calls == {"bad": 1, "good": 1}
    assert queue.backing_off == {"bad"}
    status = queue.status("bad")
    assert status is not None and status.attempts == 1 and "connection refused" in str(status.last_error)
    # An ordinary trigger waits for the backoff; an urgent one (file changed) runs now.
    queue.submit("bad")
    await asyncio.wait_for(queue.join(), 5)
    assert calls["bad"] == 1
    queue.submit("bad", urgent=True)
    await _wait_for(lambda: calls["bad"] == 2)
    await queue.close(timeout=1)


async def test_retryable_errors_retry_until_success_with_backoff_schedule() -> None:
    attempts: list[int] = []

    async def handler(key: str) -> Outcome:
        attempts.append(len(attempts) + 1)
        if len(attempts) < 4:
            raise NomadUnavailableError("503")
        return Outcome.DONE

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    queue.submit("k")
    await asyncio.wait_for(queue.join(include_backoff=True), 5)
    assert attempts == [1, 2, 3, 4]
    status = queue.status("k")
    assert status is not None and status.attempts == 0 and status.last_outcome is Outcome.DONE
    await queue.close(timeout=1)


async def test_rejected_job_is_not_retried() -> None:
    calls = 0
    outcomes: list[tuple[str, Outcome]] = []

    async def handler(key: str) -> None:
        nonlocal calls
        calls += 1
        raise NomadJobRejectedError("1 error occurred: bad driver", status=500)

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

    async def handler(key: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("bug")

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    queue.submit("k")
    await asyncio.wait_for(queue.join(include_backoff=True), 5)
    assert calls == 2


@pytest.mark.parametrize(
    ("attempts", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0), (10, 4.0)]
)
def test_backoff_schedule_repeats_last_delay(attempts: int, expected: float) -> None:
    queue: WorkQueue[str] = WorkQueue.__new__(WorkQueue)
    queue.settings = QueueSettings(backoffs=(1.0, 2.0, 4.0), jitter=0.0)
    queue.rng = random.Random(0)
    assert queue.backoff_delay(attempts) == expected


def test_backoff_jitter_stays_within_bounds() -> None:
    queue: WorkQueue[str] = WorkQueue.__new__(WorkQueue)
    queue.settings = QueueSettings(backoffs=(10.0,), jitter=0.2)
    queue.rng = random.Random(1)
    delays = {queue.backoff_delay(1) for _ in range(200)}
    assert all(8.0 <= d <= 12.0 for d in delays)
    assert len(delays) > 100  # jitter really varies the delay


async def test_close_lets_in_flight_work_finish_and_refuses_new_work() -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def handler(key: str) -> None:
        started.set()
        await asyncio.sleep(0.05)  # an in-flight write
        finished.append(key)

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    queue.submit("a")
    await asyncio.wait_for(started.wait(), 5)
    assert await queue.close(timeout=5) is True
    assert finished == ["a"]
    queue.submit("b")
    await asyncio.wait_for(queue.join(), 5)
    assert finished == ["a"]


async def test_close_cancels_handlers_that_overrun_the_timeout() -> None:
    started = asyncio.Event()

    async def handler(key: str) -> None:
        started.set()
        await asyncio.Event().wait()  # never finishes

    queue: WorkQueue[str] = WorkQueue(handler, settings=ZERO)
    queue.submit("stuck")
    await asyncio.wait_for(started.wait(), 5)
    assert await queue.close(timeout=0.01) is False
    status = queue.status("stuck")
    assert status is not None and not status.running
