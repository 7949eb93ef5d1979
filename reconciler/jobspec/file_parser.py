"""One job file's text → the job, canonicalized and digested, or why it is not one.

Responsibility: the default parser (HCL2 through ``hcl_convert.convert_hcl``,
JSON through ``jsonspec.parse_json_job``) and ``parse_one``, which turns every
failure of a file into a ``FailedJob``: one bad file never stops the others.
Its values are picklable, so ``parse_pool`` can hand them to other processes.
Its only I/O is what a file asks for with filesystem functions, confined to
the jobs directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.errors import JobSpecError, JobSyntaxError, JobValidationError
from reconciler.jobspec.digest import digest
from reconciler.jobspec.discovery import SourceFormat
from reconciler.jobspec.limits import DEFAULT_MAX_FILE_SIZE
from reconciler.model import ApiJob

if TYPE_CHECKING:
    from reconciler.jobspec.variables import VariableInputs

JobParser = Callable[..., ApiJob]
"""``parser(text, *, path, source_format, inputs, base_dir, fs_root, read_limit) -> job``;
raises ``JobSpecError``."""


def parse_job_source(
    text: str,
    *,
    path: str,
    source_format: SourceFormat,
    inputs: VariableInputs,
    base_dir: str,
    fs_root: str | None = None,
    read_limit: int = DEFAULT_MAX_FILE_SIZE,
) -> ApiJob:
    """The default parser: one job file's text → the Job object.

    Its only I/O is what the file asks for with filesystem functions, confined to ``fs_root``,
    each file read at most ``read_limit`` bytes.
    """
    if source_format is SourceFormat.JSON:
        from reconciler.jobspec.jsonspec import parse_json_job

        return parse_json_job(text, path=path)
    from reconciler.jobspec.hcl_convert import convert_hcl

    job: ApiJob = convert_hcl(
        text, path=path, inputs=inputs, allow_fs=True, base_dir=base_dir, fs_root=fs_root,
        read_limit=read_limit,
    )  # fmt: skip
    return job


@dataclass(frozen=True)
class ParsedJob:
    """A file that became a job (picklable: crosses the process pool)."""

    job: ApiJob
    canonical: ApiJob
    digest: str


@dataclass(frozen=True)
class FailedJob:
    """A file that did not become a job: its ``JobSpecError`` as plain data."""

    reason: str
    line: int | None = None
    column: int | None = None
    error_class: str = "JobSpecError"


Outcome = ParsedJob | FailedJob


@dataclass(frozen=True)
class ParseWork:
    """One file to parse (picklable: crosses the process pool)."""

    path: str
    text: str
    source_format: SourceFormat
    inputs: VariableInputs
    base_dir: str
    fs_root: str | None = None  # filesystem functions may read only below it
    read_limit: int = DEFAULT_MAX_FILE_SIZE  # ... and files of at most this many bytes


def parse_one(work: ParseWork, *, parser: JobParser) -> Outcome:
    """Parse, canonicalize and digest one file; every failure becomes a ``FailedJob``."""
    from reconciler.jobspec.canonical import canonicalize

    try:
        job = parser(
            work.text,
            path=work.path,
            source_format=work.source_format,
            inputs=work.inputs,
            base_dir=work.base_dir,
            fs_root=work.fs_root,
            read_limit=work.read_limit,
        )
        if not isinstance(job, dict) or not job.get("ID"):
            raise JobSyntaxError("the file does not declare a job with an ID", path=work.path)
        _check_job_id(job["ID"], work)
        canonical = canonicalize(job)
        return ParsedJob(job=job, canonical=canonical, digest=digest(canonical))
    except JobSpecError as exc:
        if exc.path and os.path.basename(exc.path) != os.path.basename(work.path):
            # The error is in a variables file: name it, since its line is not the job file's.
            where = exc.path
            if work.fs_root and os.path.isabs(where):
                where = os.path.relpath(where, work.fs_root)
            located = where + (f":{exc.line}" if exc.line is not None else "")
            return FailedJob(f"in {located}: {exc.reason}", error_class=type(exc).__name__)
        return FailedJob(exc.reason, exc.line, exc.column, type(exc).__name__)
    except RecursionError:
        return FailedJob("the job is nested too deeply to load", error_class="JobSpecError")
    except Exception as exc:  # a bug in a parser must not stop the other files
        return FailedJob(
            f"internal error while loading this file: {type(exc).__name__}: {exc}",
            error_class=type(exc).__name__,
        )


def _check_job_id(job_id: object, work: ParseWork) -> None:
    """Refuse an ID Nomad refuses or no URL can address (see ``identifiers``)."""
    from reconciler.jobspec.identifiers import job_id_problem
    from reconciler.jobspec.positions import Step, locate

    if not isinstance(job_id, str):
        raise JobSyntaxError(f"the job ID must be a string, not {type(job_id).__name__}", path=work.path)
    problem = job_id_problem(job_id)
    if problem is None:
        return
    if work.source_format is SourceFormat.JSON:
        line = locate(work.text, [Step("job", job_id)], source_format="json") or locate(
            work.text, [Step("attr", "ID")], source_format="json"
        )
    else:
        line = locate(work.text, [Step("job")])
    raise JobValidationError(problem, path=work.path, line=line)
