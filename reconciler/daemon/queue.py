"""Per-key work queue: one worker per key at a time, keys in parallel, per-key backoff.

Responsible for *when* a key is handled, never for *what* handling does.  The
rules, in the style of kopf's queueing, adapted to an engine that reconciles
a set of jobs in one call (one cluster read serves the whole set):

- ``submit(key)`` marks the key due.  Keys that become due in the same loop
  tick are dispatched together as one batch: ``handler(frozenset(keys))``.
- A key is in at most one running batch.  If it is submitted while running,
  it is marked dirty and handled once more after that batch ends: triggers
  during a run coalesce into one follow-up run, never a parallel one.
- Other keys are dispatched in further batches while one runs, up to
  ``max_workers`` batches at once; a slow or failing key never blocks the
  others beyond that cap.
- The handler returns an outcome per key (missing keys are ``DONE``), or
  raises, which applies to every key of the batch.  An error caused by the
  cluster (``ReconcilerError.retryable``: unavailable, refused for the
  cluster's sake, ACL denied, a conflict), ``Outcome.RETRY`` or anything
  unexpected retries *that key* after ``backoffs[attempt]`` seconds (the last
  value repeats), with +/- ``jitter``.  While a key backs off, ordinary triggers
  wait for the backoff to end (an outage is not hammered);
  ``submit(key, urgent=True)`` (its file changed) runs it now.
- An error caused by the file (``ErrorCause.FILE``) or ``Outcome.FAILED``
  stops retrying until the next trigger: retrying the same request won't
  help (the daemon schedules its own slow retry of such specs).
- ``close(timeout)`` stops accepting work, lets running batches finish within
  the timeout, then cancels what is left.

Delays are plain settings data (``QueueSettings``) so tests set them to zero.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from reconciler.errors import ReconcilerError

K = TypeVar("K", bound=Hashable)

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    DONE = "done"
    RETRY = "retry"  # temporary: try again after the key's backoff
    FAILED = "failed"  # permanent until something changes: no automatic retry


@dataclass(frozen=True)
class QueueSettings:
    backoffs: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 60.0)
    jitter: float = 0.2
    max_workers: int = 8
    max_batch: int | None = None  # None: every due key in one batch


@dataclass
class _KeyState:
    due: bool = False
    running: bool = False
    dirty: bool = False  # triggered while running: run again afterwards
    attempts: int = 0  # consecutive failed runs (drives the backoff)
    retry: asyncio.TimerHandle | None = None
    last_outcome: Outcome | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class KeyStatus:
    """What the queue knows about one key (for logs, metrics and tests)."""

    running: bool
    backing_off: bool
    attempts: int
    last_outcome: Outcome | None
    last_error: str | None


Result = Outcome | BaseException | None
Handler = Callable[[frozenset[K]], Awaitable[Mapping[K, Result] | None]]


def outcome_of(result: Result) -> Outcome:
    """Pure: the queue outcome of one key's result (an outcome, an error or None)."""
    if result is None:
        return Outcome.DONE
    if isinstance(result, Outcome):
        return result
    if isinstance(result, ReconcilerError):
        return Outcome.RETRY if result.retryable else Outcome.FAILED
    return Outcome.RETRY  # unexpected: retry with backoff rather than give up or spin


class WorkQueue(Generic[K]):
    """Runs ``handler(batch)`` for submitted keys under the rules in the module docstring."""

    def __init__(
        self,
        handler: Handler[K],
        *,
        settings: QueueSettings | None = None,
        rng: random.Random | None = None,
        on_outcome: Callable[[K, Outcome, BaseException | None], None] | None = None,
    ) -> None:
        self.handler = handler
        self.settings = settings or QueueSettings()
        self.rng = rng or random.Random()
        self.on_outcome = on_outcome
        self._states: dict[K, _KeyState] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._dispatch_scheduled = False
        self._closed = False
        self._idle = asyncio.Event()  # nothing due or running
        self._idle.set()
        self._quiet = asyncio.Event()  # ... and nothing waiting to retry
        self._quiet.set()
        self.batches = 0  # batches started (for tests and benchmarks)

    # -- triggers -----------------------------------------------------------------

    def submit(self, key: K, *, urgent: bool = False) -> None:
        """Mark ``key`` due.  Safe to call any number of times; runs coalesce."""
        if self._closed:
            return
        state = self._states.setdefault(key, _KeyState())
        if urgent:
            state.attempts = 0
        if state.running:
            state.dirty = True
            return
        if state.retry is not None:
            if not urgent:
                return  # the pending retry will run it
            state.retry.cancel()
            state.retry = None
        state.due = True
        self._schedule_dispatch()

    def submit_many(self, keys: Iterable[K], *, urgent: bool = False) -> None:
        for key in keys:
            self.submit(key, urgent=urgent)

    def forget(self, key: K) -> None:
        """Drop an idle key's state (its job is gone everywhere)."""
        state = self._states.get(key)
        if state is not None and not state.running:
            if state.retry is not None:
                state.retry.cancel()
            del self._states[key]
            self._update_idle()

    # -- introspection ------------------------------------------------------------

    def status(self, key: K) -> KeyStatus | None:
        state = self._states.get(key)
        if state is None:
            return None
        return KeyStatus(
            running=state.running,
            backing_off=state.retry is not None,
            attempts=state.attempts,
            last_outcome=state.last_outcome,
            last_error=state.last_error,
        )

    @property
    def running(self) -> set[K]:
        return {k for k, s in self._states.items() if s.running}

    @property
    def backing_off(self) -> set[K]:
        return {k for k, s in self._states.items() if s.retry is not None}

    async def join(self, *, include_backoff: bool = False) -> None:
        """Wait until nothing is due or running (and, with ``include_backoff``, none retries)."""
        await (self._quiet if include_backoff else self._idle).wait()

    # -- lifecycle ----------------------------------------------------------------

    async def close(self, *, timeout: float) -> bool:
        """Stop accepting work; wait up to ``timeout`` for running batches.

        Returns True when everything finished in time, False when batches had
        to be cancelled.
        """
        self._closed = True
        for state in self._states.values():
            state.dirty = False
            state.due = False
            if state.retry is not None:
                state.retry.cancel()
                state.retry = None
        self._update_idle()
        tasks = set(self._tasks)
        if not tasks:
            return True
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        return not pending

    # -- internals ----------------------------------------------------------------

    def _schedule_dispatch(self) -> None:
        self._idle.clear()
        self._quiet.clear()
        if not self._dispatch_scheduled:
            self._dispatch_scheduled = True
            asyncio.get_running_loop().call_soon(self._dispatch)

    def _dispatch(self) -> None:
        """Start batches of due keys while worker slots are free."""
        self._dispatch_scheduled = False
        if self._closed:
            return
        while len(self._tasks) < self.settings.max_workers:
            due = [k for k, s in self._states.items() if s.due and not s.running]
            if not due:
                break
            if self.settings.max_batch:
                due = due[: self.settings.max_batch]
            for key in due:
                state = self._states[key]
                state.due = False
                state.running = True
                state.dirty = False  # this run sees every trigger that came before it
            self.batches += 1
            task = asyncio.get_running_loop().create_task(
                self._run(frozenset(due)), name=f"work:{len(due)} keys"
            )
            self._tasks.add(task)
            task.add_done_callback(self._task_done)
        self._update_idle()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if any(s.due for s in self._states.values()) and not self._closed:
            self._schedule_dispatch()  # a slot freed up for waiting keys
        self._update_idle()

    async def _run(self, batch: frozenset[K]) -> None:
        results: Mapping[K, Result]
        try:
            returned = await self.handler(batch)
            results = returned or {}
        except asyncio.CancelledError:
            for key in batch:
                self._states[key].running = False
            raise
        except Exception as exc:  # applies to the whole batch, then handled per key
            if not isinstance(exc, ReconcilerError):
                log.exception("unexpected error handling %d job(s)", len(batch))
            results = dict.fromkeys(batch, exc)
        for key in batch:
            self._finish(key, results.get(key))
        self._update_idle()

    def _finish(self, key: K, result: Result) -> None:
        state = self._states[key]
        outcome = outcome_of(result)
        error = result if isinstance(result, BaseException) else None
        state.running = False
        state.last_outcome = outcome
        state.last_error = None if error is None else str(error)
        if self.on_outcome is not None:
            try:
                self.on_outcome(key, outcome, error)
            except Exception:
                log.exception("on_outcome callback failed for %s", key)
        if outcome is Outcome.RETRY:
            state.attempts += 1
            state.dirty = False  # the retry covers every trigger seen so far
            if not self._closed:
                self._schedule_retry(key, state)
            return
        state.attempts = 0
        if state.dirty and not self._closed:
            state.dirty = False
            state.due = True
            self._schedule_dispatch()

    def backoff_delay(self, attempts: int) -> float:
        """Delay before retry number ``attempts`` (1-based), jitter applied."""
        delays = self.settings.backoffs or (0.0,)
        base = delays[min(max(attempts, 1), len(delays)) - 1]
        if base <= 0 or self.settings.jitter <= 0:
            return max(base, 0.0)
        return base * (1.0 + self.rng.uniform(-self.settings.jitter, self.settings.jitter))

    def _schedule_retry(self, key: K, state: _KeyState) -> None:
        delay = self.backoff_delay(state.attempts)

        def due() -> None:
            state.retry = None
            if not self._closed and not state.running:
                state.due = True
                self._schedule_dispatch()
            self._update_idle()

        state.retry = asyncio.get_running_loop().call_later(delay, due)

    def _update_idle(self) -> None:
        busy = bool(self._tasks) or self._dispatch_scheduled or any(
            s.due or s.running for s in self._states.values()
        )
        waiting = any(s.retry is not None for s in self._states.values())
        (self._idle.clear if busy else self._idle.set)()
        (self._quiet.clear if busy or waiting else self._quiet.set)()
