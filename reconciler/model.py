"""Value types that cross layer boundaries: a loaded jobs directory.

Pure data, frozen.  Produced by ``reconciler.jobspec.loader`` (the file edge),
consumed by the diff/plan core, the CLI and the daemon.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import format_location

JobKey = tuple[str, str]
"""(namespace, job ID): how a job is identified everywhere."""

ApiJob = dict[str, Any]
"""A job in Nomad's API JSON (the object inside ``{"Job": ...}``)."""

META_PREFIX = "gitops."
"""The job ``Meta`` key prefix the reconciler reads and writes (``gitops.source``,
``gitops.digest``, ``gitops.wave``, ``gitops.auto-promote``, ...).  Fixed: it is
part of what ownership means, so it has no setting."""


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One finding about one file: a load error or a lint result."""

    path: str
    message: str
    severity: Severity = Severity.ERROR
    line: int | None = None
    column: int | None = None
    rule: str = "load"

    @property
    def location(self) -> str:
        return format_location(self.path, self.line, self.column)

    def describe(self) -> str:
        return f"{self.location}: {self.severity.value}: {self.message} [{self.rule}]"

    def to_json(self) -> dict[str, Any]:
        """The diagnostic in the ``--json`` documents of ``lint``, ``plan``, ``sync`` and ``status``."""
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "severity": self.severity.value,
            "message": self.message,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class DesiredJob:
    """One job declared in the jobs directory.

    ``job`` is exactly what ``nomad job run -output`` prints for the file (the
    object inside ``{"Job": ...}``); ``canonical`` is ``canonicalize(job)``, the
    form Nomad reads back; ``digest`` hashes ``canonical`` (stable across key
    order) and is what ownership Meta records.
    """

    path: str
    job_id: str
    namespace: str
    region: str
    job: ApiJob
    canonical: ApiJob
    digest: str
    source: str = ""
    source_format: str = "hcl2"  # "hcl2" or "json"
    variables: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> JobKey:
        return (self.namespace, self.job_id)


@dataclass(frozen=True)
class Revision:
    """The git state of a checkout: never written into jobs, only reported."""

    commit: str
    dirty: bool = False
    ref: str | None = None
    # git holds .git/index.lock: a checkout, pull or merge is changing the files now.
    busy: bool = False


@dataclass(frozen=True)
class Snapshot:
    """A jobs directory at one moment: desired jobs, per-file errors, revision."""

    root: str
    jobs: tuple[DesiredJob, ...]
    errors: tuple[Diagnostic, ...] = ()
    revision: Revision | None = None

    @property
    def complete(self) -> bool:
        """True when every file loaded: pruning is allowed only on complete snapshots."""
        return not any(d.severity is Severity.ERROR for d in self.errors)

    def by_key(self) -> dict[JobKey, DesiredJob]:
        return {j.key: j for j in self.jobs}
