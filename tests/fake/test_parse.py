"""``/v1/jobs/parse`` and ``/v1/validate/job`` against the recorded jobspec corpus
(tests/golden/jobspec): the fake answers what Nomad 1.0.18 answered."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import without_nulls

CORPUS = Path(__file__).parent.parent / "golden" / "jobspec"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())




@pytest.fixture(scope="module")
def nomad() -> Iterator[httpx.Client]:
    with FakeNomad() as fake, httpx.Client(base_url=fake.address, timeout=30) as client:
        yield client


@pytest.mark.parametrize("entry", MANIFEST["valid"], ids=lambda e: e["file"])
def test_parse_matches_the_recorded_api_job(nomad: httpx.Client, entry: dict[str, Any]) -> None:
    text = (CORPUS / entry["file"]).read_text()
    resp = nomad.put("/v1/jobs/parse", json={"JobHCL": text, "Canonicalize": True})
    assert resp.status_code == 200, resp.text
    expected = json.loads((CORPUS / entry["parse"]).read_text())
    assert without_nulls(resp.json()) == without_nulls(expected)


@pytest.mark.parametrize("entry", [e for e in MANIFEST["invalid"] if e["fails_at"] == "parse"], ids=lambda e: e["file"])
def test_parse_errors_are_400_text_at_the_recorded_line(nomad: httpx.Client, entry: dict[str, Any]) -> None:
    recorded = json.loads((CORPUS / entry["error"]).read_text())["parse_api"]
    text = (CORPUS / entry["file"]).read_text()
    resp = nomad.put("/v1/jobs/parse", json={"JobHCL": text, "Canonicalize": True})
    assert (resp.status_code, resp.headers["content-type"]) == (recorded["status"], recorded["content_type"])
    # Nomad names a column range ("13,1-1"); the project's converter reports the start only.
    where = re.match(r"input\.hcl:(\d+),", recorded["body"])
    if where:
        assert resp.text.startswith(f"input.hcl:{where.group(1)},"), resp.text


@pytest.mark.parametrize("entry", [e for e in MANIFEST["invalid"] if e["fails_at"] == "validate"], ids=lambda e: e["file"])
def test_validate_reports_the_recorded_errors(nomad: httpx.Client, entry: dict[str, Any]) -> None:
    recorded = json.loads((CORPUS / entry["error"]).read_text())
    job = json.loads(recorded["cli_run_output"]["stdout"])
    resp = nomad.put("/v1/validate/job", json=job)
    assert resp.status_code == 200
    body, expected = resp.json(), recorded["validate_api"]["body"]
    assert (body["Error"], body["ValidationErrors"]) == (expected["Error"], expected["ValidationErrors"])


def test_empty_jobspec_is_refused(nomad: httpx.Client) -> None:
    resp = nomad.put("/v1/jobs/parse", json={"JobHCL": ""})
    assert (resp.status_code, resp.text) == (400, "Job spec is empty")


SERVICES = json.loads((CORPUS.parent / "validate" / "services-connect.json").read_text())["cases"]


@pytest.mark.parametrize("case", SERVICES, ids=lambda c: c["name"])
def test_validate_answers_services_and_connect_as_recorded(nomad: httpx.Client, case: dict[str, Any]) -> None:
    # tests/golden/validate/services-connect.json: a real 1.0.18 agent's answers, a job an
    # admission mutator refuses included (HTTP 500 with its text, on register too)
    resp = nomad.put("/v1/validate/job", json=case["job"])
    if "validate_refused" in case:
        refused = case["validate_refused"]
        assert (resp.status_code, resp.text) == (refused["status"], refused["body"])
        run = nomad.put("/v1/jobs", json=case["job"])
        assert (run.status_code, run.text) == (refused["status"], refused["body"])
        return
    expected = case["validate_response"]
    assert resp.status_code == 200
    assert (resp.json()["Error"], resp.json()["ValidationErrors"]) == (
        expected["Error"], expected["ValidationErrors"],
    )  # fmt: skip
