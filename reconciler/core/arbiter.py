"""Nomad as the arbiter of drift: what to ask Nomad's plan, and how to read its answer.

A purely computational module.  The local diff (``core.diff``) is a cheap
filter that is usually right; when it says a live job differs from its file,
the sync layer asks Nomad's own plan (``POST /v1/job/:id/plan`` with
``Diff: true``) about the job this module builds, and only Nomad's ``Diff.Type``
decides whether the job is ``modified``.  Nomad fills in its own version's
defaults on both sides before diffing, so a field the local model does not
know never turns into a write.  ARCHITECTURE.md, "Drift", tells the whole rule.

The probe is the very job a register would send (the file's job with the
ownership stamp), except that counts the file does not own (a ``scaling``
block, ``--preserve-counts``) are the live counts: a register keeps those
(``PreserveCounts``), and Nomad's plan request has no such flag.  The one
answer then serves twice: its ``Diff`` is the verdict, its annotations are
what ``plan`` shows and what the register will do.  In the verdict the stamp
itself does not count: a stamp that differs only because the file's digest
moved, or an unowned job that would only gain a stamp (adoption), is in sync
and is never written for it (a Meta change replaces every allocation).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from reconciler.core.diff import ObjectChange
from reconciler.core.ownership import stamped_keys
from reconciler.job_plan import NO_CHANGE, JobDiff, JobPlan, ObjectDiff
from reconciler.model import ApiJob


def compute_arbiter_job(
    submitted: Mapping[str, Any], live_job: Mapping[str, Any], *, preserve_counts: bool
) -> ApiJob:
    """The job to hand Nomad's plan: the job a register sends, with the counts it keeps."""
    probe: ApiJob = copy.deepcopy(dict(submitted))
    live_groups = {
        g.get("Name"): g for g in live_job.get("TaskGroups") or () if isinstance(g, Mapping)
    }
    for group in probe.get("TaskGroups") or ():
        live = live_groups.get(group.get("Name"))
        if live is not None and (preserve_counts or group.get("Scaling")):
            group["Count"] = live.get("Count")
    return probe


def plan_changes_job(plan: JobPlan) -> bool | None:
    """Nomad's verdict in a plan response: would the register change anything but the stamp?

    None when the answer carries no diff (then the caller cannot tell).
    """
    if plan.diff is None:
        return None
    return bool(nomad_diff_fields(plan.diff))


def nomad_diff_fields(diff: JobDiff | None, *, limit: int = 0) -> tuple[str, ...]:
    """The changed fields of a Nomad plan ``Diff`` (``Group/Task: Object.Field``), stamp excluded.

    ``limit`` > 0 keeps only the first ``limit`` fields.
    """
    stamp = {f"Meta[{key}]" for key in stamped_keys()}
    out: list[str] = []

    def fields(obj: ObjectDiff, where: str, *, top: bool = False) -> None:
        for f in obj.fields:
            if f.type == NO_CHANGE or (top and f.name in stamp):
                continue
            out.append(f"{where}{f.name}")
        for o in obj.objects:
            if o.changed:
                fields(o, f"{where}{o.name}.")

    if diff is not None and diff.changed:
        fields(diff, "", top=True)
        for group in diff.task_groups:
            if not group.changed:
                continue
            if group.type in ("Added", "Deleted"):
                out.append(f"{group.name} ({group.type.lower()})")
                continue
            fields(group, f"{group.name}: ")
            for task in group.tasks:
                if task.type in ("Added", "Deleted"):
                    out.append(f"{group.name}/{task.name} ({task.type.lower()})")
                elif task.changed:
                    fields(task, f"{group.name}/{task.name}: ")
    unique = tuple(dict.fromkeys(out))
    return unique[:limit] if limit > 0 else unique


def changed_field_paths(changes: ObjectChange | None) -> tuple[str, ...]:
    """Low-cardinality paths of the fields a local diff changed (``TaskGroups.Tasks.Env``).

    Names of groups, tasks and map keys are left out: these paths label a
    metric that counts where the local model and Nomad disagree.
    """
    if changes is None:
        return ()
    out: list[str] = []
    _collect(changes, (), out)
    return tuple(sorted(set(out)))


_LABEL_PATH = {"Job": "", "Task Group": "TaskGroups", "Task": "Tasks"}


def _collect(obj: ObjectChange, path: tuple[str, ...], out: list[str]) -> None:
    label = _LABEL_PATH.get(obj.label, obj.label)
    here = (*path, label) if label else path
    for change in obj.fields:
        out.append(".".join((*here, _base_name(change.name))))
    for child in obj.objects:
        _collect(child, here, out)


def _base_name(name: str) -> str:
    """``Meta[owner]`` → ``Meta``, ``Args[0]`` → ``Args``: the field, not the key."""
    return name.split("[", 1)[0]
