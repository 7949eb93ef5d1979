"""Rollout ordering across the daemon's passes: waves and the cap on concurrent deployments.

A purely computational module.  The sync engine orders waves within one pass;
the daemon, whose passes are small and frequent, must also keep order
*between* passes: a change of a wave-1 job waits while a lower wave is still
rolling out (or held after a failed rollout, or changing in the same commit),
and at most ``cap`` deployments run at once.  Only changes that come from the
checkout are deferred; a deferred change is re-tried when a rollout ends or a
lower wave has been registered.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass

from reconciler.model import JobKey


@dataclass(frozen=True)
class Deferral:
    key: JobKey
    reason: str  # "wave" or "deployment_cap": the metrics' held reasons
    detail: str


def _name(key: JobKey) -> str:
    return f"{key[0]}/{key[1]}"


def defer_changes(
    changed: Mapping[JobKey, int],
    *,
    deploying: Set[JobKey],
    rolling: Mapping[JobKey, int],
    held: Mapping[JobKey, int],
    cap: int = 0,
) -> dict[JobKey, Deferral]:
    """Which of the ``changed`` jobs (key → wave) must wait, and why.

    ``deploying``: the changed jobs whose registration starts a deployment
    (only those count against ``cap``); ``rolling``: jobs whose rollout is in
    progress (key → wave); ``held``: jobs held after a failed rollout (key →
    wave).  A job never waits for itself: a new spec supersedes its own rollout.
    """
    deferred: dict[JobKey, Deferral] = {}
    lowest = min(changed.values(), default=0)
    blocking = {**held, **rolling}
    for key, wave in sorted(changed.items(), key=lambda kv: (kv[1], kv[0])):
        lower = sorted((w, k) for k, w in blocking.items() if w < wave and k != key)
        if lower:
            w, k = lower[0]
            state = "held after a failed rollout" if k in held and k not in rolling else "rolling out"
            deferred[key] = Deferral(key, "wave", f"waiting for wave {w}: {_name(k)} is {state}")
        elif wave > lowest:
            deferred[key] = Deferral(key, "wave", f"waiting for wave {lowest} of this change")
    if cap > 0:
        slots = cap - sum(1 for k in rolling if k not in changed)
        candidates = sorted((w, k) for k, w in changed.items() if k in deploying and k not in deferred)
        for i, (_w, key) in enumerate(candidates):
            if i >= slots:
                deferred[key] = Deferral(
                    key, "deployment_cap", f"{cap} deployment(s) already running (the cap)"
                )
    return deferred
