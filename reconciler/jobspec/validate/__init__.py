"""Nomad's job validation, offline, with Nomad's exact texts.

Pure: ``validate_job(job)`` takes a job in API JSON, canonicalizes it the way
the server does before validating, and returns what ``PUT /v1/validate/job``
would: ``errors`` are the entries of ``ValidationErrors`` (top-level items of
the multierror, nested ones already rendered inside), ``warnings`` the entries
behind ``Warnings``.  ``format_validation_errors`` renders errors exactly as
the register/plan endpoints' HTTP 500 body (go-multierror's list format), and
``format_validation_warnings`` the ``Warnings`` string; the Nomad fake reuses both.

One module per part of Nomad's ``Job.Validate`` tree: ``job`` (the job,
parameterized), ``group``, ``task`` (incl. devices), ``placement`` (constraints,
affinities, spreads), ``policies`` (restart, reschedule, update, migrate),
``services``, ``volumes`` (volume requests, per release), ``periodic`` (cron
syntax, time zones), ``warnings``
(``Job.Warnings``) and ``texts`` (go-multierror, Go durations and quoting);
``go_regexp`` and ``go_version`` parse constraint targets as Go and go-version
do; ``target`` says which release (and time zone database) is imitated.

Per release: ``validate_job(job, version=...)`` applies that release's rules
where they differ (``target.RULE_CHANGES``: volume requests from 1.1.0, in
variants down to patch releases; sysbatch from 1.2.0; datacenters defaulted,
the priority checked by the admission hook and "block" for "stanza" from
1.5.0); the default is the oldest supported release, 1.0.18,
whose texts the recordings in tests/golden prove.

Not covered (needs a server, or not modelled): namespace, node pool and
driver existence, Vault/Consul checks of the admission hooks, Connect
(the canonical form does not keep ``Connect``: Service.Validate's and the
connect hook's checks are not made), multiregion, network port collisions, and checks later releases added to
blocks 1.0 lacks (``disconnect``, ``ui``, ``identity`` ...).
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
