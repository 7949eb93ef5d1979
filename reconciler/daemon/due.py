"""Which jobs are due and why: the reasons beside the work queue.

Every trigger (files, timers, Nomad's events, the rollout follower, a
recovery) says *which job* to look at and *why* through ``DueJobs.submit``;
the worker takes the reasons of a batch when it starts it, and gives them
back when the queue retries it.  ``ALL`` is the key of a full pass.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, Protocol

from reconciler.model import JobKey

ALL: JobKey = ("*", "*")
"""The queue key of a full pass (every declared and live job)."""


class Reason(enum.StrEnum):
    FILE = "file"  # the job's file changed
    NOMAD = "nomad"  # Nomad says the job changed (possibly out of band)
    ROLLOUT = "rollout"  # re-check the job's deployment
    PROMOTE = "promote"  # the promotion policy says promote: a pass plans it (pass lock)
    RESYNC = "resync"


def job_fields(key: JobKey, **more: Any) -> dict[str, Any]:
    """A log record's ``extra`` about one job."""
    return {"fields": {"nomad_namespace": key[0], "nomad_job": key[1], **more}}


class Queue(Protocol):
    def submit(self, key: JobKey, *, urgent: bool = False) -> None: ...


class Submit(Protocol):
    """How a part asks for work: ``DueJobs.submit``."""

    def __call__(self, keys: Iterable[JobKey], reason: Reason, *, urgent: bool = False) -> None: ...


class DueJobs:
    """The reasons each queued key is due for; ``queue`` is attached by the composition root."""

    def __init__(self) -> None:
        self.queue: Queue | None = None
        self._reasons: dict[JobKey, set[Reason]] = {}
        self._running: dict[JobKey, set[Reason]] = {}  # of keys in a running batch

    def submit(self, keys: Iterable[JobKey], reason: Reason, *, urgent: bool = False) -> None:
        assert self.queue is not None, "wired by the composition root"
        for key in keys:
            self._reasons.setdefault(key, set()).add(reason)
            self.queue.submit(key, urgent=urgent)

    def start(self, batch: Iterable[JobKey]) -> dict[JobKey, set[Reason]]:
        """A batch starts: its keys' reasons, taken (later submissions gather anew)."""
        reasons = {key: self._reasons.pop(key, set()) for key in batch}
        self._running.update(reasons)
        return reasons

    def finish(self, key: JobKey, *, retry: bool) -> None:
        """The key's batch ended; the queue's retry must redo what failed (a sync, not
        only a rollout check)."""
        reasons = self._running.pop(key, set())
        if retry:
            self._reasons.setdefault(key, set()).update(reasons or {Reason.RESYNC})
