"""Machine output: the stable ``--json`` document of ``plan``, ``sync`` and ``status``.

Schema ``nomad-reconciler/v1``, documented in docs/json-output.md.  Fields are
only ever added within a schema version; renaming or removing one bumps it.
Every value from a job passes through redaction unless ``show_secrets``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.actions import JobAction, Plan
from reconciler.core.diff import FieldChange, ObjectChange
from reconciler.core.redact import REDACTED
from reconciler.model import Revision
from reconciler.sync.outcome import JobOutcome, PassResult, Rollout

SCHEMA = "nomad-reconciler/v1"


def field_json(f: FieldChange, *, show_secrets: bool) -> dict[str, Any]:
    hide = f.sensitive and not show_secrets
    return {
        "kind": f.kind.value,
        "name": f.name,
        "old": REDACTED if hide and f.old is not None else f.old,
        "new": REDACTED if hide and f.new is not None else f.new,
        "sensitive": f.sensitive,
    }


def changes_json(obj: ObjectChange, *, show_secrets: bool) -> dict[str, Any]:
    return {
        "kind": obj.kind.value,
        "label": obj.label,
        "name": obj.name,
        "fields": [field_json(f, show_secrets=show_secrets) for f in obj.fields],
        "objects": [changes_json(o, show_secrets=show_secrets) for o in obj.objects],
    }


def rollout_json(rollout: Rollout) -> dict[str, Any]:
    return {
        "deployment_id": rollout.deployment_id,
        "status": rollout.status,
        "description": rollout.description,
        "promoted": rollout.promoted,
        "analysis": list(rollout.analysis),
        "groups": [
            {
                "name": g.name,
                "desired": g.desired,
                "placed": g.placed,
                "healthy": g.healthy,
                "unhealthy": g.unhealthy,
                "desired_canaries": g.desired_canaries,
                "placed_canaries": g.placed_canaries,
                "promoted": g.promoted,
            }
            for g in rollout.groups
        ],
    }


def job_json(
    action: JobAction, outcome: JobOutcome | None, *, show_secrets: bool,
    analysis: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    live = action.live
    deployment = live.deployment if live is not None else None
    return {
        "namespace": action.key[0],
        "id": action.key[1],
        "path": action.path,
        "state": action.drift.state.value,
        "action": action.label,
        "reason": action.reason,
        "wave": action.wave,
        "owned": action.drift.owned,
        "digest": action.desired.digest if action.desired else None,
        "live_digest": action.drift.live_digest,
        "job_modify_index": live.job_modify_index if live else None,
        "version": live.version if live else None,
        "status": live.status if live else None,
        "deployment": (
            {
                "id": deployment.id,
                "status": deployment.status_text,
                "description": deployment.description,
            }
            if deployment is not None
            else None
        ),
        "notes": list(action.drift.notes),
        "changes": (
            changes_json(action.drift.changes, show_secrets=show_secrets)
            if action.drift.changes is not None
            else None
        ),
        "result": outcome.result.value if outcome else None,
        "message": outcome.message if outcome else "",
        # Who must act on a failure: "file" (fix it) or "cluster" (a retry may pass).
        "cause": outcome.error.cause.value if outcome and outcome.error else None,
        "annotations": dict(outcome.annotations) if outcome and outcome.annotations else None,
        "warnings": outcome.warnings if outcome else "",
        "rollout": rollout_json(outcome.rollout) if outcome and outcome.rollout else None,
        # status: the canary analysis of a deployment in progress, or of the failed deployment
        # that holds the job (sync.status_analysis)
        "analysis": dict(analysis) if analysis is not None else None,
    }


def plan_counts(plan: Plan) -> dict[str, int]:
    keys = ("create", "update", "prune", "purge", "promote", "hold", "none")
    counts = dict.fromkeys(keys, 0)
    for action in plan.actions:
        counts[action.label] += 1
    return counts


def build_report(
    command: str,
    plan: Plan,
    *,
    outcomes: Sequence[JobOutcome] = (),
    result: PassResult | None = None,
    revision: Revision | None = None,
    server_version: str = "",
    show_secrets: bool = False,
    exit_code: int = 0,
    analysis: Mapping[Any, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole ``--json`` document (``analysis``: per job key, ``status``'s analysis)."""
    by_key: Mapping[Any, JobOutcome] = {o.key: o for o in outcomes}
    return {
        "schema": SCHEMA,
        "command": command,
        "exit_code": exit_code,
        "dry_run": result.dry_run if result else True,
        "server_version": server_version,
        "revision": (
            {"commit": revision.commit, "dirty": revision.dirty, "ref": revision.ref}
            if revision
            else None
        ),
        "in_sync": not plan.has_changes and not plan.has_errors,
        "plan": plan_counts(plan),
        "summary": result.summary() if result else None,
        "unmanaged": plan.unmanaged,
        "errors": [d.to_json() for d in plan.errors],
        "refusals": list(plan.refusals),
        "jobs": [
            job_json(a, by_key.get(a.key), show_secrets=show_secrets, analysis=(analysis or {}).get(a.key))
            for a in plan.actions
        ],
    }
