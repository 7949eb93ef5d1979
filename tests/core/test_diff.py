"""Drift of one job: states, nested changes, counts, stops, ownership keys."""

from __future__ import annotations

import copy

import pytest

from reconciler.core.diff import ChangeKind, DriftState, compute_job_drift
from reconciler.core.ownership import stamp_job
from tests.support.jobs import corpus_job, corpus_names, desired, live_from


@pytest.mark.parametrize("name", corpus_names())
def test_every_corpus_job_is_in_sync_with_its_own_registration(name: str) -> None:
    d = desired(corpus_job(name))
    drift = compute_job_drift(d, live_from(d))
    assert drift.state is DriftState.IN_SYNC, drift.changes
    assert drift.changes is None
    assert drift.owned


def test_missing_job_lists_everything_as_added() -> None:
    d = desired(corpus_job("01-minimal-service"))
    drift = compute_job_drift(d, None)
    assert drift.state is DriftState.MISSING
    assert drift.changes is not None and drift.changes.kind is ChangeKind.ADDED
    assert drift.changes.find("Task Group", "app") is not None


def test_orphaned_only_when_stamped_else_unmanaged() -> None:
    d = desired(corpus_job("01-minimal-service"))
    orphan = compute_job_drift(None, live_from(d))
    assert orphan.state is DriftState.ORPHANED and orphan.path == d.path
    foreign = compute_job_drift(None, live_from(d, owned=False))
    assert foreign.state is DriftState.UNMANAGED and not foreign.owned


def test_needs_one_side() -> None:
    with pytest.raises(ValueError):
        compute_job_drift(None, None)


def test_unowned_matching_job_is_in_sync_and_not_owned() -> None:
    # adoption without a write: the stamp is not part of the comparison
    d = desired(corpus_job("01-minimal-service"))
    drift = compute_job_drift(d, live_from(d, owned=False))
    assert drift.state is DriftState.IN_SYNC and not drift.owned


def test_count_change_is_nested_under_its_group() -> None:
    d = desired(corpus_job("01-minimal-service"))
    live = live_from(d)
    live["TaskGroups"][0]["Count"] = 4
    drift = compute_job_drift(d, live)
    assert drift.state is DriftState.MODIFIED
    assert drift.changes is not None
    group = drift.changes.find("Task Group", "app")
    assert group is not None and group.kind is ChangeKind.EDITED
    [field] = group.fields
    assert (field.name, field.old, field.new) == ("Count", 4, 1)


def test_scaling_block_keeps_the_live_count() -> None:
    job = corpus_job("01-minimal-service")
    job["TaskGroups"][0]["Scaling"] = {"Min": 1, "Max": 10, "Enabled": True}
    d = desired(job)
    live = live_from(d)
    live["TaskGroups"][0]["Count"] = 7
    drift = compute_job_drift(d, live)
    assert drift.state is DriftState.IN_SYNC
    assert "live count 7 kept" in drift.notes[0]


def test_preserve_counts_keeps_every_live_count_but_not_other_changes() -> None:
    d = desired(corpus_job("01-minimal-service"))
    live = live_from(d)
    live["TaskGroups"][0]["Count"] = 3
    assert compute_job_drift(d, live, preserve_counts=True).state is DriftState.IN_SYNC
    live["Priority"] = 70
    drift = compute_job_drift(d, live, preserve_counts=True)
    assert drift.state is DriftState.MODIFIED
    assert drift.changes is not None
    assert [f.name for f in drift.changes.fields] == ["Priority"]


def test_stopped_job_is_drift() -> None:
    d = desired(corpus_job("01-minimal-service"))
    drift = compute_job_drift(d, live_from(d, Stop=True, Status="dead"))
    assert drift.state is DriftState.MODIFIED and drift.reason == "stopped"
    assert drift.changes is not None
    [field] = drift.changes.fields
    assert (field.name, field.old, field.new) == ("Stop", True, False)


def test_server_fields_and_stamp_never_drift() -> None:
    d = desired(corpus_job("01-minimal-service"))
    live = live_from(d, Version=99, JobModifyIndex=1234, NomadTokenID="abc", Status="pending")
    live = stamp_job(live, source="elsewhere.nomad", digest="0" * 16)
    assert compute_job_drift(d, live).state is DriftState.IN_SYNC


def test_empty_and_null_are_the_same() -> None:
    job = corpus_job("01-minimal-service")
    d = desired(job)
    live = live_from(d, Constraints=[], Meta={})
    assert compute_job_drift(d, live).state is DriftState.IN_SYNC


def test_env_and_meta_changes_are_flat_map_fields_env_sensitive() -> None:
    d = desired(corpus_job("01-minimal-service"))
    live = live_from(d)
    task = live["TaskGroups"][0]["Tasks"][0]
    task["Env"] = {"DB_PASSWORD": "hunter2"}
    live["Meta"] = dict(live["Meta"], owner="ops")
    drift = compute_job_drift(d, live)
    assert drift.changes is not None
    [meta] = drift.changes.fields
    assert (meta.name, meta.kind, meta.sensitive) == ("Meta[owner]", ChangeKind.DELETED, False)
    task_change = drift.changes.find("Task Group", "app")
    assert task_change is not None
    [env] = task_change.objects[0].fields
    assert env.name == "Env[DB_PASSWORD]" and env.sensitive


def test_reordered_constraints_are_not_drift_but_a_changed_one_is() -> None:
    job = corpus_job("10-constraints")
    d = desired(job)
    live = live_from(d)
    assert live["Constraints"] and len(live["Constraints"]) > 1
    live["Constraints"] = list(reversed(live["Constraints"]))
    assert compute_job_drift(d, live).state is DriftState.IN_SYNC
    changed = copy.deepcopy(live)
    changed["Constraints"][0]["RTarget"] = "something-else"
    drift = compute_job_drift(d, changed)
    assert drift.state is DriftState.MODIFIED
    assert drift.changes is not None and drift.changes.objects[0].label == "Constraints"


def test_added_group_is_an_added_object() -> None:
    job = corpus_job("01-minimal-service")
    d = desired(job)
    live = live_from(d)
    extra = copy.deepcopy(live["TaskGroups"][0])
    extra["Name"] = "extra"
    live["TaskGroups"].append(extra)
    drift = compute_job_drift(d, live)
    assert drift.changes is not None
    group = drift.changes.find("Task Group", "extra")
    assert group is not None and group.kind is ChangeKind.DELETED


def test_zero_valued_struct_equals_absent_but_a_set_field_does_not() -> None:
    d = desired(corpus_job("07-batch-periodic"))
    live = live_from(d)
    zero = {"AutoRevert": False, "Canary": 0, "HealthCheck": "", "MaxParallel": 0, "Stagger": 0}
    live["TaskGroups"][0]["Update"] = zero
    assert compute_job_drift(d, live).state is DriftState.IN_SYNC
    live["TaskGroups"][0]["Update"] = dict(zero, MaxParallel=2)
    assert compute_job_drift(d, live).state is DriftState.MODIFIED
