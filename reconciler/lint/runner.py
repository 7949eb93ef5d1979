"""Running lint over a loaded jobs directory, and rendering its findings.

Pure: ``lint_snapshot`` takes a ``Snapshot`` (and optionally the file texts)
and returns ``Diagnostic``s; it reads no files and never raises for a bad job.
Order of checks per job: Nomad's own validation (``jobspec.validate``, one
diagnostic per problem, in Nomad's words), then the ``rules``.  Nomad's rules
differ between releases: with ``nomad_version`` the rules of that release
apply; without it, the job is validated as every supported release would
(one version per span of identical rules, ``validate.target``), so what passes
lint passes on every release.  A finding that only some releases make names
them: ``Missing job datacenters (rule of Nomad < 1.5.0)``.  Snapshot-wide:
the loader's per-file errors are passed through, then duplicate job IDs and
job ID vs file name.

JSON output (``render_json``) follows the project's ``--json`` schema
``nomad-reconciler/v1`` (docs/json-output.md: fields are only ever added)::

    {"schema": "nomad-reconciler/v1", "command": "lint", "exit_code": 1,
     "summary": {"errors": 1, "warnings": 2, "jobs": 5, "files_with_errors": 1},
     "diagnostics": [{"path": "web.nomad", "line": 12, "column": null,
                      "severity": "error", "message": "task \"web\": unknown docker
                      config key ...", "rule": "driver-config"}]}

``diagnostics`` are the project's Diagnostic objects: ``path`` relative to the
jobs directory, ``line``/``column`` 1-based or ``null``, ``severity``
``error`` or ``warning``, ``rule`` the rule name (``load`` for load errors,
``nomad-validate``/``nomad-warning`` for Nomad's own verdict).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from reconciler.errors import JobSpecError
from reconciler.jobspec.canonical import canonicalize
from reconciler.jobspec.jsonspec import ignored_json_keys
from reconciler.jobspec.positions import Step, locate
from reconciler.jobspec.validate import error_leaves, validate_job
from reconciler.jobspec.validate.target import (
    Version,
    describe_versions,
    representative_versions,
)
from reconciler.lint.later_blocks import later_block_findings
from reconciler.lint.later_names import release_hint
from reconciler.lint.rules import COVERED_VALIDATION_TEXTS, RULES, Rule
from reconciler.model import ApiJob, DesiredJob, Diagnostic, Severity, Snapshot

JSON_SCHEMA = "nomad-reconciler/v1"
VALIDATION_RULE = "nomad-validate"
WARNING_RULE = "nomad-warning"
JOB_SUFFIXES = (".nomad.hcl", ".nomad.json", ".nomad", ".hcl", ".json")


def lint_snapshot(
    snapshot: Snapshot,
    *,
    sources: Mapping[str, str] | None = None,
    rules: Sequence[Rule] = RULES,
    nomad_version: Version | None = None,
    time_zones: Collection[str] | None = None,
) -> list[Diagnostic]:
    """Every finding for the directory, sorted by file, line and rule.

    ``sources`` maps a job's path to its text, for line numbers; by default the
    text the loader kept in ``DesiredJob.source`` is used.  ``nomad_version``:
    the target release (``None``: every supported one); ``time_zones``: the
    IANA zone names a periodic ``time_zone`` may use (``None``: not checked).
    """
    diagnostics: list[Diagnostic] = [
        dataclasses.replace(d, message=release_hint(d.message)) if d.rule == "load" else d
        for d in snapshot.errors
    ]
    for desired in snapshot.jobs:
        source = (sources or {}).get(desired.path, desired.source)
        diagnostics += lint_job(
            desired.job,
            path=desired.path,
            source=source,
            source_format=desired.source_format,
            rules=rules,
            nomad_version=nomad_version,
            time_zones=time_zones,
        )
    diagnostics += _unknown_json_fields(snapshot.jobs, sources=sources)
    diagnostics += _duplicate_ids(snapshot.jobs, sources=sources)
    diagnostics += _id_vs_file_name(snapshot.jobs, sources=sources)
    return sorted(diagnostics, key=_order)


def lint_job(
    job: ApiJob,
    *,
    path: str,
    source: str = "",
    source_format: str = "hcl2",
    rules: Sequence[Rule] = RULES,
    nomad_version: Version | None = None,
    time_zones: Collection[str] | None = None,
) -> list[Diagnostic]:
    """Findings for one job (API JSON as the loader produced it); see ``lint_snapshot``."""
    job_id = str(job.get("ID", ""))
    job_step = Step("job", job_id)

    def line_of(steps: Sequence[Step]) -> int | None:
        return locate(source, steps, source_format=source_format)

    out: list[Diagnostic] = []
    enabled = {rule.name for rule in rules}
    findings_by_version = {
        version: validate_job(job, version=version, time_zones=time_zones)
        for version in representative_versions()
    }
    target = nomad_version if nomad_version is not None else min(findings_by_version)
    result = validate_job(job, version=target, time_zones=time_zones)
    for (prefixes, leaf), versions in _validation_leaves(findings_by_version, nomad_version):
        if COVERED_VALIDATION_TEXTS.get(leaf) in enabled:
            continue
        message = " ".join((*prefixes, leaf))
        if len(versions) < len(findings_by_version):
            message += f" (rule of {describe_versions(versions)})"
        out.append(
            Diagnostic(
                path=path,
                message=message,
                severity=Severity.ERROR,
                line=line_of((job_step, *_steps_from_prefixes(prefixes), *_step_of(leaf))),
                rule=VALIDATION_RULE,
            )
        )
    for warning in result.warnings:
        for prefixes, leaf in error_leaves(warning):
            out.append(
                Diagnostic(
                    path=path,
                    message=" ".join((*prefixes, leaf)),
                    severity=Severity.WARNING,
                    line=line_of((job_step, *_steps_from_prefixes(prefixes))),
                    rule=WARNING_RULE,
                )
            )
    out += later_block_findings(
        job, path=path, source=source, source_format=source_format, nomad_version=nomad_version
    )
    try:
        canonical = canonicalize(job)
    except (TypeError, ValueError, AttributeError, KeyError):
        return out  # validation already said the job's shape is wrong
    for rule in rules:
        try:
            findings = list(rule.check(canonical))
        except (TypeError, ValueError, AttributeError, KeyError):
            continue  # a shape this rule does not understand; validation reports it
        out += [
            Diagnostic(
                path=path,
                message=finding.message,
                severity=rule.severity,
                line=line_of(finding.where or (job_step,)),
                rule=rule.name,
            )
            for finding in findings
        ]
    return out


Leaf = tuple[tuple[str, ...], str]


def _validation_leaves(
    by_version: Mapping[Version, Any], nomad_version: Version | None
) -> list[tuple[Leaf, list[Version]]]:
    """Each problem (``(prefixes, leaf)``) with the rule spans that report it.

    With ``nomad_version``, only the problems that release reports (its own
    span's representative is validated separately so the span is exact); without
    it, every problem any span reports, oldest span first.
    """
    spans: dict[Leaf, list[Version]] = {}
    for version, result in sorted(by_version.items()):
        for error in result.errors:
            for leaf in error_leaves(error):
                spans.setdefault(leaf, [])
                if version not in spans[leaf]:
                    spans[leaf].append(version)
    if nomad_version is None:
        return list(spans.items())
    span = max((v for v in by_version if v <= nomad_version), default=min(by_version))
    return [(leaf, versions) for leaf, versions in spans.items() if span in versions]


def _steps_from_prefixes(prefixes: Iterable[str]) -> list[Step]:
    """Where a Nomad validation message points: its "Task group X ..." prefixes."""
    steps: list[Step] = []
    for prefix in prefixes:
        words = prefix.rstrip(":").split(" ")
        if prefix.startswith("Task group ") and prefix.endswith("validation failed:"):
            steps.append(Step("group", " ".join(words[2:-2])))
        elif prefix.startswith("Group ") and prefix.endswith("has warnings:"):
            steps.append(Step("group", _unquote(" ".join(words[1:-2]))))
        elif prefix.startswith("Task ") and prefix.endswith("validation failed:"):
            steps.append(Step("task", " ".join(words[1:-2])))
        elif prefix.startswith('Task "'):
            steps.append(Step("task", _unquote(" ".join(words[1:]))))
    return steps


# Job-level problems that belong to one block (for the line number only).
_LEAF_BLOCKS = (
    ("Invalid cron spec", "periodic"),
    ("Periodic can only", "periodic"),
    ("Must specify a spec", "periodic"),
    ("Invalid time zone", "periodic"),
    ("Parameterized job", "parameterized"),
    ("Unknown payload requirement", "parameterized"),
)


def _step_of(leaf: str) -> tuple[Step, ...]:
    for start, block in _LEAF_BLOCKS:
        if leaf.startswith(start):
            return (Step(block),)
    return ()


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


UNKNOWN_FIELD_RULE = "unknown-field"


def _unknown_json_fields(
    jobs: Iterable[DesiredJob], *, sources: Mapping[str, str] | None
) -> list[Diagnostic]:
    """Keys of JSON jobs that are no field of Nomad's job: Nomad drops them without a word.

    An error: it is almost always a typo (``Constriants``) that silently drops
    configuration, as an unknown HCL argument would be refused outright.
    """
    out: list[Diagnostic] = []
    for desired in jobs:
        if desired.source_format != "json":
            continue
        source = (sources or {}).get(desired.path, desired.source)
        try:
            ignored = ignored_json_keys(source, path=desired.path)
        except JobSpecError:
            continue  # the loader already reported why this is not a job
        out += [
            Diagnostic(
                path=desired.path,
                message=key.describe(),
                severity=Severity.ERROR,
                line=key.line,
                column=key.column,
                rule=UNKNOWN_FIELD_RULE,
            )
            for key in ignored
        ]
    return out


def _duplicate_ids(
    jobs: Sequence[DesiredJob], *, sources: Mapping[str, str] | None
) -> list[Diagnostic]:
    by_key: dict[tuple[str, str], list[DesiredJob]] = {}
    for desired in jobs:
        by_key.setdefault(desired.key, []).append(desired)
    out: list[Diagnostic] = []
    for (namespace, job_id), declared in by_key.items():
        if len(declared) < 2:
            continue
        for desired in declared:
            others = ", ".join(d.path for d in declared if d is not desired)
            out.append(
                Diagnostic(
                    path=desired.path,
                    message=f'job "{job_id}" in namespace "{namespace}" is also declared in {others}',
                    severity=Severity.ERROR,
                    line=_job_line(desired, sources),
                    rule="duplicate-job",
                )
            )
    return out


def file_stem(path: str) -> str:
    """``web.nomad.hcl`` → ``web``: the job ID a reader expects from the file name."""
    name = PurePosixPath(path).name
    for suffix in JOB_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _id_vs_file_name(
    jobs: Sequence[DesiredJob], *, sources: Mapping[str, str] | None
) -> list[Diagnostic]:
    return [
        Diagnostic(
            path=desired.path,
            message=f'job ID "{desired.job_id}" differs from the file name "{file_stem(desired.path)}"',
            severity=Severity.WARNING,
            line=_job_line(desired, sources),
            rule="job-id-file-name",
        )
        for desired in jobs
        if desired.job_id != file_stem(desired.path)
    ]


def _job_line(desired: DesiredJob, sources: Mapping[str, str] | None) -> int | None:
    source = (sources or {}).get(desired.path, desired.source)
    return locate(source, (Step("job", desired.job_id),), source_format=desired.source_format)


def _order(diagnostic: Diagnostic) -> tuple[Any, ...]:
    return (
        diagnostic.path,
        diagnostic.line or 0,
        diagnostic.severity != Severity.ERROR,
        diagnostic.rule,
    )


# --- rendering ------------------------------------------------------------------------


def count_errors(diagnostics: Iterable[Diagnostic]) -> int:
    return sum(1 for d in diagnostics if d.severity is Severity.ERROR)


def render_text(diagnostics: Sequence[Diagnostic]) -> str:
    """One ``file:line: severity: message [rule]`` line each, then a summary line."""
    lines = [d.describe() for d in diagnostics]
    errors = count_errors(diagnostics)
    warnings = len(diagnostics) - errors
    lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines) + "\n"


def render_json(diagnostics: Sequence[Diagnostic], *, jobs: int, exit_code: int) -> str:
    """The ``nomad-reconciler/v1`` lint document (see the module docstring)."""
    errors = count_errors(diagnostics)
    document = {
        "schema": JSON_SCHEMA,
        "command": "lint",
        "exit_code": exit_code,
        "summary": {
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "jobs": jobs,
            "files_with_errors": len({d.path for d in diagnostics if d.severity is Severity.ERROR}),
        },
        "diagnostics": [d.to_json() for d in diagnostics],
    }
    return json.dumps(document, indent=2) + "\n"
