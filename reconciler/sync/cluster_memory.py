"""What the cluster reader remembers between passes, per job, in one process.

The ``JobModifyIndex`` each job had when last seen and the digest in sync at
that index (what lets a pass skip reading a job), the digests this process
submitted (to recognise its own failed rollouts), and Nomad's plan verdicts
(``Verdict``: asked again only when the job or its file moves).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.job_plan import JobPlan
from reconciler.model import ApiJob, JobKey


@dataclass
class Seen:
    """A job as the reader last saw it, at one ``JobModifyIndex``."""

    job_modify_index: int
    digest: str | None  # desired digest known in sync at that index (None: drifted)
    job: ApiJob | None  # stripped live job at that index, when known
    meta: Mapping[str, Any] | None
    version: int | None = None


@dataclass(frozen=True)
class Verdict:
    """Nomad's plan of a file's job against the live job at one ``JobModifyIndex``."""

    job_modify_index: int
    digest: str
    changed: bool
    fields: tuple[str, ...] = ()  # what Nomad says would change
    answer: JobPlan | None = None  # Nomad's plan response (annotations too)


# Called when Nomad overrules the local diff: (job, the fields the local diff flagged).
MismatchHook = Callable[[JobKey, tuple[str, ...]], None]


@dataclass
class ClusterMemory:
    """Per-process memory of what each job looked like at its last ``JobModifyIndex``."""

    jobs: dict[JobKey, Seen] = field(default_factory=dict)
    # digest submitted → JobModifyIndex it got, to recognise our own failed rollouts.
    submitted: dict[JobKey, tuple[str, int]] = field(default_factory=dict)
    verdicts: dict[JobKey, Verdict] = field(default_factory=dict)

    def remember_submit(self, key: JobKey, digest: str, job_modify_index: int) -> None:
        self.submitted[key] = (digest, job_modify_index)

    def forget(self, key: JobKey) -> None:
        self.jobs.pop(key, None)
        self.verdicts.pop(key, None)

    def remember_synced(self, key: JobKey, job_modify_index: int, digest: str, job: ApiJob) -> None:
        """After our own register: trust, but verify once.

        The next pass that looks at this job reads it back (one request) and
        judges it like any other; in sync, it is vouched for until its index
        moves.  That read-back is what finds a job Nomad keeps reporting as
        changed right after our own write (``not_converging``).
        """
        self.jobs[key] = Seen(job_modify_index, None, None, job.get("Meta"))
