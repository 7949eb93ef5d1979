"""The status page's test checkout: the example jobs plus jobs its tests change."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import REPO_ROOT
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl

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
