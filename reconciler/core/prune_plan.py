"""The plan's prune actions: which orphans are stopped, and which a guard holds.  Pure.

``compute_plan`` (``core/plan.py``) finds the orphans (owned jobs no longer
declared) and hands them here.  The per-snapshot guards live here (prune
asked for, no file failed to load, the checkout declares some job); the
guards that need time and memory are ``core/prune.py``'s
(``decide_prune_guards``).  ARCHITECTURE.md, "Safety rules".
"""

from __future__ import annotations

from reconciler.core.actions import ActionKind, HoldReason, JobAction
from reconciler.core.ownership import parse_wave
from reconciler.core.policy import SyncPolicy
from reconciler.core.prune import PruneHistory, decide_prune_guards
from reconciler.model import Snapshot


def plan_prunes(
    orphans: list[JobAction],
    owned_total: int,
    snapshot: Snapshot,
    policy: SyncPolicy,
    refusals: list[str],
    history: PruneHistory | None = None,
    now: float = 0.0,
) -> list[JobAction]:
    """The action for each orphan: stop (purge) it, or hold it with the guard that refused.

    ``owned_total`` is what the prune fraction is measured against; a refusal
    that holds every candidate is also appended to ``refusals``.
    """
    if not orphans:
        return []
    candidates = [o for o in orphans if policy.purge or not (o.live and o.live.stop)]
    already = [o for o in orphans if o not in candidates]
    out = [_with(o, ActionKind.NONE, "already stopped (pruned earlier)") for o in already]
    if not policy.prune:
        return out + [
            _with(o, ActionKind.NONE, "not declared; prune disabled (--prune)") for o in candidates
        ]
    refusal = None
    if not snapshot.complete:
        bad = sum(1 for d in snapshot.errors)
        refusal = f"prune refused: {bad} file(s) failed to load; fix them first"
    elif not snapshot.jobs:
        refusal = "prune refused: the checkout declares no job at all (empty or wrong directory?)"
    if refusal is not None:
        if candidates:
            refusals.append(refusal)
        return out + [_with(o, ActionKind.HOLD, refusal, HoldReason.GUARD) for o in candidates]
    guards = decide_prune_guards(
        [o.key for o in candidates], owned_total=owned_total, snapshot=snapshot,
        max_prune=policy.max_prune, grace=policy.prune_grace, window=policy.prune_window,
        history=history, now=now,
    )  # fmt: skip
    if guards.refusal is not None:
        refusals.append(guards.refusal)
    allowed = set(guards.allowed)
    for o in candidates:
        if o.key in guards.waiting:
            out.append(_with(o, ActionKind.HOLD, guards.waiting[o.key], HoldReason.GUARD))
        elif o.key not in allowed:
            out.append(_with(o, ActionKind.HOLD, guards.refusal or "", HoldReason.GUARD))
    candidates = [o for o in candidates if o.key in allowed]
    return out + [
        JobAction(
            o.key,
            ActionKind.DEREGISTER,
            o.drift,
            o.drift.reason,
            wave=_live_wave(o, policy),
            purge=policy.purge,
            live=o.live,
        )
        for o in candidates
    ]


def _live_wave(action: JobAction, policy: SyncPolicy) -> int:
    try:
        return parse_wave(action.live.meta if action.live else None)
    except ValueError:
        return 0


def _with(
    action: JobAction, kind: ActionKind, reason: str, why: HoldReason | None = None
) -> JobAction:
    return JobAction(
        action.key, kind, action.drift, reason, wave=action.wave, live=action.live,
        hold_reason=why,
    )  # fmt: skip
