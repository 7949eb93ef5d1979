"""Fixtures for end-to-end sync tests: a real git checkout of JSON job files and the Nomad fake."""

from __future__ import annotations

import copy
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.testing.fake_nomad import FakeNomad, HealthModel
from tests.nomad_backends import fake_backend_params

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "jobspec"


def golden_job(name: str = "01-minimal-service") -> dict[str, Any]:
    job: dict[str, Any] = json.loads((GOLDEN / f"{name}.output.json").read_text())["Job"]
    return job


def service_job(job_id: str, **changes: Any) -> dict[str, Any]:
    job = copy.deepcopy(golden_job())
    job["ID"] = job["Name"] = job_id
    count = changes.pop("count", None)
    if count is not None:
        job["TaskGroups"][0]["Count"] = count
    job.update(changes)
    return job


class GitRepo:
    """A jobs repository driven with the git CLI, as a user's checkout would be."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "test@example.invalid")
        self.git("config", "user.name", "test")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True, timeout=30
        )
        return done.stdout

    def write_job(self, job: dict[str, Any], name: str | None = None) -> str:
        path = name or f"{job['ID']}.json"
        (self.root / path).write_text(json.dumps({"Job": job}, indent=2) + "\n")
        return path

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


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


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "jobs")


@pytest.fixture(params=fake_backend_params())
def fake(request: pytest.FixtureRequest) -> Iterator[FakeNomad]:
    """The fake at the oldest and at the newest Nomad it models: every sync test runs at both.
    Nomad's own timings (min_healthy_time 10s...) scaled down so rollouts finish fast."""
    with FakeNomad(version=request.param, health=HealthModel(time_scale=0.01)) as nomad:
        yield nomad


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.real_nomad)])
def nomad_address(request: pytest.FixtureRequest) -> Iterator[str]:
    """A Nomad to sync against: the fake, and a real dev agent when a ``nomad`` binary exists."""
    if request.param == "real":
        from tests.nomad_backends import purge_all_jobs

        address: str = request.getfixturevalue("nomad_agent")
        purge_all_jobs(address)
        yield address
        return
    yield request.getfixturevalue("fake").address
