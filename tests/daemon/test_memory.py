"""The daemon's memory: one record per job, and one ``forget`` that drops all of it."""

from __future__ import annotations

import asyncio

from reconciler.daemon.memory import JobMemory, Rejection, Tracking
from reconciler.daemon.ordering import Deferral
from reconciler.deployment import Deployment
from reconciler.nomad.objects import parse_deployment

KEY = ("default", "web")
OTHER = ("default", "api")


def failed_deployment() -> Deployment:
    return parse_deployment({
        "ID": "d1", "Status": "failed", "StatusDescription": "Failed due to unhealthy allocations",
        "TaskGroups": {"web": {"DesiredCanaries": 0, "PlacedCanaries": [], "HealthyAllocs": 0,
                               "UnhealthyAllocs": 1, "Promoted": False}},
    })  # fmt: skip


def test_reading_a_job_never_creates_its_record() -> None:
    memory = JobMemory()
    assert memory.get(KEY) is None
    assert memory.known_index(KEY) is None
    assert memory.rollouts.hold_for(KEY, "digest") is None
    assert memory.rollouts.phase(KEY) is None
    assert KEY not in memory
    record = memory.get_or_create(KEY)
    assert memory.get(KEY) is record and memory.get_or_create(KEY) is record


async def test_forget_drops_the_record_and_cancels_its_timers() -> None:
    memory = JobMemory()
    loop = asyncio.get_running_loop()
    record = memory.get_or_create(KEY)
    record.pending_file, record.known_index, record.absent_since = True, 7, 1.0
    record.tracking = Tracking(job_modify_index=7, digest="new", registered_at=0.0, revision=None)
    record.rollout_timer = rollout = loop.call_later(3600, lambda: None)
    record.heal_timer = heal = loop.call_later(3600, lambda: None)
    retry = loop.call_later(3600, lambda: None)
    record.rejection = Rejection("bad", "invalid", 1, retry_at=0.0, timer=retry)
    memory.rollouts.observe(KEY, failed_deployment(), now=0.0, soak=None, digest="new")
    memory.get_or_create(OTHER).known_index = 3

    assert memory.rollouts.hold_for(KEY, "new") == "Failed due to unhealthy allocations"
    assert memory.pending_files() == {KEY} and set(memory.tracking()) == {KEY}
    memory.forget(KEY)
    assert memory.get(KEY) is None
    assert rollout.cancelled() and heal.cancelled() and retry.cancelled()
    assert memory.pending_files() == frozenset() and memory.tracking() == {}
    assert memory.absent_since() == {} and memory.rollouts.promotion_facts() == {}
    assert memory.rollouts.hold_for(KEY, "new") is None  # the failed-digest hold went too
    assert memory.known_index(OTHER) == 3  # other jobs keep theirs


async def test_shutdown_cancels_every_timer_and_keeps_the_records() -> None:
    memory = JobMemory()
    loop = asyncio.get_running_loop()
    timers = [loop.call_later(3600, lambda: None) for _ in range(2)]
    memory.get_or_create(KEY).rollout_timer = timers[0]
    memory.get_or_create(OTHER).heal_timer = timers[1]
    memory.cancel_timers()
    assert all(t.cancelled() for t in timers)
    record = memory.get(KEY)
    assert record is not None and record.rollout_timer is None


def test_an_index_reset_forgets_every_index_and_deferred_changes_are_taken_once() -> None:
    memory = JobMemory()
    memory.get_or_create(KEY).known_index = 5
    memory.get_or_create(OTHER).deferral = Deferral(OTHER, "wave", "after wave 0")
    memory.forget_indexes()
    assert memory.known_index(KEY) is None
    assert set(memory.deferred()) == {OTHER}
    assert memory.take_deferred() == [OTHER]
    assert memory.deferred() == {} and memory.take_deferred() == []
