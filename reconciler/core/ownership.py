"""Ownership and ordering markers the reconciler reads from and writes into job ``Meta``.

Pure functions over Meta maps.  The reconciler stamps two keys into every job
it submits: ``<prefix>source`` (the file, relative to the jobs directory) and
``<prefix>digest`` (the hash of the desired spec).  Never the git commit: that
would make every commit a new job version.  Users may declare two more keys in
their files: ``<prefix>wave`` (rollout order) and ``<prefix>auto-promote``.

Only the two stamped keys are the reconciler's own; the declared ones are part
of the user's spec and are diffed like any other Meta key.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.model import META_PREFIX, ApiJob, DesiredJob

SOURCE = "source"
DIGEST = "digest"
WAVE = "wave"
AUTO_PROMOTE = "auto-promote"

_TRUE = frozenset({"true", "1", "yes", "on"})


@dataclass(frozen=True)
class Ownership:
    """What a live job's Meta says about who submitted it."""

    source: str
    digest: str


def stamped_keys() -> frozenset[str]:
    """The Meta keys the reconciler writes itself (ignored when diffing)."""
    return frozenset({META_PREFIX + SOURCE, META_PREFIX + DIGEST})


def read_ownership(meta: Mapping[str, Any] | None) -> Ownership | None:
    """The ownership stamp in ``meta``, or None when the job is not ours."""
    if not meta:
        return None
    source = meta.get(META_PREFIX + SOURCE)
    if not isinstance(source, str) or not source:
        return None
    digest = meta.get(META_PREFIX + DIGEST)
    return Ownership(source=source, digest=digest if isinstance(digest, str) else "")


def strip_stamp(meta: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``meta`` without the stamped keys; None when nothing else is left (Nomad nils empty maps)."""
    if not meta:
        return None
    own = stamped_keys()
    rest = {k: v for k, v in meta.items() if k not in own}
    return rest or None


def stamp_job(job: ApiJob, *, source: str, digest: str) -> ApiJob:
    """A copy of ``job`` whose Meta carries the ownership stamp; ``job`` is untouched."""
    stamped = copy.deepcopy(job)
    meta = dict(stamped.get("Meta") or {})
    meta[META_PREFIX + SOURCE] = source
    meta[META_PREFIX + DIGEST] = digest
    stamped["Meta"] = meta
    return stamped


def submitted_job(desired: DesiredJob) -> ApiJob:
    """The job body a register sends: the file's job plus the ownership stamp."""
    return stamp_job(desired.job, source=desired.path, digest=desired.digest)


def parse_wave(meta: Mapping[str, Any] | None) -> int:
    """The job's declared wave (lower runs first); 0 when absent.

    Raises ValueError with a readable reason on a value that is not an integer,
    so the caller can report it against the job's file.
    """
    raw = (meta or {}).get(META_PREFIX + WAVE)
    if raw is None or raw == "":
        return 0
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValueError(f"Meta {META_PREFIX + WAVE} must be an integer, got {raw!r}") from None


def wants_auto_promote(meta: Mapping[str, Any] | None) -> bool:
    """True when the job opts into promotion by the reconciler (Meta ``<prefix>auto-promote``)."""
    raw = (meta or {}).get(META_PREFIX + AUTO_PROMOTE)
    return str(raw).strip().lower() in _TRUE if raw is not None else False
