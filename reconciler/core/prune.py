"""When an orphan may be pruned: the guards that need time and memory.  Purely computational.

``compute_plan`` finds the orphans (owned jobs no longer declared) and asks
``decide_prune_guards`` which of them may be stopped *now*.  Everything that
depends on the past comes in as data (``PruneHistory``, kept by the daemon
between passes) and the time as ``now``; nothing here reads a clock or a file.

The guards, on top of the per-snapshot ones in ``plan`` (no load error, a
non-empty checkout):

- a checkout being changed (``Revision.busy``: git holds ``.git/index.lock``
  during a checkout, pull or merge) is never pruned from: a file moved by a
  checkout is deleted and created a moment later, and the job must not be
  stopped in between;
- an orphan is pruned only once it has been absent from the checkout for
  ``prune_grace`` seconds (seen absent by snapshots that far apart): a file
  that comes back meanwhile never stops its job;
- at most ``max_prune`` of the owned jobs are pruned within any
  ``prune_window`` seconds, counting the prunes already made in that window:
  deleting files one at a time cannot get around the fraction.

A one-shot ``sync`` has no history: every orphan counts as absent long enough
and the window holds only this pass, which is the per-pass rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.model import JobKey, Snapshot


@dataclass(frozen=True)
class PruneHistory:
    """What the caller remembers between passes (times on the clock of ``now``).

    ``absent_since``: when each orphan was first seen undeclared (a key that
    is missing was not seen absent before: its grace starts now).
    ``pruned_at``: when each recent prune was made (older ones may be dropped).
    """

    absent_since: Mapping[JobKey, float] = field(default_factory=dict)
    pruned_at: Sequence[float] = ()


@dataclass(frozen=True)
class PruneGuards:
    """The verdict for one pass's orphans."""

    allowed: tuple[JobKey, ...] = ()
    waiting: Mapping[JobKey, str] = field(default_factory=dict)  # in their grace period
    refusal: str | None = None  # every other candidate is held for this reason
    recheck_in: float | None = None  # seconds until a waiting orphan's grace ends


def decide_prune_guards(
    candidates: Sequence[JobKey],
    *,
    owned_total: int,
    snapshot: Snapshot,
    max_prune: float,
    grace: float,
    window: float,
    history: PruneHistory | None,
    now: float,
) -> PruneGuards:
    """Which ``candidates`` (orphans the snapshot guards already let through) may go now."""
    if not candidates:
        return PruneGuards()
    revision = snapshot.revision
    if revision is not None and revision.busy:
        return PruneGuards(
            refusal=(
                "prune refused: the checkout is being changed (.git/index.lock present: a "
                "checkout, pull or merge in progress); pruning waits until it settles"
            ),
            recheck_in=1.0,
        )
    waiting: dict[JobKey, str] = {}
    ripe: list[JobKey] = []
    recheck: float | None = None
    for key in candidates:
        since = history.absent_since.get(key) if history is not None else None
        absent_for = (now - since) if since is not None else (0.0 if history is not None else math.inf)
        if absent_for < grace:
            left = grace - absent_for
            waiting[key] = (
                f"not declared for {absent_for:.0f}s; pruned once absent for --prune-grace "
                f"{grace:g}s (a file a checkout moves comes back meanwhile)"
            )
            recheck = left if recheck is None else min(recheck, left)
        else:
            ripe.append(key)
    if not ripe:
        return PruneGuards(waiting=waiting, recheck_in=recheck)
    recent = 0
    if history is not None and window > 0:
        recent = sum(1 for at in history.pruned_at if now - at < window)
    if owned_total and (recent + len(ripe)) / owned_total > max_prune:
        within = f" within --prune-window {window:g}s" if window > 0 else ""
        already = f" ({recent} already pruned)" if recent else ""
        return PruneGuards(
            waiting=waiting,
            refusal=(
                f"prune refused: {recent + len(ripe)} of {owned_total} owned jobs would be "
                f"removed{within}{already}, more than --max-prune {max_prune:g}; raise "
                "--max-prune to confirm"
            ),
            recheck_in=recheck,
        )
    return PruneGuards(allowed=tuple(ripe), waiting=waiting, recheck_in=recheck)
