"""Nomad's answers to a job write or plan, as typed values every layer shares.

Responsibility: what a plan answer (``PUT /v1/job/:id/plan``) and a write
answer (register, deregister) *are*: the diff Nomad computed, its per-group
annotations, the groups it could not place, its warnings, the evaluation a
write created.  Pure, frozen data; it knows nothing of JSON (Nomad's field
names are read in ``reconciler/nomad/objects.py``, the only parser), so the
pure core (the arbiter, ``core/arbiter.py``) may judge a plan's diff.

Shapes follow ``api/jobs.go`` (``JobPlanResponse``, ``JobDiff``,
``TaskGroupDiff``, ``TaskDiff``, ``ObjectDiff``, ``FieldDiff``,
``PlanAnnotations``, ``DesiredUpdates``, ``JobRegisterResponse``,
``JobDeregisterResponse``), the same at v1.0.18, v1.9.6 and v2.0.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NO_CHANGE = "None"
"""A diff's ``Type`` when nothing changed (``DiffTypeNone`` in ``nomad/structs/diff.go``)."""


@dataclass(frozen=True)
class FieldDiff:
    """One changed (or unchanged) field: ``Type`` is ``Added``, ``Deleted``, ``Edited`` or ``None``."""

    type: str
    name: str
    old: str = ""
    new: str = ""


@dataclass(frozen=True)
class ObjectDiff:
    """A nested block (``ObjectDiff``), or a task or group with its own ``Name``."""

    type: str
    name: str = ""
    fields: tuple[FieldDiff, ...] = ()
    objects: tuple[ObjectDiff, ...] = ()

    @property
    def changed(self) -> bool:
        return self.type not in ("", NO_CHANGE)


@dataclass(frozen=True)
class TaskGroupDiff(ObjectDiff):
    """A task group's diff: its own fields and blocks, and its tasks' (``TaskDiff``)."""

    tasks: tuple[ObjectDiff, ...] = ()


@dataclass(frozen=True)
class JobDiff(ObjectDiff):
    """A plan's ``Diff``: the job's ``ID``, its fields and blocks, and its groups'."""

    id: str = ""
    task_groups: tuple[TaskGroupDiff, ...] = ()


@dataclass(frozen=True)
class JobPlan:
    """A plan answer (``JobPlanResponse``).

    ``diff`` is ``None`` when Nomad sent none (a plan asked without
    ``Diff: true``): then its verdict is unknown.  ``annotations`` is, per
    group, ``DesiredUpdates``' counts (``Place``, ``Stop``, ``Canary``, ...),
    as ``nomad job plan`` prints them; ``failed_groups`` are the groups of
    ``FailedTGAllocs`` (not placeable now).
    """

    job_modify_index: int = 0
    diff: JobDiff | None = None
    annotations: Mapping[str, Mapping[str, int]] | None = None
    failed_groups: tuple[str, ...] = ()
    warnings: str = ""


@dataclass(frozen=True)
class JobWrite:
    """A register's or deregister's answer (``JobRegisterResponse``, ``JobDeregisterResponse``).

    ``eval_id`` is ``None`` when Nomad created no evaluation (a periodic or
    parameterized job's register); deregistering a job that does not exist
    still creates one (tests/golden/api/09-stop-deregister-missing.jsonl).
    Do not feed ``job_modify_index`` back into ``EnforceIndex``: for an
    unchanged spec it is ``ModifyIndex`` since Nomad 1.11.2
    (``nomad/job_endpoint.go``).
    """

    eval_id: str | None = None
    eval_create_index: int = 0
    job_modify_index: int = 0
    warnings: str = ""
