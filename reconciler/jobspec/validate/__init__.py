"""Nomad's job validation, offline, with Nomad's exact texts.

Pure: ``validate_job(job)`` takes a job in API JSON, canonicalizes it the way
the server does before validating, and returns what ``PUT /v1/validate/job``
would: ``errors`` are the entries of ``ValidationErrors`` (top-level items of
the multierror, nested ones already rendered inside), ``warnings`` the entries
behind ``Warnings``.  ``format_validation_errors`` renders errors exactly as
the register/plan endpoints' HTTP 500 body (go-multierror's list format), and
``format_validation_warnings`` the ``Warnings`` string; the Nomad fake reuses both.

One module per part of Nomad's ``Job.Validate`` tree: ``job`` (the job,
parameterized), ``group``, ``task``, ``placement`` (constraints, affinities,
spreads), ``policies`` (restart, reschedule, update, migrate), ``services``,
``periodic`` (incl. cron syntax), ``warnings`` (``Job.Warnings``) and ``texts``
(go-multierror, Go durations and quoting).

Covered: the checks of ``Job.Validate``/``TaskGroup.Validate``/``Task.Validate``
that a declared job can hit (identity, type, priority, datacenters, groups,
tasks, constraints, affinities, spreads, restart/reschedule/update/migrate
policies, ephemeral disk, log config, services and checks, templates,
artifacts, vault, lifecycle, periodic incl. cron syntax, parameterized) and
``Job.Warnings``.  Not covered (needs a server or is rare): namespace and
driver existence, Connect/CSI/device details, network port collisions.  Nomad ≥1.1 adds checks (e.g. ``sysbatch``, reschedule on
system jobs as an error in 1.11) not modelled here.
"""

from reconciler.jobspec.validate.job import validate_job
from reconciler.jobspec.validate.periodic import cron_spec_error
from reconciler.jobspec.validate.task import checksum_problem, path_escapes_alloc_dir
from reconciler.jobspec.validate.texts import (
    ValidationResult,
    error_leaves,
    format_go_duration,
    format_validation_errors,
    format_validation_warnings,
)

__all__ = [
    "ValidationResult",
    "checksum_problem",
    "cron_spec_error",
    "error_leaves",
    "format_go_duration",
    "format_validation_errors",
    "format_validation_warnings",
    "path_escapes_alloc_dir",
    "validate_job",
]
