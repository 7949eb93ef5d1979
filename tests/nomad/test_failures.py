"""Nomad's error responses map onto the error tree; checked on every recorded error."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import httpx
import pytest

from reconciler.errors import (
    ErrorCause,
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
from reconciler.nomad.failures import map_response_error, map_transport_error

GOLDEN_API = Path(__file__).parents[1] / "golden" / "api"


def _recorded_errors() -> list[tuple[str, str, str, int, str]]:
    found = []
    for path in sorted(GOLDEN_API.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            exchange = json.loads(line)
            response = exchange["response"]
            if response["status"] >= 400:
                request = exchange["request"]
                found.append(
                    (
                        path.name,
                        request["method"],
                        request["path"],
                        response["status"],
                        response["body"],
                    )
                )
    return found


RECORDED = _recorded_errors()


def _expected(status: int, body: str) -> type[NomadError]:
    """What each recorded error means to a caller (written from the texts, not the code)."""
    if status == 400:
        return NomadBadRequestError
    if status == 403:
        return NomadPermissionDeniedError
    if status == 404 or body == "deployment not found":
        return NomadNotFoundError
    if body.startswith("Enforcing job modify index"):
        return NomadIndexConflictError
    if "error occurred" in body or "errors occurred" in body:
        return NomadJobRejectedError
    if "nonexistent namespace" in body:  # the namespace may be (re)created: not the file's fault
        return NomadClusterRefusalError
    return NomadAPIError  # "can't promote terminal deployment", malformed token


def _caused_by_file(status: int, body: str) -> bool:
    """Only the file can fix it: a request Nomad cannot decode, or its job validation."""
    return _expected(status, body) in (NomadBadRequestError, NomadJobRejectedError)


def test_the_recordings_have_errors_of_every_kind() -> None:
    kinds = {_expected(status, body) for *_, status, body in RECORDED}
    assert {
        NomadBadRequestError,
        NomadPermissionDeniedError,
        NomadNotFoundError,
        NomadIndexConflictError,
        NomadJobRejectedError,
        NomadClusterRefusalError,
        NomadAPIError,
    } <= kinds


@pytest.mark.parametrize(
    "name,method,path,status,body", RECORDED, ids=[f"{r[0]}:{r[2]}:{r[3]}" for r in RECORDED]
)
def test_recorded_error_maps_to_its_class(
    name: str, method: str, path: str, status: int, body: str
) -> None:
    job_write = method in ("PUT", "POST") and (path == "/v1/jobs" or path.endswith("/plan"))
    error = map_response_error(status, body, endpoint=path, job_write=job_write)
    assert type(error) is _expected(status, body)
    assert error.cause is (ErrorCause.FILE if _caused_by_file(status, body) else ErrorCause.CLUSTER)
    assert error.retryable is (error.cause is ErrorCause.CLUSTER)
    assert error.endpoint == path


def test_job_rejection_keeps_nomads_message() -> None:
    body = "2 errors occurred:\n\t* Job priority must be between [1, 100]\n\t* Missing job datacenters\n\n"
    error = map_response_error(500, body, endpoint="/v1/jobs", job_write=True)
    assert isinstance(error, NomadJobRejectedError)
    assert "Job priority must be between [1, 100]" in error.message
    assert "Missing job datacenters" in error.message
    assert error.status == 500


def test_permission_denied_says_which() -> None:
    unknown = map_response_error(403, "ACL token not found", endpoint="/v1/jobs")
    denied = map_response_error(403, "Permission denied", endpoint="/v1/jobs")
    assert "not know the token" in unknown.message
    assert "lacks a capability" in denied.message


@pytest.mark.parametrize(
    "status,body",
    [
        (500, "No cluster leader"),
        (500, "rpc error: EOF"),
        (502, "Bad Gateway"),
        (503, ""),
        (504, "gateway timeout"),
        (429, "Too many requests"),
        (500, "something nobody recorded"),
    ],
)
def test_unavailable_responses_are_retryable(status: int, body: str) -> None:
    error = map_response_error(status, body, endpoint="/v1/jobs")
    assert isinstance(error, NomadUnavailableError)
    assert error.retryable is True


def test_no_leader_on_a_job_write_is_still_unavailable() -> None:
    error = map_response_error(500, "No cluster leader", endpoint="/v1/jobs", job_write=True)
    assert isinstance(error, NomadUnavailableError)


def test_huge_bodies_are_truncated() -> None:
    error = map_response_error(400, "x" * 100_000, endpoint="/v1/jobs")
    assert len(error.message) < 5000


@pytest.mark.parametrize(
    "exc,words",
    [
        (httpx.ConnectError("refused"), "cannot connect"),
        (httpx.ConnectTimeout("slow"), "timed out connecting"),
        (httpx.ReadTimeout("slow"), "did not answer in time"),
        (httpx.RemoteProtocolError("closed"), "closed the connection"),
    ],
)
def test_transport_errors_are_unavailable(exc: httpx.HTTPError, words: str) -> None:
    error = map_transport_error(exc, endpoint="/v1/jobs")
    assert isinstance(error, NomadUnavailableError)
    assert words in error.message


def test_bare_tls_alerts_are_unavailable() -> None:
    # httpx lets a TLS 1.3 alert received while reading escape as ssl.SSLError.
    error = map_transport_error(ssl.SSLError(1, "tlsv13 alert certificate required"), endpoint="/x")
    assert isinstance(error, NomadUnavailableError)
    assert "TLS failure" in error.message


@pytest.mark.parametrize(
    "body,expected,cause",
    [
        # Nomad's job validation (tests/golden/api/10-invalid-registrations.jsonl)
        (
            "1 error occurred:\n\t* Missing job datacenters\n\n",
            NomadJobRejectedError,
            ErrorCause.FILE,
        ),
        # nomad/job_endpoint.go validateJobUpdate / Register, v1.0.18
        (
            'cannot update job from type "service" to "batch"',
            NomadJobRejectedError,
            ErrorCause.FILE,
        ),
        ("Failed to parse cron expression: bad", NomadJobRejectedError, ErrorCause.FILE),
        # an admission mutator's refusal, as a real 1.0.18 agent answers register
        # (tests/golden/validate/services-connect.json, cli_run)
        (
            "error in job mutator connect: task for Consul Connect Native service g->s is "
            "ambiguous and must be set",
            NomadJobRejectedError,
            ErrorCause.FILE,
        ),
        (
            'error in job mutator expose-check: group "g" must use bridge network for exposing '
            "service check(s)",
            NomadJobRejectedError,
            ErrorCause.FILE,
        ),
        # caused by the cluster: the same file may be accepted later (both texts as a real
        # Nomad 1.0.18 dev agent answers them: no Vault configured, no namespace "team2")
        (
            'job "web" is in nonexistent namespace "team2"',
            NomadClusterRefusalError,
            ErrorCause.CLUSTER,
        ),
        (
            "Vault not enabled and Vault policies requested",
            NomadClusterRefusalError,
            ErrorCause.CLUSTER,
        ),
        ("something nobody recorded", NomadClusterRefusalError, ErrorCause.CLUSTER),
        ("rpc error: injected fault", NomadUnavailableError, ErrorCause.CLUSTER),
        (
            "Enforcing job modify index 57: job exists with conflicting job modify index: 58",
            NomadIndexConflictError,
            ErrorCause.CLUSTER,
        ),
    ],
)
def test_job_write_500s_are_classified_by_cause(
    body: str, expected: type[NomadError], cause: ErrorCause
) -> None:
    error = map_response_error(500, body, endpoint="/v1/jobs", job_write=True)
    assert type(error) is expected
    assert error.cause is cause
    assert error.retryable is (cause is ErrorCause.CLUSTER)


@pytest.mark.parametrize(
    "status,body,cause",
    [
        (
            400,
            "json: cannot unmarshal string into Go struct field TaskGroup.Job.TaskGroups.Count of type int",
            ErrorCause.FILE,
        ),
        (400, "Job ID does not match name", ErrorCause.FILE),
        (403, "Permission denied", ErrorCause.CLUSTER),
        (403, "ACL token not found", ErrorCause.CLUSTER),
        (404, "job not found", ErrorCause.CLUSTER),
        (502, "Bad Gateway", ErrorCause.CLUSTER),
    ],
)
def test_other_statuses_on_a_job_write_are_classified_by_cause(
    status: int, body: str, cause: ErrorCause
) -> None:
    error = map_response_error(status, body, endpoint="/v1/jobs", job_write=True)
    assert error.cause is cause
