"""Nomad's job validation, offline, with Nomad's exact texts.

Pure: ``validate_job(job)`` takes a job in API JSON, canonicalizes it the way
the server does before validating, and returns what ``PUT /v1/validate/job``
would: ``errors`` are the entries of ``ValidationErrors`` (top-level items of
the multierror, nested ones already rendered inside), ``warnings`` the entries
behind ``Warnings``.  ``format_validation_errors`` renders errors exactly as
the register/plan endpoints' HTTP 500 body (go-multierror's list format), and
``format_validation_warnings`` the ``Warnings`` string; the Nomad fake reuses both.

One module per part of Nomad's ``Job.Validate`` tree: ``job`` (the job,
parameterized), ``multiregion``, ``group``, ``networks`` (ports), ``task`` (incl.
devices and connect proxy tasks), ``placement`` (constraints, affinities, spreads),
``policies`` (restart, reschedule, update, migrate), ``services`` (one service and
its checks), ``service_lists`` (a group's and a task's services: uniqueness, tasks,
ports), ``connect`` (a service's ``connect`` block and its gateways), ``volumes``
(volume requests, per release), ``periodic`` (cron syntax, time zones),
``warnings`` (``Job.Warnings``) and ``texts`` (go-multierror, Go durations and
quoting); ``go_regexp`` and ``go_version`` parse constraint targets as Go and
go-version do; ``target`` says which release (and time zone database) is imitated.

Before ``Job.Validate`` the server runs its admission hooks (``connect_hooks``,
``connect_validators``):
the connect mutator injects sidecar and gateway tasks and their ports, which are
then validated like any other; a mutator that refuses the job fails the request
itself (``ValidationResult.refused``: HTTP 500 with that text, as register
answers too); the connect and expose-check validators' errors come first.  The
hooks are modelled as 1.0 runs them, at 1.0.x only (they change in every later
minor release); later, only the parts known to be the same (a native service's
task; from 1.1.0 to 1.10.x a sidecar's network and lowercase names).

Per release: ``validate_job(job, version=...)`` applies that release's rules
where they differ (``target.RULE_CHANGES``: volume requests from 1.1.0, in
variants down to patch releases; unique group services in 1.1.0 to 1.1.2;
sysbatch from 1.2.0; datacenters defaulted, the priority checked by the
admission hook and "block" for "stanza" from 1.5.0; a group's sub-validators
flattened from 1.8.0; fields added after 1.0 in ``later``: max_client_disconnect,
disconnect, ui, task actions); the default is the oldest supported release,
1.0.18, whose texts the recordings in tests/golden prove.

Not covered (needs a server, or not modelled): namespace, node pool and
driver existence, Vault/Consul checks of the admission hooks, ``${NOMAD_*}``
interpolation of Connect service names, the Enterprise multiregion checks (not in
Nomad's public source), workload identities (1.7), and the group service rules
of 1.3.0 on (providers, "Services are not unique").
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
