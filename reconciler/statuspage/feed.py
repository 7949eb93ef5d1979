"""What the status page remembers between requests, and how it wakes open pages.

Responsible for three small thread-safe stores, written on the daemon's loop
thread (through the observer calls) and read on HTTP request threads:

- ``ChangeFeed``: a counter and the jobs changed since each subscriber last
  looked; ``wait`` blocks a Server-Sent Events thread until something changes,
  the keep-alive timeout passes, or the feed is closed (server stopping);
- ``JobLogBuffer``: a logging handler keeping each job's recent log lines
  (secrets scrubbed before they are stored), bounded per job and in jobs;
- ``JobHistory``: per job, when it was last registered and from which commit,
  and the times the rollout steps were first seen (the timeline's clock).

Nothing here does I/O or blocks the loop: writers hold a lock for a dict update.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from reconciler.model import JobKey

LOG_LINES_PER_JOB = 50
JOBS_REMEMBERED = 5000  # least recently touched jobs are forgotten beyond this


class FeedClosed(Exception):
    """The feed was closed: the server is stopping."""


@dataclass
class _Subscriber:
    seen: int
    jobs: set[JobKey] = field(default_factory=set)
    overview: bool = False


class ChangeFeed:
    """Change notifications fanned out to the open pages (one subscriber each)."""

    def __init__(self, *, max_subscribers: int = 64) -> None:
        self.max_subscribers = max_subscribers
        self._cond = threading.Condition()
        self._version = 0
        self._subscribers: list[_Subscriber] = []
        self._closed = False

    @property
    def version(self) -> int:
        """Bumped on every change: a cache computed at version N is stale after it."""
        return self._version

    def publish(self, jobs: Iterable[JobKey] = (), *, overview: bool = False) -> None:
        """Something changed (these jobs; ``overview``: daemon-wide facts).  Never blocks long."""
        keys = set(jobs)
        with self._cond:
            self._version += 1
            for sub in self._subscribers:
                sub.jobs |= keys
                sub.overview = sub.overview or overview or not keys
            self._cond.notify_all()

    def subscribe(self) -> _Subscriber | None:
        """A new subscriber, or None when too many pages are open already."""
        with self._cond:
            if self._closed or len(self._subscribers) >= self.max_subscribers:
                return None
            sub = _Subscriber(seen=self._version)
            self._subscribers.append(sub)
            return sub

    def unsubscribe(self, sub: _Subscriber) -> None:
        with self._cond:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    def wait(self, sub: _Subscriber, timeout: float) -> tuple[set[JobKey], bool] | None:
        """The jobs changed (and whether the overview did) since the last call; None on timeout.

        Raises ``FeedClosed`` once the feed is closed.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._closed or sub.seen != self._version, timeout)
            if self._closed:
                raise FeedClosed()
            if sub.seen == self._version:
                return None
            sub.seen = self._version
            jobs, overview = sub.jobs, sub.overview
            sub.jobs, sub.overview = set(), False
            return jobs, overview

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass(frozen=True)
class LogLine:
    at: float  # wall time
    level: str
    message: str  # with the record's fields, secrets scrubbed


class JobLogBuffer(logging.Handler):
    """Keeps the recent log lines of each job (records with ``nomad_namespace``/``nomad_job``)."""

    def __init__(self, scrub: Callable[[str], str], *, per_job: int = LOG_LINES_PER_JOB,
                 max_jobs: int = JOBS_REMEMBERED) -> None:  # fmt: skip
        super().__init__(level=logging.DEBUG)
        self._scrub = scrub
        self.per_job = per_job
        self.max_jobs = max_jobs
        self._lines: OrderedDict[JobKey, deque[LogLine]] = OrderedDict()
        self._guard = threading.Lock()
        self.on_line: Callable[[JobKey], None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", None)
        if not isinstance(fields, dict):
            return
        ns, job = fields.get("nomad_namespace"), fields.get("nomad_job")
        if not isinstance(ns, str) or not isinstance(job, str):
            return
        try:
            extra = " ".join(
                f"{k}={v}" for k, v in fields.items()
                if k not in ("nomad_namespace", "nomad_job") and v is not None
            )  # fmt: skip
            text = record.getMessage() + (f"  {extra}" if extra else "")
            line = LogLine(at=record.created, level=record.levelname.lower(),
                           message=self._scrub(text))  # fmt: skip
        except Exception:
            self.handleError(record)
            return
        key = (ns, job)
        with self._guard:
            lines = self._lines.get(key)
            if lines is None:
                lines = self._lines[key] = deque(maxlen=self.per_job)
            self._lines.move_to_end(key)
            lines.append(line)
            while len(self._lines) > self.max_jobs:
                self._lines.popitem(last=False)
        if self.on_line is not None:
            self.on_line(key)

    def lines(self, key: JobKey) -> list[LogLine]:
        with self._guard:
            return list(self._lines.get(key, ()))

    def last_problem(self, key: JobKey) -> str | None:
        """The job's latest warning or error line, if it has one."""
        with self._guard:
            for line in reversed(self._lines.get(key, ())):
                if line.level in ("warning", "error", "critical"):
                    return line.message
        return None


@dataclass(frozen=True)
class Registration:
    at: float  # wall time
    commit: str | None
    version: int | None  # the job version Nomad gave it, when known


class JobHistory:
    """Per job: the last registration and the first time each rollout step was seen."""

    def __init__(self, *, clock: Callable[[], float] = time.time,
                 max_jobs: int = JOBS_REMEMBERED) -> None:  # fmt: skip
        self._clock = clock
        self.max_jobs = max_jobs
        self._guard = threading.Lock()
        self._registered: OrderedDict[JobKey, Registration] = OrderedDict()
        # (job, deployment ID) -> step -> first seen
        self._steps: OrderedDict[tuple[JobKey, str], dict[str, float]] = OrderedDict()

    def registered(self, key: JobKey, *, commit: str | None, version: int | None = None) -> None:
        with self._guard:
            self._registered[key] = Registration(self._clock(), commit, version)
            self._registered.move_to_end(key)
            while len(self._registered) > self.max_jobs:
                self._registered.popitem(last=False)

    def last_registration(self, key: JobKey) -> Registration | None:
        with self._guard:
            return self._registered.get(key)

    def saw_steps(self, key: JobKey, deployment_id: str, steps: Iterable[str]) -> None:
        """Record the first time each of ``steps`` was seen for this deployment."""
        now = self._clock()
        with self._guard:
            seen = self._steps.setdefault((key, deployment_id), {})
            self._steps.move_to_end((key, deployment_id))
            for step in steps:
                seen.setdefault(step, now)
            while len(self._steps) > self.max_jobs:
                self._steps.popitem(last=False)

    def step_times(self, key: JobKey, deployment_id: str) -> dict[str, float]:
        with self._guard:
            return dict(self._steps.get((key, deployment_id), {}))

    def forget(self, key: JobKey) -> None:
        with self._guard:
            self._registered.pop(key, None)
            for k in [k for k in self._steps if k[0] == key]:
                del self._steps[k]
