"""The digest of a desired job: what ownership Meta records and drift compares.

``digest(canonical_job)`` is the SHA-256 (64 lowercase hex digits) of the
canonical job serialized as compact JSON with sorted keys, so it is stable
across key order and formatting of the job file.  It leaves out:

* job-level ``Meta`` keys starting with ``gitops.`` (``reconciler.model.META_PREFIX``):
  the reconciler itself stamps ``gitops.source`` and ``gitops.digest`` there,
  and a digest must not depend on its own stamp.  An empty or ``null``
  ``Meta`` counts as absent, as in the canonical form;
* nothing else: every other field, server-managed ones included, is the
  caller's job to have canonicalized away.

Numbers equal in value hash the same (``80`` and ``80.0``), as Nomad stores
JSON numbers without that distinction.  Pure.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from reconciler.model import META_PREFIX, ApiJob


def digest(canonical_job: ApiJob) -> str:
    """SHA-256 hex of ``canonical_job`` without the reconciler's own Meta keys."""
    job = dict(canonical_job)
    meta = job.pop("Meta", None)
    if isinstance(meta, dict):
        kept = {k: v for k, v in meta.items() if not k.startswith(META_PREFIX)}
        if kept:
            job["Meta"] = kept
    text = json.dumps(
        _normalize_numbers(job),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalize_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalize_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize_numbers(v) for v in value]
    return value
