"""The project's one error tree.

Every error the reconciler raises on purpose is a ``ReconcilerError``; foreign
exceptions (httpx, lark, OSError) are translated once, at the boundary that
saw them, with ``raise ... from exc``::

    ReconcilerError
    ├── ConfigError                  bad flags, environment or config file
    ├── JobSpecError                 one job file cannot become a job (file, line, reason)
    │   ├── JobSyntaxError           HCL/JSON that does not parse
    │   ├── JobEvaluationError       parses, but an expression or variable fails
    │   └── JobValidationError       a job Nomad's own validation would reject
    └── ServerError                  talking to another server failed (its text scrubbed)
        ├── NomadError                   talking to Nomad failed
        │   ├── NomadUnavailableError    unreachable, timeout, 5xx, 429, no leader: retry can help
        │   └── NomadAPIError            Nomad answered and refused this request
        │       ├── NomadBadRequestError         400: the request itself is wrong (file)
        │       ├── NomadPermissionDeniedError   403 (rejected or insufficient token)
        │       ├── NomadNotFoundError           404
        │       ├── NomadIndexConflictError      EnforceIndex: someone else changed the job
        │       ├── NomadClusterRefusalError     a job write refused for the cluster's sake
        │       │                                (unknown namespace, Vault not enabled, an
        │       │                                unrecognised 500): the same file may pass later
        │       └── NomadJobRejectedError        the job failed Nomad's validation (its message kept)
        └── PrometheusError              talking to Prometheus (canary analysis) failed
            ├── PrometheusUnavailableError  unreachable, timeout, 5xx: the analysis is inconclusive
            └── PrometheusQueryError        Prometheus answered and refused the query (its text kept)

A bad job is an *outcome* of that job (a ``JobSpecError`` recorded per file),
never a crash of the pass.

Every error has a ``cause`` (``ErrorCause``): ``FILE`` when it follows from
the job file alone (a spec error, Nomad's validation, a request Nomad cannot
decode; the same file gets the same answer, so only a file change, or a slow
retry, helps) or ``CLUSTER`` when the cluster's state, permissions or
reachability caused it (it may pass later without any change to the file).
``retryable`` is true exactly for ``CLUSTER`` errors: the daemon retries them
with backoff and on every full pass.  Only ``NomadUnavailableError`` lets the
client repeat an idempotent request at once (``reconciler.nomad.retry``).
"""

from __future__ import annotations

import enum

from reconciler.secrets import scrub


class ErrorCause(enum.StrEnum):
    """What has to change for a failing job to go through."""

    FILE = "file"  # the job file: the same file gets the same answer
    CLUSTER = "cluster"  # the cluster (state, permissions, reachability): may pass later


def format_location(path: str, line: int | None, column: int | None) -> str:
    """``path``, ``path:line`` or ``path:line,column``: how errors and diagnostics name a place."""
    where = path
    if line is not None:
        where += f":{line}"
        if column is not None:
            where += f",{column}"
    return where


class ReconcilerError(Exception):
    """Base of every error this project raises on purpose."""

    cause: ErrorCause = ErrorCause.FILE

    @property
    def retryable(self) -> bool:
        """Can waiting help, without the file changing?  True for cluster-caused errors."""
        return self.cause is ErrorCause.CLUSTER


class ConfigError(ReconcilerError):
    """Settings that cannot be used (flag, environment variable or config file).

    Its text never shows a secret the process holds (``reconciler.secrets``).
    """

    def __init__(self, message: str) -> None:
        super().__init__(scrub(message))


class JobSpecError(ReconcilerError):
    """A job file that cannot be turned into a Nomad job.

    ``path`` is the file as the user knows it (relative to the jobs directory
    where there is one), ``line``/``column`` are 1-based where known.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.reason = reason
        self.path = path
        self.line = line
        self.column = column
        super().__init__(self.describe())

    @property
    def location(self) -> str:
        return format_location(self.path or "<input>", self.line, self.column)

    def describe(self) -> str:
        return f"{self.location}: {self.reason}"

    def with_path(self, path: str) -> JobSpecError:
        """The same error, attributed to ``path`` (keeps the subclass)."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.path = path
        Exception.__init__(clone, clone.describe())
        return clone


class JobSyntaxError(JobSpecError):
    """The file is not valid HCL2 / JSON."""


class JobEvaluationError(JobSpecError):
    """The file parses, but evaluating it fails (unknown variable, bad type, function error)."""


class JobValidationError(JobSpecError):
    """The job is structurally invalid: Nomad's ``/v1/validate/job`` would reject it."""


class ServerError(ReconcilerError):
    """Talking to another server failed.  Never carries a secret (token, credentials) in its text."""

    cause = ErrorCause.CLUSTER

    def __init__(self, message: str, *, endpoint: str | None = None) -> None:
        message = scrub(message)
        self.message = message
        self.endpoint = endpoint
        super().__init__(message if endpoint is None else f"{endpoint}: {message}")


class NomadError(ServerError):
    """Talking to Nomad failed."""


class NomadUnavailableError(NomadError):
    """Nomad could not answer: connection refused, timeout, 5xx, 429 or no leader."""


class NomadAPIError(NomadError):
    """Nomad answered and refused the request; ``status`` is the HTTP status."""

    def __init__(self, message: str, *, status: int, endpoint: str | None = None) -> None:
        self.status = status
        super().__init__(message, endpoint=endpoint)


class NomadBadRequestError(NomadAPIError):
    """400: the request could not be decoded or lacks something Nomad needs."""

    cause = ErrorCause.FILE


class NomadPermissionDeniedError(NomadAPIError):
    """403: the token is unknown or lacks the capability."""


class NomadNotFoundError(NomadAPIError):
    """404: no such job, deployment, namespace, ..."""


class NomadIndexConflictError(NomadAPIError):
    """EnforceIndex failed: the job changed since the index the caller saw."""


class NomadClusterRefusalError(NomadAPIError):
    """Nomad refused a job write for a reason outside the file (``message`` is its text).

    A namespace that does not exist (yet, or any more after Nomad lost its
    state), Vault not enabled, or a 500 nobody recognised: the same file may be
    accepted once the cluster changes, so it is retried.
    """


class NomadJobRejectedError(NomadAPIError):
    """Nomad's validation rejected the job; ``message`` is Nomad's own text."""

    cause = ErrorCause.FILE


class PrometheusError(ServerError):
    """Talking to Prometheus failed."""


class PrometheusUnavailableError(PrometheusError):
    """Prometheus could not answer: connection refused, timeout, 5xx, 429."""


class PrometheusQueryError(PrometheusError):
    """Prometheus refused the query (``bad_data``, ``execution``, a range vector...).

    ``message`` is Prometheus' own text; the query comes from a template file.
    """

    cause = ErrorCause.FILE
