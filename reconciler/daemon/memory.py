"""The daemon's memory of the jobs it handles, in one place, with one ``forget``.

Everything the daemon learnt about a job or waits for on its behalf: the file
change not yet applied and when it happened, the out-of-band change to time,
the ``JobModifyIndex`` last seen in sync, the registration whose deployment it
follows, a spec Nomad rejected, an orphan's grace, the latest deployment event,
a deferred change, its timers, the latest canary analyses (for the status
page) and the rollout tracker's deployment memory (the soak clock, the
analysis verdict, the deployment promoted, failed-digest holds:
``rollout.RolloutTracker``).  ``forget`` drops all of it (and cancels
the timers) when a job is gone from the checkout and from Nomad.

Per process: a restart re-learns everything from the checkout and Nomad.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from reconciler.daemon.ordering import Deferral
from reconciler.daemon.rollout import RolloutTracker
from reconciler.deployment import Deployment
from reconciler.model import JobKey
from reconciler.sync.status_analysis import GateView


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


ANALYSES_KEPT = 2  # per job: a failed deployment's, and the rollback's


@dataclass(frozen=True)
class JobAnalysis:
    """The latest canary analysis of a job's deployment, as the daemon judged it (kept
    after the deployment ends: it says why a failed one is held)."""

    deployment_id: str
    gate: GateView


@dataclass
class JobMemory:
    """What the daemon remembers per job (by key), and the one ``forget``."""

    pending_files: set[JobKey] = field(default_factory=set)  # file changed, not yet applied
    changed_at: dict[JobKey, float] = field(default_factory=dict)  # monotonic, the file event
    drift_at: dict[JobKey, float] = field(default_factory=dict)  # wall, an out-of-band change
    known_index: dict[JobKey, int] = field(default_factory=dict)  # seen in sync / ours
    tracking: dict[JobKey, Tracking] = field(default_factory=dict)
    rejected: dict[JobKey, Rejection] = field(default_factory=dict)  # for the file's sake
    absent_since: dict[JobKey, float] = field(default_factory=dict)  # wall, orphan first held
    deployment_events: dict[JobKey, Deployment] = field(default_factory=dict)  # latest
    deferred: dict[JobKey, Deferral] = field(default_factory=dict)  # waiting (wave, cap)
    rollout_timers: dict[JobKey, asyncio.TimerHandle] = field(default_factory=dict)
    heal_timers: dict[JobKey, asyncio.TimerHandle] = field(default_factory=dict)
    reported_orphans: set[JobKey] = field(default_factory=set)  # told once: keeps running
    rollouts: RolloutTracker = field(default_factory=RolloutTracker)
    # The latest analyses per job, by deployment: a failed deployment's (it says why the job
    # is held) survives the rollback's, which Nomad may place with canaries too.
    analyses: dict[JobKey, tuple[JobAnalysis, ...]] = field(default_factory=dict)

    def note_analysis(self, key: JobKey, deployment_id: str, gate: GateView | None) -> None:
        """The analysis gate just judged (``None``: the deployment has no analysis)."""
        kept = tuple(a for a in self.analyses.get(key, ()) if a.deployment_id != deployment_id)
        if gate is not None:
            kept = (*kept, JobAnalysis(deployment_id, gate))[-ANALYSES_KEPT:]
        if kept:
            self.analyses[key] = kept
        else:
            self.analyses.pop(key, None)

    def analyses_of(self, key: JobKey) -> tuple[JobAnalysis, ...]:
        """The job's latest analyses (oldest first), as the daemon last judged each."""
        return self.analyses.get(key, ())

    def forget(self, key: JobKey) -> None:
        """A job gone from the checkout and from Nomad: drop everything kept about it."""
        self.pending_files.discard(key)
        self.reported_orphans.discard(key)
        self.drop_rejection(key)
        for table in (self.changed_at, self.drift_at, self.known_index, self.tracking,
                      self.deployment_events, self.deferred, self.absent_since, self.analyses):  # fmt: skip
            table.pop(key, None)
        for timers in (self.rollout_timers, self.heal_timers):
            timer = timers.pop(key, None)
            if timer is not None:
                timer.cancel()
        self.rollouts.forget(key)

    def drop_rejection(self, key: JobKey) -> None:
        rejected = self.rejected.pop(key, None)
        if rejected is not None and rejected.timer is not None:
            rejected.timer.cancel()

    def cancel_timers(self) -> None:
        """Shutting down: no timer may fire on a closed queue."""
        for timer in (*self.rollout_timers.values(), *self.heal_timers.values()):
            timer.cancel()
