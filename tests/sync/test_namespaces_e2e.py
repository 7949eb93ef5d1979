"""A namespace the user names must exist: Nomad lists a missing one as empty, never as an error."""

from __future__ import annotations

import json
import urllib.request

import pytest

from reconciler.cli import main
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.git import GitCheckout
from tests.support.jobs import service_job


def _create_namespace(fake: FakeNomad, name: str) -> None:
    body = json.dumps({"Name": name, "Description": ""}).encode()
    req = urllib.request.Request(f"{fake.address}/v1/namespace", data=body, method="PUT")
    urllib.request.urlopen(req, timeout=10).close()


@pytest.mark.parametrize("command", ["plan", "sync", "status"])
def test_an_unknown_namespace_is_an_error_naming_those_that_exist(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    _create_namespace(fake, "platform")
    repo.write_job(service_job("web"))
    repo.commit("web")
    capsys.readouterr()
    code = main([command, str(repo.root), "--address", fake.address, "--namespace", "nosuchns"])
    captured = capsys.readouterr()
    assert code == 1, captured.out
    assert "--namespace (or NOMAD_NAMESPACE) nosuchns: no such namespace" in captured.err
    assert "(namespaces the token can see: default, platform)" in captured.err
    assert "no jobs" not in captured.out
    assert not [p for m, p, _q, _s in fake.request_log if m == "PUT" and p == "/v1/jobs"]


def test_an_existing_namespace_is_accepted(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    _create_namespace(fake, "platform")
    repo.write_job(service_job("web"))
    repo.commit("web")
    code = main(["status", str(repo.root), "--address", fake.address, "--namespace", "platform"])
    assert code == 0, capsys.readouterr()
