"""Nomad's error responses map onto the error tree; checked on every recorded error."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import httpx
import pytest

from reconciler.errors import (
    NomadAPIError,
    NomadBadRequestError,
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
    if "error occurred" in body or "errors occurred" in body or "nonexistent namespace" in body:
        return NomadJobRejectedError
    return NomadAPIError  # "can't promote terminal deployment", malformed token


def test_the_recordings_have_errors_of_every_kind() -> None:
    kinds = {_expected(status, body) for *_, status, body in RECORDED}
    assert {
        NomadBadRequestError,
        NomadPermissionDeniedError,
        NomadNotFoundError,
        NomadIndexConflictError,
        NomadJobRejectedError,
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
    assert error.retryable is False
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
