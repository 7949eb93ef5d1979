"""Job IDs in URL paths: escaped like Nomad's Go client does, never able to address another job.

Against the fake and, with a ``nomad`` binary, a real agent.  What Nomad 1.0.18
does with escaped IDs is recorded in ``tests/golden/path-routing.json``; the
last test replays it against the fake's router.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from reconciler.errors import NomadBadRequestError
from reconciler.nomad.client import NomadClient
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import sleeper_job, unique_id
from tests.support.nomad_backends import Backend

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "path-routing.json"


async def test_ids_needing_escapes_address_exactly_their_job(
    client: NomadClient, backend: Backend
) -> None:
    base = unique_id("esc")
    neighbour = f"{base}-b"
    odd = [f"{base}/web", f"{base}%2Fb", f"{base}?x=1#frag", f"{base}-ünï", f"{base}/..x/.y"]
    for job_id in [neighbour, *odd]:
        await client.register_job(sleeper_job(job_id))
    for job_id in odd:
        assert (await client.read_job(job_id))["ID"] == job_id
        assert (await client.job_summary(job_id))["JobID"] == job_id
        plan = await client.plan_job(sleeper_job(job_id))
        assert plan.diff is not None and plan.diff.id == job_id
        await client.deregister_job(job_id)
        assert (await client.read_job(job_id))["Stop"] is True
    assert (await client.read_job(neighbour))["Stop"] is False
    if backend.fake is not None:
        # Escaped exactly once: the fake (like Nomad) decodes once and sees the literal '%2F'.
        paths = [p for _, p, _, _ in backend.fake.request_log]
        assert f"/v1/job/{base}%2Fb" in paths


HOSTILE = {
    "zz/../svc": "'..' path segment",
    "svc/summary": "ends in '/summary'",
    "svc/periodic/force": "ends in '/periodic/force'",
    "..": "'..' path segment",
    ".": "'..' path segment",
    "a//b": "empty",
    "/svc": "empty",
    "": "it is empty",
}


@pytest.mark.parametrize("job_id", list(HOSTILE))
async def test_ids_no_url_can_carry_are_refused_before_any_request(
    client: NomadClient, backend: Backend, job_id: str
) -> None:
    neighbour = unique_id("svc")
    await client.register_job(sleeper_job(neighbour))
    hostile = job_id.replace("svc", neighbour)
    before = len(backend.fake.request_log) if backend.fake is not None else 0
    calls = [
        client.read_job(hostile),
        client.deregister_job(hostile),
        client.job_summary(hostile),
        client.read_latest_deployment(hostile),
        client.scale_job(hostile, "app", 3),
    ]
    for call in calls:
        with pytest.raises(NomadBadRequestError, match=HOSTILE[job_id]) as caught:
            await call
        assert "refusing to address" in str(caught.value)
    if hostile:  # a plan carries its ID in the URL too (an empty ID is refused before)
        with pytest.raises(NomadBadRequestError, match="refusing to address"):
            await client.plan_job(sleeper_job(hostile))
    if backend.fake is not None:
        assert len(backend.fake.request_log) == before, "nothing may reach Nomad"
    live = await client.read_job(neighbour)
    assert live["Stop"] is False and live["TaskGroups"][0]["Count"] == 1


def test_fake_routes_escaped_ids_like_nomad_1_0_18() -> None:
    """Go's ServeMux (Go ≤ 1.21) cleans the decoded path and redirects; suffixes route by name."""
    recorded = json.loads(GOLDEN.read_text())
    with FakeNomad() as fake, httpx.Client(base_url=fake.address, timeout=10) as http:
        for job_id in ("svc-01", "svc-02", "team/web", "a%b"):
            job = sleeper_job(job_id)
            assert http.put("/v1/jobs", json={"Job": job}).status_code == 200
        for exchange in recorded["exchanges"]:
            request, expected = exchange["request"], exchange["response"]
            url = httpx.URL(fake.address).copy_with(raw_path=request["raw_path"].encode())
            content = b"{}" if request["method"] == "PUT" else None
            got = http.request(request["method"], url, content=content)
            where = f"{request['method']} {request['raw_path']}"
            assert got.status_code == expected["status"], where
            for name, value in expected["headers"].items():
                assert got.headers.get(name) == value, (where, name)
            if "Location" not in expected["headers"]:
                assert "Location" not in got.headers, where
            body = expected["body"]
            if isinstance(body, dict):
                assert got.json().get("ID", got.json().get("JobID")) == body.get(
                    "ID", body.get("JobID")
                ), where
            else:
                assert got.text == body, where
