"""Periodic and parameterized parents in the fake as Nomad 1.0.18 runs them:
``periodic/force`` and ``dispatch`` launch child jobs (never registrations of
the parent), with Nomad's IDs, checks and error texts
(nomad/job_endpoint.go Dispatch, nomad/periodic_endpoint.go Force); a parent's
summary counts its children, which outlive a purged parent."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad


def _batch(job_id: str, **extra: Any) -> dict[str, Any]:
    return {"Job": {
        "ID": job_id, "Name": job_id, "Type": "batch", "Datacenters": ["dc1"], **extra,
        "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [
            {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}},
        ]}],
    }}


PERIODIC = {"Periodic": {"Enabled": True, "Spec": "0 3 * * *", "SpecType": "cron", "ProhibitOverlap": True}}
PARAMETERIZED = {"ParameterizedJob": {"Payload": "optional", "MetaRequired": ["team"], "MetaOptional": ["note"]}}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with FakeNomad() as fake, httpx.Client(base_url=fake.address, timeout=10) as c:
        yield c


def test_periodic_force_launches_a_child_and_leaves_the_parent_alone(client: httpx.Client) -> None:
    assert client.put("/v1/jobs", json=_batch("nightly", **PERIODIC)).json()["EvalID"] == ""
    parent_before = client.get("/v1/job/nightly").json()
    reply = client.post("/v1/job/nightly/periodic/force")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["EvalID"] and body["EvalCreateIndex"] == body["Index"]
    parent = client.get("/v1/job/nightly").json()
    assert (parent["Version"], parent["JobModifyIndex"]) == (parent_before["Version"], parent_before["JobModifyIndex"])
    [child] = [j for j in client.get("/v1/jobs").json() if j["ParentID"] == "nightly"]
    assert re.fullmatch(r"nightly/periodic-\d{10}", child["ID"])
    assert child["Periodic"] is False and child["Type"] == "batch"
    evaluation = client.get(f"/v1/evaluation/{body['EvalID']}").json()
    assert (evaluation["JobID"], evaluation["TriggeredBy"]) == (child["ID"], "periodic-job")
    summary = client.get("/v1/job/nightly/summary").json()
    assert sum(summary["Children"].values()) == 1


def test_periodic_force_errors(client: httpx.Client) -> None:
    missing = client.post("/v1/job/nope/periodic/force")
    assert (missing.status_code, missing.text) == (500, "job not found")
    client.put("/v1/jobs", json=_batch("plain"))
    plain = client.post("/v1/job/plain/periodic/force")
    assert (plain.status_code, plain.text) == (500, "can't force launch non-periodic job")
    assert client.get("/v1/job/plain/periodic/force").status_code == 405


def test_dispatch_launches_a_child_with_meta_and_payload(client: httpx.Client) -> None:
    client.put("/v1/jobs", json=_batch("render", Meta={"owner": "ops"}, **PARAMETERIZED))
    payload = b"hello payload"
    reply = client.post("/v1/job/render/dispatch", json={
        "Meta": {"team": "web"}, "Payload": base64.b64encode(payload).decode(),
    })
    assert reply.status_code == 200, reply.text
    body = reply.json()
    child_id = body["DispatchedJobID"]
    assert re.fullmatch(r"render/dispatch-\d{10}-[0-9a-f]{8}", child_id)
    assert body["EvalID"] and body["JobCreateIndex"] < body["EvalCreateIndex"] == body["Index"]
    child = client.get(f"/v1/job/{child_id}").json()
    assert (child["ParentID"], child["Dispatched"], child["Name"]) == ("render", True, child_id)
    assert child["Meta"] == {"owner": "ops", "team": "web"}
    assert base64.b64decode(child["Payload"]) == payload, "read back as sent (real Nomad 1.0.18)"
    stubs = {j["ID"]: j for j in client.get("/v1/jobs").json()}
    assert stubs["render"]["ParameterizedJob"] is True and stubs[child_id]["ParameterizedJob"] is False
    assert client.get("/v1/job/render").json()["Version"] == 0, "the parent is not re-registered"
    # The parent's purge writes no evaluation, yet answers the write's index as its
    # EvalCreateIndex (nomad/job_endpoint.go Deregister; seen on a real 1.0.18); its child lives on.
    purge = client.delete("/v1/job/render", params={"purge": "true"}).json()
    assert (purge["EvalID"], purge["EvalCreateIndex"]) == ("", purge["Index"])
    assert purge["EvalCreateIndex"] > 0
    assert client.get(f"/v1/job/{child_id}").status_code == 200


@pytest.mark.parametrize(("job", "request_body", "status", "text"), [
    ("nope", {}, 500, "parameterized job not found"),
    ("plain", {}, 500, 'Specified job "plain" is not a parameterized job'),
    ("render", {"JobID": "other"}, 400, "Job ID does not match"),
    ("render", {"Meta": {"note": "x"}}, 500, "Dispatch did not provide required meta keys: [team]"),
    ("render", {"Meta": {"team": "a", "bogus": "b"}}, 500, "Dispatch request included unpermitted metadata keys: [bogus]"),
    ("render", {"Meta": {"team": "a"}, "Payload": "!!"}, 400, "illegal base64 data at input byte 0"),
    ("strict", {"Meta": {"team": "a"}}, 500, "Payload is not provided but required by parameterized job"),
    ("silent", {"Meta": {"team": "a"}, "Payload": "aGk="}, 500, "Payload provided but forbidden by parameterized job"),
    ("strict", {"Meta": {"team": "a"}, "Payload": base64.b64encode(b"x" * (16 * 1024 + 1)).decode()}, 500,
     "Payload exceeds maximum size; 16385 > 16384"),
])
def test_dispatch_errors_read_like_nomads(
    client: httpx.Client, job: str, request_body: dict[str, Any], status: int, text: str
) -> None:
    client.put("/v1/jobs", json=_batch("plain"))
    client.put("/v1/jobs", json=_batch("render", **PARAMETERIZED))
    client.put("/v1/jobs", json=_batch("strict", ParameterizedJob={**PARAMETERIZED["ParameterizedJob"], "Payload": "required"}))
    client.put("/v1/jobs", json=_batch("silent", ParameterizedJob={**PARAMETERIZED["ParameterizedJob"], "Payload": "forbidden"}))
    reply = client.post(f"/v1/job/{job}/dispatch", json=request_body)
    assert (reply.status_code, reply.text) == (status, text)
    assert not [j for j in client.get("/v1/jobs").json() if j["ParentID"]], "no child on a refused dispatch"


def test_a_stopped_parameterized_job_cannot_be_dispatched(client: httpx.Client) -> None:
    client.put("/v1/jobs", json=_batch("render", **PARAMETERIZED))
    stop = client.delete("/v1/job/render").json()
    assert stop["EvalID"] == ""
    reply = client.post("/v1/job/render/dispatch", json={"Meta": {"team": "a"}})
    assert (reply.status_code, reply.text) == (500, 'Specified job "render" is stopped')
