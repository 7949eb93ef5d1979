"""The daemon's memory of the jobs it handles: one record per job, with one ``forget``.

A ``JobRecord`` holds everything the daemon learnt about a job or waits for on
its behalf: the file change not yet applied and when it happened, the
out-of-band change to time, the ``JobModifyIndex`` last seen in sync, the
registration whose deployment it follows (with its digest), a spec Nomad
rejected (its digest, attempts and slow retry), an orphan's grace, the latest
deployment event, a deferred change, its timers, the latest canary analyses
(for the status page) and the rollout tracker's deployment memory (the soak
clock, the analysis verdict, the deployment promoted, a failed-digest hold:
``rollout.RolloutMemory``, ruled by ``rollout.RolloutTracker``).
``JobMemory`` maps each key to its record; ``forget`` drops the record (and
cancels its timers) when a job is gone from the checkout and from Nomad.  The
queue's own per-key backoff stays in the queue (``queue.py``): it is the
queue's scheduling, kept while a key is queued.

Per process: a restart re-learns everything from the checkout and Nomad.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

from reconciler.daemon.ordering import Deferral
from reconciler.daemon.rollout import RolloutMemory, RolloutTracker
from reconciler.deployment import Deployment
from reconciler.model import JobKey
from reconciler.sync.status_analysis import GateView

ANALYSES_KEPT = 2  # per job: a failed deployment's, and the rollback's


@dataclass
class Tracking:
    """A registration whose deployment the daemon follows."""

    job_modify_index: int
    digest: str
    registered_at: float  # monotonic
    revision: str | None
    wave: int = 0


@dataclass
class Rejection:
    """A spec Nomad refused for a reason in the file: not resubmitted until it changes,
    except on a slow backoff (the server may change: an upgrade, a new driver)."""

    digest: str
    message: str
    attempts: int
    retry_at: float  # monotonic
    timer: asyncio.TimerHandle | None = None


@dataclass(frozen=True)
class JobAnalysis:
    """The latest canary analysis of a job's deployment, as the daemon judged it (kept
    after the deployment ends: it says why a failed one is held)."""

    deployment_id: str
    gate: GateView


@dataclass
class JobRecord:
    """Everything the daemon remembers about one job (see the module docstring)."""

    pending_file: bool = False  # the file changed, not yet applied
    changed_at: float | None = None  # monotonic, the file event (the latency's start)
    drift_at: float | None = None  # wall, an out-of-band change (the detection's start)
    known_index: int | None = None  # JobModifyIndex seen in sync, or our own write's
    tracking: Tracking | None = None  # a registration whose deployment the daemon follows
    rejection: Rejection | None = None  # a spec Nomad refused for the file's sake
    absent_since: float | None = None  # wall, when an orphan was first held (prune grace)
    deployment_event: Deployment | None = None  # the latest from the event stream
    deferral: Deferral | None = None  # a file change waiting (wave, deployment cap)
    rollout_timer: asyncio.TimerHandle | None = None  # the next rollout check
    heal_timer: asyncio.TimerHandle | None = None  # healing waits for a deployment
    orphan_reported: bool = False  # told once that it keeps running
    rollout: RolloutMemory = field(default_factory=RolloutMemory)
    # The latest analyses, by deployment (oldest first): a failed deployment's (it says
    # why the job is held) survives the rollback's, which Nomad may place with canaries too.
    analyses: tuple[JobAnalysis, ...] = ()

    def drop_rejection(self) -> None:
        if self.rejection is not None and self.rejection.timer is not None:
            self.rejection.timer.cancel()
        self.rejection = None

    def cancel_timers(self) -> None:
        for timer in (self.rollout_timer, self.heal_timer,
                      self.rejection.timer if self.rejection else None):  # fmt: skip
            if timer is not None:
                timer.cancel()
        self.rollout_timer = self.heal_timer = None
        if self.rejection is not None:
            self.rejection.timer = None


class JobMemory:
    """The daemon's records by job key, the one ``forget``, and the views its parts read."""

    def __init__(self) -> None:
        self._records: dict[JobKey, JobRecord] = {}
        self.rollouts = RolloutTracker(self)  # its memory is each record's ``rollout``

    def get(self, key: JobKey) -> JobRecord | None:
        """The job's record, or None: reading never creates one."""
        return self._records.get(key)

    def get_or_create(self, key: JobKey) -> JobRecord:
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = JobRecord()
        return record

    def forget(self, key: JobKey) -> None:
        """A job gone from the checkout and from Nomad: drop everything kept about it."""
        record = self._records.pop(key, None)
        if record is not None:
            record.cancel_timers()

    def items(self) -> Iterator[tuple[JobKey, JobRecord]]:
        return iter(list(self._records.items()))

    def __contains__(self, key: object) -> bool:
        return key in self._records

    # Views across jobs (each a fresh copy: callers may change the records meanwhile).

    def pending_files(self) -> frozenset[JobKey]:
        return frozenset(k for k, r in self._records.items() if r.pending_file)

    def tracking(self) -> dict[JobKey, Tracking]:
        return {k: r.tracking for k, r in self._records.items() if r.tracking is not None}

    def deferred(self) -> dict[JobKey, Deferral]:
        return {k: r.deferral for k, r in self._records.items() if r.deferral is not None}

    def absent_since(self) -> dict[JobKey, float]:
        return {k: r.absent_since for k, r in self._records.items() if r.absent_since is not None}

    def note_analysis(self, key: JobKey, deployment_id: str, gate: GateView | None) -> None:
        """The analysis gate just judged (``None``: the deployment has no analysis)."""
        record = self._records.get(key)
        kept = tuple(a for a in (record.analyses if record else ()) if a.deployment_id != deployment_id)
        if gate is not None:
            kept = (*kept, JobAnalysis(deployment_id, gate))[-ANALYSES_KEPT:]
        if record is not None or kept:
            self.get_or_create(key).analyses = kept

    def analyses_of(self, key: JobKey) -> tuple[JobAnalysis, ...]:
        """The job's latest analyses (oldest first), as the daemon last judged each."""
        record = self._records.get(key)
        return record.analyses if record is not None else ()

    def known_index(self, key: JobKey) -> int | None:
        record = self._records.get(key)
        return record.known_index if record is not None else None

    def take_deferred(self) -> list[JobKey]:
        """The deferred changes, no longer deferred (they are submitted again)."""
        keys = []
        for key, record in self._records.items():
            if record.deferral is not None:
                record.deferral = None
                keys.append(key)
        return keys

    def forget_indexes(self) -> None:
        """Nomad's state was reset: every ``JobModifyIndex`` learnt is from a lost history."""
        for record in self._records.values():
            record.known_index = None

    def drop_deployment_events(self) -> None:
        """The stream dropped: its latest payloads may be stale from now on."""
        for record in self._records.values():
            record.deployment_event = None

    def cancel_timers(self) -> None:
        """Shutting down: no timer may fire on a closed queue."""
        for record in self._records.values():
            record.cancel_timers()

    # ``rollout.RolloutStore``: the tracker's memory is each record's ``rollout``.

    def rollout_of(self, key: JobKey) -> RolloutMemory:
        return self.get_or_create(key).rollout

    def find_rollout(self, key: JobKey) -> RolloutMemory | None:
        record = self._records.get(key)
        return record.rollout if record is not None else None

    def all_rollouts(self) -> Iterator[tuple[JobKey, RolloutMemory]]:
        return iter([(k, r.rollout) for k, r in self._records.items()])
