"""A job using blocks Nomad added after 1.0 (disconnect, node_pool, identity...) syncs and
stays in sync on a release that stores them, and is refused, never sent, before it.

``sync`` then ``plan`` (and ``plan --refresh``, which reads the job back and diffs it
against the canonical form filled for the server's release) on the fake at 2.0.5 must
show no drift; at 1.0.18 the file is refused in the words of Nomad 1.0's parser.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from reconciler.cli import main
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.git import GitCheckout
from tests.support.nomad_backends import purge_all_jobs

LATER_JOB = """
job "edge" {
  datacenters = ["dc1"]
  node_pool   = "default"
  group "app" {
    disconnect {
      lost_after = "1h"
      replace    = false
    }
    task "server" {
      driver = "docker"
      config {
        image = "nginx:1.25"
      }
      identity {
        env = true
      }
      identity {
        name = "vault_default"
        aud  = ["vault.io"]
        ttl  = "1h"
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_later_blocks_round_trip_without_drift_at_2_0_5(
    repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("edge.nomad", LATER_JOB)
    repo.commit("a job using disconnect, node_pool and identity")
    with FakeNomad(version="2.0.5") as fake:
        code, doc = run(capsys, "sync", str(repo.root), "--address", fake.address)
        assert code == 0, doc
        stored = fake.state.jobs[("default", "edge")].row  # what the fake's 2.0.5 stores
        group = stored["TaskGroups"][0]
        assert group["Disconnect"]["LostAfter"] == 3_600_000_000_000
        assert group["Disconnect"]["Replace"] is False
        assert stored["NodePool"] == "default"
        assert [i["Name"] for i in group["Tasks"][0]["Identities"]] == ["vault_default"]
        assert group["Tasks"][0]["Identity"]["Env"] is True
        for argv in (("plan",), ("plan", "--refresh")):
            code, doc = run(capsys, argv[0], str(repo.root), "--address", fake.address, *argv[1:])
            assert code == 0, doc
            assert [j["state"] for j in doc["jobs"]] == ["in_sync"], doc


def assert_refused_and_not_sent(address: str, repo: GitCheckout, capsys: pytest.CaptureFixture[str]) -> None:
    repo.write("edge.nomad", LATER_JOB)
    repo.commit("a job using disconnect, node_pool and identity")
    code, doc = run(capsys, "sync", str(repo.root), "--address", address)
    assert code != 0
    messages = " ".join(str(d.get("message")) for d in doc.get("diagnostics") or doc.get("errors") or [])
    assert 'Blocks of type "disconnect" are not expected here.' in messages, doc
    assert 'An argument named "node_pool" is not expected here.' in messages, doc
    assert httpx.get(f"{address}/v1/job/edge", timeout=10).status_code == 404  # never sent


def test_later_blocks_are_refused_at_1_0_18_and_never_sent(
    repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeNomad(version="1.0.18") as fake:
        assert_refused_and_not_sent(fake.address, repo, capsys)


@pytest.mark.real_nomad
def test_a_real_1_0_agent_gets_nothing_it_does_not_know(
    nomad_agent: str, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real agent on PATH is Nomad 1.0.18: its version, read from the agent, refuses."""
    purge_all_jobs(nomad_agent)
    assert_refused_and_not_sent(nomad_agent, repo, capsys)
