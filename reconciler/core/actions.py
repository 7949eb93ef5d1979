"""What a pass does about each job: the actions a plan is made of, and the plan.

Plain values shared by the planner (``core/plan.py``), the applier
(``sync/apply.py``) and every report of an outcome: one ``ActionKind`` per
verb and one ``HoldReason`` per hold rule, so every report of a hold agrees.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from reconciler.core.cluster_state import LiveJob
from reconciler.core.diff import DriftState, JobDrift
from reconciler.model import DesiredJob, Diagnostic, JobKey


class ActionKind(enum.StrEnum):
    REGISTER = "register"
    DEREGISTER = "deregister"
    PROMOTE = "promote"
    NONE = "none"
    HOLD = "hold"


class HoldReason(enum.StrEnum):
    """Why a job is held: one value per rule, so every report of a hold agrees."""

    FAILED_ROLLOUT = "failed_rollout"  # this spec's deployment failed (auto-reverted)
    ACTIVE_DEPLOYMENT = "active_deployment"  # a deployment runs and may not be superseded
    DEPLOYMENT_CAP = "deployment_cap"  # too many deployments at once
    WAVE = "wave"  # a lower wave is not done
    GUARD = "guard"  # a safety guard refused it (prune fraction, broken checkout)
    NOT_CONVERGING = "not_converging"  # registered, yet Nomad still reports it changed



@dataclass(frozen=True)
class JobAction:
    """What the pass will do about one job."""

    key: JobKey
    kind: ActionKind
    drift: JobDrift
    reason: str = ""
    wave: int = 0
    create: bool = False  # register of a job Nomad does not have
    enforce_index: int = 0  # JobModifyIndex the plan saw (0 for creates)
    purge: bool = False
    deployment_id: str | None = None
    desired: DesiredJob | None = None
    live: LiveJob | None = None
    hold_reason: HoldReason | None = None  # set exactly when kind is HOLD
    # Drift made out of band that the policy does not heal (``SyncPolicy.heal`` off):
    # kind NONE, the drift reported.
    unhealed: bool = False

    @property
    def path(self) -> str | None:
        return self.drift.path

    @property
    def label(self) -> str:
        """The verb shown to users: create, update, prune, purge, promote, hold, none."""
        if self.kind is ActionKind.REGISTER:
            return "create" if self.create else "update"
        if self.kind is ActionKind.DEREGISTER:
            return "purge" if self.purge else "prune"
        return self.kind.value


@dataclass(frozen=True)
class Plan:
    actions: tuple[JobAction, ...]
    errors: tuple[Diagnostic, ...] = ()
    refusals: tuple[str, ...] = ()  # guards that stopped a whole class of actions
    unmanaged: int = 0
    created_at: float = 0.0
    # Live jobs nobody declared or owns: counted (metrics), never touched.
    unmanaged_keys: tuple[JobKey, ...] = ()

    @property
    def has_changes(self) -> bool:
        """True when applying would write, or something is held back: not in sync."""
        return any(a.kind is not ActionKind.NONE for a in self.actions) or any(
            a.drift.state in (DriftState.MODIFIED, DriftState.MISSING)
            # a pruned (stopped) orphan is the end state of a prune, not pending work
            or (a.drift.state is DriftState.ORPHANED and not (a.live and a.live.stop))
            for a in self.actions
        )

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(a.drift.state is DriftState.ERROR for a in self.actions)

    def by_kind(self, kind: ActionKind) -> list[JobAction]:
        return [a for a in self.actions if a.kind is kind]

    def waves(self) -> Iterator[tuple[int, list[JobAction]]]:
        """Register and promote actions grouped by wave, lowest first."""
        work = [a for a in self.actions if a.kind in (ActionKind.REGISTER, ActionKind.PROMOTE)]
        for wave in sorted({a.wave for a in work}):
            yield wave, [a for a in work if a.wave == wave]


