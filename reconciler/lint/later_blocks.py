"""Blocks and arguments a job uses that the target Nomad release does not know.

The loader reads the newest job specification modelled (``jobspec.hcl_schema``),
so a file using ``disconnect`` loads; this says which releases would refuse it,
in HCL's words (``jobspec.later_fields``).  With ``--nomad-version`` only that
release counts; without it every supported release does, as for Nomad's
validation (``runner``): a finding names the releases it applies to.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.jobspec.hcl_schema import STRUCTS, Attr, Nested
from reconciler.jobspec.later_fields import IDENTITY_MANY, IDENTITY_ONE, LaterField, later_fields
from reconciler.jobspec.positions import Step, locate
from reconciler.jobspec.validate.target import OLDEST, Version
from reconciler.model import ApiJob, Diagnostic, Severity

RULE = "nomad-version"

#: Every release where the modelled job specification grew (one target per span).
SPEC_CHANGES: tuple[Version, ...] = tuple(sorted({
    OLDEST, IDENTITY_ONE, IDENTITY_MANY,
    *(f.since for s in STRUCTS.values() for f in s.fields if isinstance(f, Attr | Nested) and f.since),
}))  # fmt: skip


def later_block_findings(
    job: ApiJob, *, path: str, source: str, source_format: str, nomad_version: Version | None
) -> list[Diagnostic]:
    """Errors for what ``nomad_version`` (``None``: any supported release) would refuse."""
    if nomad_version is not None:
        return [
            _diagnostic(found, found.message(nomad_version), path, source, source_format)
            for found in later_fields(job, nomad_version)
        ]
    spans: dict[LaterField, list[Version]] = {}
    for version in SPEC_CHANGES:
        for found in later_fields(job, version):
            spans.setdefault(found, []).append(version)
    return [
        _diagnostic(found, f"{found.message(versions[-1]).rsplit(' (', 1)[0]} "
                    f"(rule of {_describe(versions)})", path, source, source_format)
        for found, versions in spans.items()
    ]  # fmt: skip


def _describe(versions: Sequence[Version]) -> str:
    """The span of releases (contiguous in ``SPEC_CHANGES``) that refuse it."""
    last = SPEC_CHANGES.index(versions[-1])
    text = ".".join(map(str, SPEC_CHANGES[last + 1])) if last + 1 < len(SPEC_CHANGES) else None
    if versions[0] == OLDEST:
        return f"Nomad < {text}" if text else "every Nomad"
    low = ".".join(map(str, versions[0]))
    return f"Nomad >= {low}, < {text}" if text else f"Nomad >= {low}"


def _diagnostic(found: LaterField, message: str, path: str, source: str, source_format: str) -> Diagnostic:
    steps: tuple[Step, ...] = found.where
    return Diagnostic(
        path=path,
        message=message,
        severity=Severity.ERROR,
        line=locate(source, steps, source_format=source_format) if source else None,
        rule=RULE,
    )
