"""Per-key work queue: one worker per key at a time, keys in parallel, per-key backoff.

Responsible for *when* a key's handler runs, never for *what* it does.  The
rules, in the style of kopf's queueing:

- ``submit(key)`` marks the key due.  If its handler is running, the key is
  marked dirty and runs once more after the current run ends (triggers that
  arrive during a run coalesce into one follow-up run, never a parallel one).
- At most ``max_workers`` handlers run at once; a slow or failing key never
  blocks the others beyond that cap.
- A handler that raises a retryable error (``ReconcilerError.retryable``),
  returns ``Outcome.RETRY`` or raises something unexpected is retried after
  ``backoffs[attempt]`` seconds (the last value repeats), with +/- ``jitter``.
  While a key backs off, ordinary triggers wait for the backoff to end (so an
  outage is not hammered); ``submit(key, urgent=True)`` (a changed file)
  runs it now.
- A non-retryable ``ReconcilerError`` or ``Outcome.FAILED`` stops retrying
  until the next trigger: retrying the same request won't help.
- ``close(timeout)`` stops accepting work, lets in-flight handlers finish
  within the timeout, then cancels what is left.

Delays are plain settings data (``QueueSettings``) so tests set them to zero.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
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


@dataclass
class _KeyState:
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


Handler = Callable[[K], Awaitable["Outcome | None"]]


@dataclass
class WorkQueue(Generic[K]):
    """Runs ``handler(key)`` for submitted keys under the rules in the module docstring."""

    handler: Handler[K]
    settings: QueueSettings = QueueSettings()
    rng: random.Random = field(default_factory=random.Random)
    on_outcome: Callable[[K, Outcome, BaseException | None], None] | None = None

    def __post_init__(self) -> None:
        self._states: dict[K, _KeyState] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self.settings.max_workers)
        self._closed = False
        self._idle = asyncio.Event()  # nothing running
        self._idle.set()
        self._quiet = asyncio.Event()  # nothing running and nothing backing off
        self._quiet.set()

    # -- triggers -----------------------------------------------------------------

    def submit(self, key: K, *, urgent: bool = False) -> None:
        """Mark ``key`` due.  Safe to call any number of times; runs coalesce."""
        if self._closed:
            return
        state = self._states.setdefault(key, _KeyState())
        if state.running:
            state.dirty = True
            if urgent:
                state.attempts = 0
            return
        if state.retry is not None:
            if not urgent:
                return  # the pending retry will run it
            state.retry.cancel()
            state.retry = None
            state.attempts = 0
        self._start(key, state)

    def submit_many(self, keys: object, *, urgent: bool = False) -> None:
        for key in keys:  # type: ignore[attr-defined]
            self.submit(key, urgent=urgent)

    def forget(self, key: K) -> None:
        """Drop an idle key's backoff state (its job is gone)."""
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
    def in_flight(self) -> int:
        return sum(1 for s in self._states.values() if s.running)

    @property
    def backing_off(self) -> set[K]:
        return {k for k, s in self._states.items() if s.retry is not None}

    async def join(self, *, include_backoff: bool = False) -> None:
        """Wait until no handler runs (and, with ``include_backoff``, none is waiting to retry)."""
        await (self._quiet if include_backoff else self._idle).wait()

    # -- lifecycle ----------------------------------------------------------------

    async def close(self, *, timeout: float) -> bool:
        """Stop accepting work; wait up to ``timeout`` for running handlers.

        Returns True when everything finished in time, False when handlers
        had to be cancelled.
        """
        self._closed = True
        for state in self._states.values():
            state.dirty = False
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

    def _start(self, key: K, state: _KeyState) -> None:
        state.running = True
        self._idle.clear()
        self._quiet.clear()
        task = asyncio.get_running_loop().create_task(self._run(key, state), name=f"work:{key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: K, state: _KeyState) -> None:
        outcome: Outcome
        error: BaseException | None = None
        try:
            async with self._slots:
                state.dirty = False  # this run sees every trigger that came before it
                result = await self.handler(key)
                outcome = Outcome.DONE if result is None else result
        except asyncio.CancelledError:
            state.running = False
            self._update_idle()
            raise
        except ReconcilerError as exc:
            error = exc
            outcome = Outcome.RETRY if exc.retryable else Outcome.FAILED
        except Exception as exc:  # a bug in one key's handling must not kill the loop
            log.exception("unexpected error handling %s", key)
            error = exc
            outcome = Outcome.RETRY
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
            if not self._closed:
                self._schedule_retry(key, state)
        else:
            state.attempts = 0
            if state.dirty and not self._closed:
                self._start(key, state)
        self._update_idle()

    def backoff_delay(self, attempts: int) -> float:
        """Delay before retry number ``attempts`` (1-based), jitter applied."""
        delays = self.settings.backoffs or (0.0,)
        base = delays[min(attempts, len(delays)) - 1]
        if base <= 0 or self.settings.jitter <= 0:
            return max(base, 0.0)
        return base * (1.0 + self.rng.uniform(-self.settings.jitter, self.settings.jitter))

    def _schedule_retry(self, key: K, state: _KeyState) -> None:
        delay = self.backoff_delay(state.attempts)
        state.dirty = False  # the retry covers every trigger seen so far

        def due() -> None:
            state.retry = None
            if not self._closed and not state.running:
                self._start(key, state)
            self._update_idle()

        state.retry = asyncio.get_running_loop().call_later(delay, due)
        self._quiet.clear()

    def _update_idle(self) -> None:
        running = any(s.running for s in self._states.values())
        waiting = any(s.retry is not None for s in self._states.values())
        (self._idle.clear if running else self._idle.set)()
        (self._quiet.clear if running or waiting else self._quiet.set)()
