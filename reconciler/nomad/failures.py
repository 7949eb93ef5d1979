"""Translate Nomad's error responses and httpx failures into the project's error tree.

Pure functions: a status and Nomad's ``text/plain`` body in, a ``NomadError``
out.  Nomad answers almost every refusal with HTTP 500 and a bare string, so
the texts decide (recorded from Nomad 1.0.18 in tests/golden/api/*.jsonl):

- 400 → ``NomadBadRequestError``; 403 → ``NomadPermissionDeniedError``
  (saying whether the token is unknown or merely lacks a capability);
  404 → ``NomadNotFoundError``.
- 500 ``Enforcing job modify index ...`` → ``NomadIndexConflictError``.
- 500 go-multierror text (``N error(s) occurred:``, Nomad's job validation)
  or another refusal of a job write that follows from the file alone
  (``cannot update job from type``, a bad cron spec, the Connect admission
  hooks' ``error in job mutator connect: ...``) →
  ``NomadJobRejectedError`` with Nomad's message: fix the file.
- 500 ``No cluster leader``, RPC/raft trouble, 502/503/504, 429 and anything
  unrecognised outside job writes → ``NomadUnavailableError`` (retry can help).
- Any other 500 on a job write → ``NomadClusterRefusalError``: caused by the
  cluster (``job "x" is in nonexistent namespace "team2"``, ``Vault not enabled
  and Vault policies requested``) or not recognised, so the same file is
  retried with backoff rather than parked until it changes.  The texts are
  Nomad's (nomad/job_endpoint.go, v1.0.18 to v1.10.0; tests/golden/api/11-namespaces.jsonl).

The caller must pass bodies with the ACL token already redacted; messages
built here never contain a token.
"""

from __future__ import annotations

import re
import ssl

import httpx

from reconciler.errors import (
    NomadAPIError,
    NomadBadRequestError,
    NomadClusterRefusalError,
    NomadError,
    NomadIndexConflictError,
    NomadJobRejectedError,
    NomadNotFoundError,
    NomadPermissionDeniedError,
    NomadUnavailableError,
)

ENFORCE_INDEX_PREFIX = "Enforcing job modify index"
_MULTIERROR = re.compile(r"^\d+ errors? occurred:")

# 500 texts that mean "this server cannot answer right now".
_UNAVAILABLE_TEXTS = (
    "No cluster leader",
    "no leader",
    "leadership lost",
    "not the leader",
    "rpc error",
    "RPC Error",
    "raft",
    "timed out",
    "i/o timeout",
    "connection refused",
    "EOF",
    "context deadline exceeded",
    "No path to region",
)

# 500 texts of a job write that follow from the file alone (nomad/job_endpoint.go
# validateJobUpdate, Register and Plan, v1.0.18): the same file gets the same answer.
_FILE_REFUSAL_TEXTS = (
    "cannot update job from type",
    "cannot update periodic job",
    "cannot update non-periodic job",
    "cannot update parameterized job",
    "cannot update non-parameterized job",
    "field 'Dispatched' is read-only",
    "job can't be submitted with 'Dispatched' set",
    "Failed to parse cron expression",
    "mismatched request namespace",
    "missing job for registration",
    "Job required for plan",
    # admission mutators that judge the job alone (nomad/job_endpoint_hook_connect.go,
    # job_endpoint_hook_expose_check.go; tests/golden/validate/services-connect.json)
    "error in job mutator connect:",
    "error in job mutator expose-check:",
)

# 500 texts that are deterministic refusals outside job validation.
_NOT_FOUND_TEXTS = ("deployment not found", "not found")
_REFUSAL_TEXTS = (
    "can't ",
    "cannot ",
    "acl token lookup failed",
    "Current job has version",
    "job scaling blocked",
)

MAX_MESSAGE_CHARS = 4000


def _clean(body: str) -> str:
    text = body.strip()
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + " …(truncated)"
    return text or "(empty response body)"


def map_response_error(
    status: int, body: str, *, endpoint: str, job_write: bool = False
) -> NomadError:
    """The error for a non-2xx response.

    ``job_write`` marks register/plan/validate-style requests, where a 500 is
    Nomad refusing the job: for the file's sake (``NomadJobRejectedError``) or
    the cluster's (``NomadClusterRefusalError``, also for unrecognised texts).
    """
    text = _clean(body)
    if status == 400:
        return NomadBadRequestError(text, status=status, endpoint=endpoint)
    if status == 403:
        if "ACL token not found" in text:
            reason = "ACL token not found: Nomad does not know the token (unset, revoked, expired or mistyped)"
        elif "Permission denied" in text:
            reason = "Permission denied: the ACL token lacks a capability this request needs"
        else:
            reason = f"forbidden: {text}"
        return NomadPermissionDeniedError(reason, status=status, endpoint=endpoint)
    if status == 404:
        return NomadNotFoundError(text, status=status, endpoint=endpoint)
    if status == 429:
        return NomadUnavailableError(f"rate limited (429): {text}", endpoint=endpoint)
    if status == 500:
        return _map_500(text, endpoint=endpoint, job_write=job_write)
    if status >= 500:
        return NomadUnavailableError(f"HTTP {status}: {text}", endpoint=endpoint)
    return NomadAPIError(f"HTTP {status}: {text}", status=status, endpoint=endpoint)


def _map_500(text: str, *, endpoint: str, job_write: bool) -> NomadError:
    if text.startswith(ENFORCE_INDEX_PREFIX):
        return NomadIndexConflictError(text, status=500, endpoint=endpoint)
    if _MULTIERROR.match(text):
        return NomadJobRejectedError(text, status=500, endpoint=endpoint)
    lowered = text.lower()
    if any(marker.lower() in lowered for marker in _UNAVAILABLE_TEXTS):
        return NomadUnavailableError(f"HTTP 500: {text}", endpoint=endpoint)
    if job_write:
        if any(lowered.startswith(marker.lower()) for marker in _FILE_REFUSAL_TEXTS):
            return NomadJobRejectedError(text, status=500, endpoint=endpoint)
        return NomadClusterRefusalError(text, status=500, endpoint=endpoint)
    if any(lowered.endswith(marker) for marker in _NOT_FOUND_TEXTS):
        return NomadNotFoundError(text, status=500, endpoint=endpoint)
    if any(lowered.startswith(marker.lower()) for marker in _REFUSAL_TEXTS):
        return NomadAPIError(text, status=500, endpoint=endpoint)
    return NomadUnavailableError(f"HTTP 500: {text}", endpoint=endpoint)


# httpx wraps most socket failures, but a TLS alert arriving while reading the
# response (TLS 1.3 client-certificate rejection) escapes as a bare ssl.SSLError.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (httpx.HTTPError, OSError)


def map_transport_error(exc: BaseException, *, endpoint: str) -> NomadUnavailableError:
    """Connection, TLS and timeout failures; the caller raises the result ``from exc``."""
    if isinstance(exc, httpx.ConnectTimeout):
        reason = "timed out connecting to Nomad"
    elif isinstance(exc, httpx.ConnectError):
        reason = f"cannot connect to Nomad: {_describe(exc)}"
    elif isinstance(exc, httpx.PoolTimeout):
        reason = "timed out waiting for a free connection to Nomad"
    elif isinstance(exc, httpx.TimeoutException):
        reason = "Nomad did not answer in time"
    elif isinstance(exc, httpx.RemoteProtocolError):
        reason = f"Nomad closed the connection: {_describe(exc)}"
    elif isinstance(exc, ssl.SSLError):
        reason = f"TLS failure talking to Nomad: {_describe(exc)}"
    else:
        reason = f"transport error: {type(exc).__name__}: {_describe(exc)}"
    return NomadUnavailableError(reason, endpoint=endpoint)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
