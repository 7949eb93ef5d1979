"""What happened to each job in a pass: value types shared by apply, rollout and output."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.core.actions import JobAction, Plan
from reconciler.deployment import DeploymentGroup
from reconciler.errors import ReconcilerError
from reconciler.model import JobKey


class Result(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    PRUNED = "pruned"
    PROMOTED = "promoted"
    HELD = "held"
    FAILED = "failed"
    UNCHANGED = "unchanged"
    PLANNED = "planned"  # dry run: would have been applied


@dataclass(frozen=True)
class GroupProgress:
    """One task group of a deployment, as ``nomad job status`` shows it."""

    name: str
    desired: int
    placed: int
    healthy: int
    unhealthy: int
    desired_canaries: int
    placed_canaries: int
    promoted: bool

    @classmethod
    def of(cls, group: DeploymentGroup) -> GroupProgress:
        return cls(
            name=group.name,
            desired=group.desired_total,
            placed=group.placed_allocs,
            healthy=group.healthy_allocs,
            unhealthy=group.unhealthy_allocs,
            desired_canaries=group.desired_canaries,
            placed_canaries=len(group.placed_canaries),
            promoted=group.promoted,
        )


@dataclass(frozen=True)
class Rollout:
    """Where a deployment the sync started ended up (or stood when we stopped looking)."""

    deployment_id: str | None
    status: str  # successful, failed, cancelled, running (timeout), none (no deployment)
    description: str = ""
    groups: tuple[GroupProgress, ...] = ()
    promoted: bool = False
    analysis: tuple[str, ...] = ()  # canary analysis, one line per check (sync.analysis)

    @property
    def ok(self) -> bool:
        return self.status in ("successful", "none")


@dataclass(frozen=True)
class JobOutcome:
    key: JobKey
    action: JobAction
    result: Result
    message: str = ""
    annotations: Mapping[str, Mapping[str, int]] | None = None  # Nomad plan, per group
    warnings: str = ""
    eval_id: str | None = None
    job_modify_index: int | None = None
    rollout: Rollout | None = None
    conflict_retried: bool = False
    # When Nomad accepted a register (``time.monotonic()``, taken as its answer arrived):
    # the end of the daemon's change-to-registered latency.
    accepted_at: float | None = None
    # The error behind a FAILED outcome, kept typed: its class says whether a retry
    # can help (``error.retryable``); ``message`` is the text for people.
    error: ReconcilerError | None = None


@dataclass(frozen=True)
class PassResult:
    """One reconcile pass: the plan and what became of each action."""

    plan: Plan
    outcomes: tuple[JobOutcome, ...]
    dry_run: bool = False
    server_version: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def count(self, result: Result) -> int:
        return sum(1 for o in self.outcomes if o.result is result)

    @property
    def failed(self) -> bool:
        """A file failed to load, a write failed, or a guard refused what was asked (prune)."""
        return (
            self.plan.has_errors
            or bool(self.plan.refusals)
            or any(o.result is Result.FAILED for o in self.outcomes)
        )

    def summary(self) -> dict[str, int]:
        return {r.value: self.count(r) for r in Result}
