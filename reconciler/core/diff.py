"""Drift of one job: the desired spec against the job Nomad runs.

A purely computational module: no I/O, no clock.  The caller hands in the
desired job (already canonicalized by the loader) and the live job already
passed through ``strip_server_fields`` at the client boundary; this module
still ignores Nomad's bookkeeping fields and the reconciler's own ownership
stamp, so a live job read raw can never look drifted because of them.

The result is a state (see ``DriftState``) and a nested, field-level change
tree shaped like ``nomad job plan``'s diff: the job, its task groups, their
tasks, and nested objects (``Config``, ``Service``, ...) with ``+``/``-``/``~``
field changes.  Values are kept raw; redaction happens when shown
(``FieldChange.sensitive`` says which).

Counts a human or an autoscaler owns are not drift: for a group with a
``scaling`` block, or every group under ``preserve_counts``, the live count wins.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.ownership import read_ownership, strip_stamp
from reconciler.core.redact import is_sensitive_path
from reconciler.jobspec.canonical_versions import Version, canonicalize_for_version
from reconciler.model import ApiJob, DesiredJob, JobKey


class DriftState(enum.StrEnum):
    IN_SYNC = "in_sync"
    MISSING = "missing"  # declared, not in Nomad
    MODIFIED = "modified"  # declared and live, but they differ
    ORPHANED = "orphaned"  # ours (stamped), no longer declared
    ERROR = "error"  # its file does not load, or Nomad refused it
    HELD = "held"  # not submitted on purpose (set by the planner)
    UNMANAGED = "unmanaged"  # live, not ours, not declared: counted, never touched


class ChangeKind(enum.StrEnum):
    ADDED = "added"
    DELETED = "deleted"
    EDITED = "edited"

    @property
    def sign(self) -> str:
        return {"added": "+", "deleted": "-", "edited": "~"}[self.value]


# Fields Nomad manages itself: never drift, whatever the caller passed in.
SERVER_FIELDS = frozenset(
    {
        "Status", "StatusDescription", "Stable", "Version", "SubmitTime", "CreateIndex",
        "ModifyIndex", "JobModifyIndex", "NomadTokenID", "VersionTag", "ParentID",
        "Dispatched", "DispatchIdempotencyToken", "Payload", "JobSummary",
    }
)  # fmt: skip

# Maps whose keys the user chooses: shown as ``Meta[key]`` fields like Nomad does.
_FLAT_MAPS = frozenset({"Meta", "Env"})
# How nested lists of named objects are labelled in the tree.
_LABELS = {"TaskGroups": "Task Group", "Tasks": "Task"}


@dataclass(frozen=True)
class FieldChange:
    """One primitive field that differs.  ``old`` is live, ``new`` is desired."""

    kind: ChangeKind
    name: str
    old: Any
    new: Any
    sensitive: bool = False


@dataclass(frozen=True)
class ObjectChange:
    """A nested object (job, group, task, ``Config``, ...) with changes inside."""

    kind: ChangeKind
    label: str  # "Job", "Task Group", "Task", or the field name ("Config", "Services")
    name: str  # the object's Name where it has one, else ""
    fields: tuple[FieldChange, ...] = ()
    objects: tuple[ObjectChange, ...] = ()

    def count(self) -> int:
        """Number of field changes in this subtree."""
        return len(self.fields) + sum(o.count() for o in self.objects)

    def find(self, label: str, name: str) -> ObjectChange | None:
        for obj in self.objects:
            if obj.label == label and obj.name == name:
                return obj
        return None


@dataclass(frozen=True)
class JobDrift:
    """How one job differs.  ``changes`` is None when there is nothing to show."""

    key: JobKey
    state: DriftState
    changes: ObjectChange | None = None
    path: str | None = None  # the declaring file, relative to the jobs directory
    reason: str = ""  # human explanation for non-obvious states
    owned: bool = False  # the live job carries our ownership stamp
    live_digest: str | None = None  # the digest stamped on the live job, if any
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        return self.state in (DriftState.MISSING, DriftState.MODIFIED)

    def summary(self) -> str:
        """One line: what kind of drift, for tables and logs."""
        if self.state is DriftState.MODIFIED and self.changes is not None:
            n = self.changes.count()
            return f"{n} field{'s' if n != 1 else ''} differ" + (
                f" ({self.reason})" if self.reason else ""
            )
        return self.reason or self.state.value.replace("_", " ")


def compute_job_drift(
    desired: DesiredJob | None,
    actual: ApiJob | None,
    *,
    preserve_counts: bool = False,
    server_version: Version | None = None,
) -> JobDrift:
    """Compare a declared job with the live one.  At least one must be given.

    ``actual`` must be the full live job (``GET /v1/job/:id``), preferably after
    ``strip_server_fields``.  ``server_version`` is the connected Nomad's: the
    desired job is then filled with that release's read-back defaults
    (``canonicalize_for_version``); without it, Nomad 1.0's.
    """
    if desired is None and actual is None:
        raise ValueError("compute_job_drift needs a desired or a live job")
    ownership = read_ownership(actual.get("Meta")) if actual is not None else None
    owned = ownership is not None
    live_digest = ownership.digest if ownership else None
    if desired is None:
        assert actual is not None
        key = (str(actual.get("Namespace") or "default"), str(actual.get("ID")))
        if owned:
            assert ownership is not None
            return JobDrift(
                key, DriftState.ORPHANED, path=ownership.source, owned=True,
                live_digest=live_digest, reason=f"no longer declared (was {ownership.source})",
            )  # fmt: skip
        return JobDrift(key, DriftState.UNMANAGED, reason="not declared, not owned")
    if actual is None:
        changes = _diff_object(
            "Job", desired.job_id, None, _comparable(desired.canonical)
        )
        return JobDrift(desired.key, DriftState.MISSING, changes=changes, path=desired.path)

    canonical = (
        canonicalize_for_version(desired.canonical, server_version)
        if server_version is not None
        else desired.canonical
    )
    new = _comparable(canonical)
    old = _comparable(actual)
    notes: list[str] = []
    _keep_live_counts(new, old, preserve_counts=preserve_counts, notes=notes)
    changes = _diff_object("Job", desired.job_id, old, new)
    if changes is None:
        return JobDrift(
            desired.key, DriftState.IN_SYNC, path=desired.path, owned=owned,
            live_digest=live_digest, notes=tuple(notes),
        )  # fmt: skip
    reason = "stopped" if old.get("Stop") and not new.get("Stop") else ""
    return JobDrift(
        desired.key, DriftState.MODIFIED, changes=changes, path=desired.path, owned=owned,
        live_digest=live_digest, reason=reason, notes=tuple(notes),
    )  # fmt: skip


def _comparable(job: ApiJob) -> dict[str, Any]:
    """A deep copy without server fields and without our ownership stamp."""
    out = {k: copy.deepcopy(v) for k, v in job.items() if k not in SERVER_FIELDS}
    out["Meta"] = strip_stamp(job.get("Meta"))
    out["Stop"] = bool(job.get("Stop"))
    return out


def _keep_live_counts(
    new: dict[str, Any], old: Mapping[str, Any], *, preserve_counts: bool, notes: list[str]
) -> None:
    live = {g.get("Name"): g for g in old.get("TaskGroups") or () if isinstance(g, dict)}
    for group in new.get("TaskGroups") or ():
        if not isinstance(group, dict):
            continue
        current = live.get(group.get("Name"))
        if current is None or current.get("Count") == group.get("Count"):
            continue
        if preserve_counts or group.get("Scaling"):
            why = "scaling block" if group.get("Scaling") else "--preserve-counts"
            notes.append(
                f"group {group.get('Name')!r}: live count {current.get('Count')} kept "
                f"(file says {group.get('Count')}; {why})"
            )
            group["Count"] = current.get("Count")


def _empty(value: Any) -> bool:
    # Nomad nils empty maps and lists: [] {} and null are the same thing.  A
    # struct of zero values (Go's zero value, e.g. a batch group's Update) is
    # indistinguishable from an absent one, so it is empty too.
    if value is None or value == [] or value == {}:
        return True
    if isinstance(value, dict):
        return all(_zero(v) for v in value.values())
    return False


def _zero(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_zero(v) for v in value.values())
    return value is None or value is False or value == 0 or value == "" or value == []


def _same(a: Any, b: Any) -> bool:
    if _empty(a) and _empty(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return all(_same(a.get(k), b.get(k)) for k in keys)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _kind(old: Any, new: Any) -> ChangeKind:
    if _empty(old):
        return ChangeKind.ADDED
    if _empty(new):
        return ChangeKind.DELETED
    return ChangeKind.EDITED


def _named_list(value: Any) -> bool:
    """A list of objects that each have a unique Name: matched by name, not position."""
    if not isinstance(value, list) or not value:
        return False
    names = [v.get("Name") for v in value if isinstance(v, dict)]
    return (
        len(names) == len(value)
        and all(isinstance(n, str) for n in names)
        and len(set(names)) == len(names)
    )


def _diff_object(
    label: str, name: str, old: Any, new: Any, path: tuple[str, ...] = ()
) -> ObjectChange | None:
    old_d = old if isinstance(old, dict) else {}
    new_d = new if isinstance(new, dict) else {}
    if _same(old_d, new_d) and not (old is None) ^ (new is None):
        return None
    kind = (
        ChangeKind.ADDED
        if old is None
        else ChangeKind.DELETED
        if new is None
        else ChangeKind.EDITED
    )
    fields: list[FieldChange] = []
    objects: list[ObjectChange] = []
    for key in sorted(set(old_d) | set(new_d)):
        a, b = old_d.get(key), new_d.get(key)
        if _same(a, b):
            continue
        here = (*path, key)
        if key in _FLAT_MAPS and (isinstance(a, dict) or isinstance(b, dict)):
            fields.extend(_diff_flat_map(key, a or {}, b or {}, here))
        elif isinstance(a, dict) or isinstance(b, dict):
            sub = _diff_object(
                key,
                "",
                a if isinstance(a, dict) else None,
                b if isinstance(b, dict) else None,
                here,
            )
            if sub is not None:
                objects.append(sub)
        elif _named_list(a) or _named_list(b):
            objects.extend(_diff_named_list(key, a or [], b or [], here))
        elif _has_objects(a) or _has_objects(b):
            objects.extend(_diff_positional(key, a or [], b or [], here))
        else:
            fields.append(FieldChange(_kind(a, b), key, a, b, is_sensitive_path(here)))
    if kind is ChangeKind.EDITED and not fields and not objects:
        return None
    return ObjectChange(kind, label, name, tuple(fields), tuple(objects))


def _has_objects(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(v, dict | list) for v in value)


def _diff_flat_map(
    key: str, old: Mapping[str, Any], new: Mapping[str, Any], path: tuple[str, ...]
) -> Iterable[FieldChange]:
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if not _same(a, b):
            yield FieldChange(_kind(a, b), f"{key}[{k}]", a, b, is_sensitive_path((*path, k)))


def _diff_named_list(
    key: str, old: list[Any], new: list[Any], path: tuple[str, ...]
) -> Iterable[ObjectChange]:
    label = _LABELS.get(key, key)
    by_old = {o["Name"]: o for o in old if isinstance(o, dict)}
    by_new = {n["Name"]: n for n in new if isinstance(n, dict)}
    order = [n for n in by_new] + [o for o in by_old if o not in by_new]
    for name in order:
        sub = _diff_object(label, name, by_old.get(name), by_new.get(name), path)
        if sub is not None:
            yield sub


def _diff_positional(
    key: str, old: list[Any], new: list[Any], path: tuple[str, ...]
) -> Iterable[ObjectChange]:
    # Unnamed objects (constraints, templates, ports): compare as unordered
    # multisets first so a reorder is not drift, then pair what is left by position.
    remaining_new = list(new)
    unmatched_old: list[Any] = []
    for item in old:
        match = next((i for i, n in enumerate(remaining_new) if _same(item, n)), None)
        if match is None:
            unmatched_old.append(item)
        else:
            remaining_new.pop(match)
    for i in range(max(len(unmatched_old), len(remaining_new))):
        a = unmatched_old[i] if i < len(unmatched_old) else None
        b = remaining_new[i] if i < len(remaining_new) else None
        if isinstance(a, dict) or isinstance(b, dict):
            sub = _diff_object(
                key,
                "",
                a if isinstance(a, dict) else None,
                b if isinstance(b, dict) else None,
                path,
            )
            if sub is not None:
                yield sub
        else:
            # A list of lists (rare in Nomad jobs): show the element whole.
            yield ObjectChange(
                _kind(a, b),
                key,
                "",
                (FieldChange(_kind(a, b), f"{key}[{i}]", a, b, is_sensitive_path(path)),),
            )
