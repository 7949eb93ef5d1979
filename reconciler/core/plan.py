"""The plan: what to do about each job, and why.  A purely computational module.

``compute_plan`` takes the loaded snapshot, the cluster as read
(``ClusterState``) and the ``SyncPolicy`` and returns one ``JobAction`` per
job: register (create or update), deregister (prune), promote, none, or hold
with a reason.  It encodes the safety rules of ARCHITECTURE.md and never does I/O;
the sync layer reads the cluster beforehand and applies the plan afterwards.

Safety rules enforced here:
- prune only when asked, only owned jobs, never when any file failed to load
  or when the checkout declares no job at all, never from a checkout git is
  changing, never beyond ``max_prune`` of the owned jobs (within
  ``prune_window``), only after ``prune_grace`` (``reconciler.core.prune``);
  a pruned job is stopped unless ``purge``;
- a job whose file failed to load is an error, never an orphan;
- a job with an active deployment is held unless the policy lets a new spec
  supersede it; a spec whose rollout failed (and was auto-reverted) is held
  until the file changes, so a broken commit never loops;
- promotion only under an explicit policy (``promote`` or Meta ``auto-promote``;
  the daemon's soak policy: ``core/promotion.py``);
- without ``heal`` (``--no-self-heal``), only changes that come from git are applied.

The values it works with have their own modules: the actions and the plan
(``core/actions.py``), the cluster as read (``core/cluster_state.py``), the
policy (``core/policy.py``), the promotion policy (``core/promotion.py``); the
prune actions are decided in ``core/prune_plan.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.actions import ActionKind, HoldReason, JobAction, Plan
from reconciler.core.cluster_state import ClusterState, LiveJob
from reconciler.core.diff import DriftState, JobDrift, compute_job_drift
from reconciler.core.ownership import parse_wave, read_ownership, wants_auto_promote
from reconciler.core.policy import SyncPolicy
from reconciler.core.promotion import PromotionFacts, decide_promotion, soak_or_none
from reconciler.core.prune import PruneHistory
from reconciler.core.prune_plan import plan_prunes
from reconciler.core.release import release_refusals
from reconciler.model import ApiJob, DesiredJob, Diagnostic, JobKey, Snapshot

__all__ = [  # the values, for callers that import them with the planner
    "ActionKind", "ClusterState", "HoldReason", "JobAction", "LiveJob", "Plan", "SyncPolicy",
    "compute_plan", "may_supersede", "promotion_allowed",
]  # fmt: skip


def compute_plan(
    snapshot: Snapshot,
    cluster: ClusterState,
    policy: SyncPolicy,
    *,
    now: float,
    only: set[JobKey] | None = None,
    prune_history: PruneHistory | None = None,
    promotions: Mapping[JobKey, PromotionFacts] | None = None,
) -> Plan:
    """Decide one action per job.  Pure: same inputs, same plan.

    ``only`` restricts the plan to those jobs (a targeted pass); the safety
    guards still look at the whole snapshot (load errors, an empty checkout,
    the prune fraction measured against every declared job).
    ``prune_history`` (a long-running caller's memory, on the clock of ``now``)
    enables the prune grace period and window (``reconciler.core.prune``).
    ``promotions`` is that caller's memory of the deployments it follows
    (``policy.soak_promotion``: the soak clock, the analysis verdict).
    """
    errors = list(snapshot.errors)
    broken_files = {d.path for d in snapshot.errors}
    actions: list[JobAction] = []
    declared: set[JobKey] = set()
    declared_in_scope = sum(1 for d in snapshot.jobs if _in_scope(d.key, policy))

    for desired in sorted(snapshot.jobs, key=lambda j: j.key):
        if not _in_scope(desired.key, policy):
            continue
        declared.add(desired.key)
        if only is not None and desired.key not in only:
            continue
        live = cluster.jobs.get(desired.key)
        try:
            wave = parse_wave(desired.canonical.get("Meta"))
        except ValueError as exc:
            errors.append(Diagnostic(path=desired.path, message=str(exc), rule="wave"))
            drift = JobDrift(desired.key, DriftState.ERROR, path=desired.path, reason=str(exc))
            actions.append(
                JobAction(desired.key, ActionKind.NONE, drift, str(exc), desired=desired)
            )
            continue
        refused = release_refusals(desired, cluster.version)
        if refused:  # a block the cluster's release does not know: never sent
            errors += refused
            reason = "; ".join(d.message for d in refused)
            drift = JobDrift(desired.key, DriftState.ERROR, path=desired.path, reason=reason)
            actions.append(JobAction(desired.key, ActionKind.NONE, drift, reason, desired=desired))
            continue
        drift = _drift_of(desired, live, policy, cluster.version)
        facts = (promotions or {}).get(desired.key)
        actions.append(_decide(desired, live, drift, wave, policy, facts, now))

    refusals: list[str] = []
    unmanaged: list[JobKey] = []
    orphans: list[JobAction] = []
    owned_total = 0
    for key, live in sorted(cluster.jobs.items()):
        if not _in_scope(key, policy) or (only is not None and key not in only):
            continue
        ownership = read_ownership(live.meta)
        if ownership is not None:
            owned_total += 1
        if key in declared:
            continue
        if live.read_error is not None and ownership is None:
            reason = f"could not read it from Nomad: {live.read_error}"
            drift = JobDrift(key, DriftState.ERROR, reason=reason)
            actions.append(JobAction(key, ActionKind.NONE, drift, reason, live=live))
            continue
        if ownership is None:
            unmanaged.append(key)
            continue
        if ownership.source in broken_files:
            reason = f"its file {ownership.source} failed to load; not treated as deleted"
            drift = JobDrift(
                key, DriftState.ERROR, path=ownership.source, reason=reason, owned=True
            )
            actions.append(JobAction(key, ActionKind.NONE, drift, reason, live=live))
            continue
        drift = compute_job_drift(None, _orphan_view(live))
        orphans.append(JobAction(key, ActionKind.NONE, drift, live=live))

    # The fraction is of everything the reconciler manages: on a targeted pass the
    # cluster read is partial, so the declared jobs stand in for the owned ones.
    managed = max(owned_total, declared_in_scope + len(orphans))
    actions.extend(
        plan_prunes(orphans, managed, snapshot, policy, refusals, prune_history, now)
    )
    actions = _cap_deployments(actions, cluster, policy)
    actions.sort(key=lambda a: (_ORDER[a.kind], a.wave, a.key))
    return Plan(
        tuple(actions), tuple(errors), tuple(refusals), len(unmanaged), created_at=now,
        unmanaged_keys=tuple(unmanaged),
    )  # fmt: skip


_ORDER = {
    ActionKind.REGISTER: 0,
    ActionKind.PROMOTE: 0,
    ActionKind.HOLD: 1,
    ActionKind.DEREGISTER: 2,
    ActionKind.NONE: 3,
}


def _in_scope(key: JobKey, policy: SyncPolicy) -> bool:
    return policy.namespaces is None or key[0] in policy.namespaces


def _orphan_view(live: LiveJob) -> ApiJob:
    return {"ID": live.key[1], "Namespace": live.key[0], "Meta": dict(live.meta or {})}


def _drift_of(
    desired: DesiredJob,
    live: LiveJob | None,
    policy: SyncPolicy,
    version: tuple[int, int, int] | None,
) -> JobDrift:
    if live is None:
        return compute_job_drift(desired, None)
    if live.read_error is not None:
        reason = f"could not read it from Nomad: {live.read_error}"
        return JobDrift(desired.key, DriftState.ERROR, path=desired.path, reason=reason)
    if live.known_digest == desired.digest and not live.stop:
        # Vouched for by the reader: same index as a pass that saw it in sync, a
        # trusted stamp, or Nomad's own plan said the file changes nothing.
        ownership = read_ownership(live.meta)
        return JobDrift(
            desired.key, DriftState.IN_SYNC, path=desired.path, owned=ownership is not None,
            live_digest=ownership.digest if ownership else None,
        )  # fmt: skip
    if live.job is None:
        # The reader must read every job it cannot vouch for; a gap is a bug, not drift.
        reason = "live job was not read (internal error)"
        return JobDrift(desired.key, DriftState.ERROR, path=desired.path, reason=reason)
    return compute_job_drift(
        desired, live.job, preserve_counts=policy.preserve_counts,
        server_version=version,
    )  # fmt: skip


def _decide(
    desired: DesiredJob, live: LiveJob | None, drift: JobDrift, wave: int, policy: SyncPolicy,
    facts: PromotionFacts | None = None, now: float = 0.0,
) -> JobAction:
    base: dict[str, Any] = {"wave": wave, "desired": desired, "live": live}
    key = desired.key
    if drift.state is DriftState.ERROR:
        return JobAction(key, ActionKind.NONE, drift, drift.reason, **base)
    if drift.state is DriftState.MISSING:
        return JobAction(key, ActionKind.REGISTER, drift, "not in Nomad", create=True, **base)
    assert live is not None
    if drift.state is DriftState.IN_SYNC:
        return _maybe_promote(desired, live, drift, policy, base, facts, now)

    if live.failed_digest == desired.digest and not policy.retry_failed:
        # The failed deployment's words ("Failed due to progress deadline ..."), not the
        # latest deployment's: after an auto-revert that is the rollback's.
        dep = live.failed_deployment or live.deployment
        said = dep.description if dep is not None else ""
        reason = (
            f"the rollout of this spec failed ({said or 'deployment failed'});"
            " held until the file changes (changes made in Nomad meanwhile, such as a"
            " job scale, are not healed while it is held)"
        )
        return _hold(key, drift, reason, base, HoldReason.FAILED_ROLLOUT)
    if live.not_converging:
        shown = ", ".join(live.not_converging[:5])
        more = len(live.not_converging) - 5
        reason = (
            f"registered from this file, but Nomad still reports changes in {shown}"
            f"{f' and {more} more' if more > 0 else ''}; not re-sent (held until the file changes)"
        )
        return _hold(key, drift, reason, base, HoldReason.NOT_CONVERGING)
    if not policy.heal and not from_git(desired, drift, policy):
        return JobAction(key, ActionKind.NONE, drift, drift.summary(), unhealed=True, **base)
    active = live.active_deployment
    if active is not None and not may_supersede(desired, drift, policy):
        what = "" if not policy.supersede_active else "changed out of band while "
        reason = (
            f"{what}deployment {active.id[:8]} is {active.status_text}"
            f" ({active.description}); held until it finishes"
        )
        return _hold(key, drift, reason, base, HoldReason.ACTIVE_DEPLOYMENT)
    return JobAction(
        key, ActionKind.REGISTER, drift, drift.summary(),
        enforce_index=live.job_modify_index, **base,
    )  # fmt: skip


def promotion_allowed(desired: DesiredJob, policy: SyncPolicy) -> bool:
    """May the policy ever promote this job's canaries (so its deployment is worth reading)?"""
    meta = desired.canonical.get("Meta")
    if policy.soak_promotion:
        return soak_or_none(meta, default=policy.promote_after) is not None
    return policy.promote or wants_auto_promote(meta)


def from_git(desired: DesiredJob, drift: JobDrift, policy: SyncPolicy) -> bool:
    """Does the difference come from git: the file changed (``supersede_only``), or the
    live stamp names another digest (the file moved on since it was applied, or it
    never was)?  Otherwise it was made out of band."""
    changed = policy.supersede_only or frozenset()
    return desired.key in changed or drift.live_digest != desired.digest


def may_supersede(desired: DesiredJob, drift: JobDrift, policy: SyncPolicy) -> bool:
    """May a register of ``desired`` replace the job's running deployment?

    A new spec may (git is the source of truth; Nomad cancels the old deployment
    "due to newer version"); healing an out-of-band difference may not: it waits
    for the deployment, which may well be someone's deliberate rollout, to end.
    """
    if not policy.supersede_active:
        return False
    if policy.supersede_only is None or desired.key in policy.supersede_only:
        return True
    return drift.live_digest is not None and drift.live_digest != desired.digest


def _hold(
    key: JobKey, drift: JobDrift, reason: str, base: dict[str, Any], why: HoldReason
) -> JobAction:
    held = JobDrift(
        drift.key, DriftState.HELD, drift.changes, drift.path, reason,
        drift.owned, drift.live_digest, drift.notes,
    )  # fmt: skip
    return JobAction(key, ActionKind.HOLD, held, reason, hold_reason=why, **base)


def _maybe_promote(
    desired: DesiredJob, live: LiveJob, drift: JobDrift, policy: SyncPolicy, base: dict[str, Any],
    facts: PromotionFacts | None, now: float,
) -> JobAction:
    dep = live.active_deployment
    if dep is None or not dep.awaiting_promotion:
        return JobAction(desired.key, ActionKind.NONE, drift, "", **base)
    if policy.soak_promotion:
        if facts is None or facts.deployment_id != dep.id:
            reason = "awaiting promotion: its rollout is not followed yet"
            return JobAction(
                desired.key, ActionKind.NONE, drift, reason, deployment_id=dep.id, **base
            )
        decision = decide_promotion(
            dep, soak=soak_or_none(desired.canonical.get("Meta"), default=policy.promote_after),
            healthy_since=facts.healthy_since, now=now, analysis=facts.analysis,
            promoted=facts.promoted,
        )  # fmt: skip
        kind = ActionKind.PROMOTE if decision.promote else ActionKind.NONE
        return JobAction(
            desired.key, kind, drift, decision.reason, deployment_id=dep.id, **base
        )
    allowed = policy.promote or wants_auto_promote(desired.canonical.get("Meta"))
    dep_id = dep.id
    if not allowed:
        reason = "awaiting promotion (not allowed by policy: --promote or Meta auto-promote)"
        return JobAction(desired.key, ActionKind.NONE, drift, reason, deployment_id=dep_id, **base)
    if not dep.canaries_healthy:
        reason = "awaiting promotion: canaries not yet healthy"
        return JobAction(desired.key, ActionKind.NONE, drift, reason, deployment_id=dep_id, **base)
    return JobAction(
        desired.key, ActionKind.PROMOTE, drift, "canaries healthy", deployment_id=dep_id, **base
    )


def _cap_deployments(
    actions: list[JobAction], cluster: ClusterState, policy: SyncPolicy
) -> list[JobAction]:
    """Without --wait, hold registrations beyond the concurrent-deployment cap.

    With --wait the applier enforces the cap itself (it waits for slots).
    """
    cap = policy.max_concurrent_deployments
    if cap <= 0 or policy.wait:
        return actions
    busy = {k for k, live in cluster.jobs.items() if live.active_deployment is not None}
    budget = max(cap - len(busy), 0)
    out: list[JobAction] = []
    for action in sorted(actions, key=lambda a: (a.wave, a.key)):
        if action.kind is ActionKind.REGISTER and action.key not in busy:
            if budget <= 0:
                reason = f"deployment cap reached ({cap} concurrent deployments)"
                out.append(_hold(
                    action.key, action.drift, reason, _base(action), HoldReason.DEPLOYMENT_CAP))
                continue
            budget -= 1
        out.append(action)
    return out


def _base(action: JobAction) -> dict[str, Any]:
    return {"wave": action.wave, "desired": action.desired, "live": action.live}
