"""What the Nomad fake recorded, read the way a test asserts on it, and driving its simulated time."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable
from typing import Any

import httpx

from reconciler.testing.fake_nomad import FakeNomad, ManualClock


def registers(log: Iterable[tuple[str, str, str, int]]) -> int:
    """Job registrations in a fake's request log (``PUT /v1/jobs``)."""
    return sum(1 for method, path, _q, _s in log if method in ("PUT", "POST") and path == "/v1/jobs")


def count_of(fake: FakeNomad, job_id: str) -> int | None:
    """The first group's count of ``job_id`` (``None``: no such job)."""
    job = fake.read_job(job_id)
    return None if job is None else int(job["TaskGroups"][0]["Count"])


def nomad_writes(fake: FakeNomad) -> list[tuple[str, str]]:
    """Every job write Nomad recorded, oldest first: ``("register"|"deregister", job ID)``.

    Read from the fake's evaluations (written before the response is sent) rather
    than its request log (appended after), so a count right after a command is exact.
    Every write to a service job creates an evaluation, even one that changes nothing.
    """
    with urllib.request.urlopen(f"{fake.address}/v1/evaluations", timeout=10) as resp:
        evals = json.loads(resp.read())
    kinds = {"job-register": "register", "job-deregister": "deregister"}
    ordered = sorted(evals, key=lambda e: (e["CreateIndex"], e["ID"]))
    return [(kinds[e["TriggeredBy"]], e["JobID"]) for e in ordered if e["TriggeredBy"] in kinds]


class WriteLedger:
    """The job writes since the last ``mark()``."""

    def __init__(self, fake: FakeNomad) -> None:
        self.fake = fake
        self._seen = 0

    def mark(self) -> None:
        self._seen = len(nomad_writes(self.fake))

    def new(self) -> list[tuple[str, str]]:
        return nomad_writes(self.fake)[self._seen :]


def advance(fake: FakeNomad, clock: ManualClock, seconds: float, step: float = 0.1) -> None:
    """Let ``seconds`` of simulated time pass in small steps, the fake simulating each."""
    for _ in range(round(seconds / step)):
        clock.advance(step)
        fake.tick()


def latest_deployment(client: httpx.Client, job_id: str = "web") -> dict[str, Any]:
    """``GET /v1/job/:id/deployment``, which must exist."""
    body: dict[str, Any] | None = client.get(f"/v1/job/{job_id}/deployment").json()
    assert body is not None
    return body
