"""Status page fixtures: the Nomad fake, a git checkout holding the example jobs (and a few
made for these tests), and the daemon serving the page as a real subprocess."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from reconciler.demo import DEMO_DRIVERS
from reconciler.testing.fake_nomad import FakeNomad
from tests.daemon.harness import REPO_ROOT, DaemonProcess, GitCheckout, job_hcl

SECRET_IN_FILE = "file-secret-7f3a9c"

SECRETS_JOB = """job "billing" {
  datacenters = ["dc1"]
  group "app" {
    task "app" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      env {
        DB_PASSWORD = "SECRET"
        LOG_LEVEL   = "info"
      }
    }
  }
}
""".replace("SECRET", SECRET_IN_FILE)


@dataclass
class Site:
    fake: FakeNomad
    repo: GitCheckout
    daemon: DaemonProcess

    @property
    def url(self) -> str:
        return self.daemon.url

    def declared(self) -> set[tuple[str, str]]:
        doc = httpx.get(self.url + "/api/v1/status", timeout=30).json()
        return {(j["namespace"], j["id"]) for j in doc["jobs"]}


def make_checkout(root: Path, fake: FakeNomad) -> GitCheckout:
    """The example jobs (as the demo uses them) plus jobs these tests change."""
    repo = GitCheckout(root)
    shutil.copytree(REPO_ROOT / "jobs", root, dirs_exist_ok=True)
    repo.write("tests/counter.nomad", job_hcl("counter", count=1))
    repo.write("tests/markup.nomad", job_hcl("markup", meta={"note": "plain"}))
    repo.write("tests/billing.nomad", SECRETS_JOB)
    repo.commit("example jobs")
    httpx.put(f"{fake.address}/v1/namespace", json={"Name": "platform"}).raise_for_status()
    return repo


@pytest.fixture
def fake() -> Iterator[FakeNomad]:
    with FakeNomad(drivers=DEMO_DRIVERS) as server:
        yield server


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(jobs: Path, address: str, *extra: str) -> DaemonProcess:
        daemon = DaemonProcess(jobs, address, *extra)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        try:
            daemon.stop()
        finally:
            print(daemon.dump())  # shown by pytest only when the test failed
