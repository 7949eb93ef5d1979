"""The prune guards that need time and memory: a table of pure decisions."""

from __future__ import annotations

import math

import pytest

from reconciler.core.prune import PruneHistory, decide_prune_guards
from reconciler.model import Revision, Snapshot

A, B, C = ("default", "a"), ("default", "b"), ("default", "c")
CLEAN = Snapshot(root="/jobs", jobs=(), revision=Revision(commit="c0ffee"))
BUSY = Snapshot(root="/jobs", jobs=(), revision=Revision(commit="c0ffee", busy=True))


def decide(candidates, *, history=None, snapshot=CLEAN, owned=10, max_prune=0.3, grace=30.0,
           window=600.0, now=1000.0):  # type: ignore[no-untyped-def]
    return decide_prune_guards(
        candidates, owned_total=owned, snapshot=snapshot, max_prune=max_prune, grace=grace,
        window=window, history=history, now=now,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("candidates", "history", "snapshot", "allowed", "waiting", "refused"),
    [
        # one-shot (no history): the per-pass rule only
        ([A, B], None, CLEAN, (A, B), set(), False),
        ([A, B, C, ("default", "d")], None, CLEAN, (), set(), True),
        # a checkout in progress: nothing, whatever the history
        ([A], PruneHistory({A: 0.0}), BUSY, (), set(), True),
        ([A], None, BUSY, (), set(), True),
        # grace: first seen absent now, or 10 s ago, waits; 30 s ago goes
        ([A], PruneHistory(), CLEAN, (), {A}, False),
        ([A, B], PruneHistory({A: 990.0, B: 970.0}), CLEAN, (B,), {A}, False),
        # the window: 2 pruned in the last 10 minutes + 2 now > 0.3 of 10
        ([A, B], PruneHistory({A: 0.0, B: 0.0}, pruned_at=(900.0, 950.0)), CLEAN, (), set(), True),
        # ... but prunes older than the window no longer count
        ([A], PruneHistory({A: 0.0}, pruned_at=(100.0, 200.0, 300.0)), CLEAN, (A,), set(), False),
        ([A], PruneHistory({A: 0.0}, pruned_at=(450.0, 900.0, 950.0)), CLEAN, (), set(), True),
    ],
)
def test_prune_guards(candidates, history, snapshot, allowed, waiting, refused) -> None:  # type: ignore[no-untyped-def]
    guards = decide(candidates, history=history, snapshot=snapshot)
    assert guards.allowed == allowed
    assert set(guards.waiting) == waiting
    assert (guards.refusal is not None) is refused


def test_refusals_and_waits_say_why_and_when_to_look_again() -> None:
    busy = decide([A], snapshot=BUSY)
    assert busy.refusal is not None and "index.lock" in busy.refusal and busy.recheck_in == 1.0
    waiting = decide([A, B], history=PruneHistory({A: 990.0, B: 995.0}))
    assert "--prune-grace 30s" in waiting.waiting[A] and waiting.recheck_in == pytest.approx(20.0)
    window = decide([A], history=PruneHistory({A: 0.0}, pruned_at=(900.0, 950.0, 990.0)))
    assert window.refusal == (
        "prune refused: 4 of 10 owned jobs would be removed within --prune-window 600s "
        "(3 already pruned), more than --max-prune 0.3; raise --max-prune to confirm"
    )


def test_no_grace_and_no_window_is_the_per_pass_rule() -> None:
    history = PruneHistory(pruned_at=(999.0,) * 5)
    assert decide([A, B, C], history=history, grace=0.0, window=0.0, max_prune=0.3).allowed == (A, B, C)
    assert decide([A], grace=math.inf).allowed == (A,)  # no history: nothing to wait on
