"""Job IDs that could address another job: the real CLI and HTTP client against the fake.

Nomad routes ``/v1/job/<id>...`` on the decoded path, so ``zz/../svc-02``
(even escaped) is redirected to ``svc-02`` and ``svc-01/summary`` reads
``svc-01``'s summary (tests/golden/path-routing.json, recorded from Nomad
1.0.18).  Such IDs are refused where they are declared, and the client never
puts one in a URL, so prune can never stop ``svc-02`` through them.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.testing.fake_nomad import FakeNomad, HealthModel
from tests.support.fake_state import WriteLedger
from tests.support.git import GitCheckout
from tests.support.jobs import service_job

HOSTILE_FILES = {
    # file -> (text, line of the job ID, the reason's key words)
    "zz.nomad": (
        '# a path in disguise\njob "zz/../svc-02" {\n  datacenters = ["dc1"]\n'
        '  group "g" {\n    task "t" {\n      driver = "raw_exec"\n'
        '      config {\n        command = "/bin/sleep"\n      }\n    }\n  }\n}\n',
        2,
        "'..' path segment",
    ),
    "summary.json": (None, 3, "ends in '/summary'"),
    "dots.json": (None, 3, "'..' path segment"),
    "newline.json": (None, 3, "control character (U+000A)"),
}
JSON_IDS = {"summary.json": "svc-01/summary", "dots.json": "..", "newline.json": "evil\nINFO:forged"}


def cli(fake: FakeNomad, *args: str) -> int:
    return main([*args[:1], "--address", fake.address, *args[1:]])


def http_put(fake: FakeNomad, path: str, body: Any) -> None:
    request = urllib.request.Request(
        fake.address + path, data=json.dumps(body).encode(), method="PUT"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def job_row(fake: FakeNomad, job_id: str) -> dict[str, Any]:
    with fake.state.lock:
        record = fake.state.get_record("default", job_id)
        assert record is not None, job_id
        return dict(record.row)


def write_hostile(repo: GitCheckout) -> None:
    for name, (text, _, _) in HOSTILE_FILES.items():
        if text is None:
            job = service_job(JSON_IDS[name])
            # the ID on line 3, as a person would write it
            text = '{\n  "Job": {\n    "ID": ' + json.dumps(job.pop("ID")) + ",\n"
            text += json.dumps(job, indent=4)[1:].lstrip("\n") + "}\n"
        (repo.root / name).write_text(text)


def test_hostile_ids_are_refused_with_file_and_line_and_other_jobs_sync(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write_job(service_job("svc-01"))
    repo.write_job(service_job("svc-02"))
    write_hostile(repo)
    repo.commit("two jobs and four hostile files")

    assert main(["lint", str(repo.root)]) == 1
    out = capsys.readouterr().out
    for name, (_, line, reason) in HOSTILE_FILES.items():
        found = [row for row in out.splitlines() if row.startswith(f"{name}:{line}")]
        assert found and reason in found[0], (name, out)
    assert "\nINFO:forged" not in out, "the newline ID must not reach the output raw"

    ledger = WriteLedger(fake)
    ledger.mark()
    assert cli(fake, "sync", str(repo.root), "--prune", "--max-prune", "1") == 1
    assert sorted(ledger.new()) == [("register", "svc-01"), ("register", "svc-02")]
    assert "4 file error(s)" in capsys.readouterr().out
    assert job_row(fake, "svc-02")["Stop"] is False
    paths = {path for _, path, _, _ in fake.request_log if path.startswith("/v1/job/")}
    assert all(p.split("/")[3] in ("svc-01", "svc-02") for p in paths), paths


@pytest.mark.parametrize("version", ["1.0.18", "1.6.0"])
def test_prune_of_an_owned_hostile_job_never_reaches_another_job(
    version: str, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    """1.0.18 lists no Meta: reading ``zz/../svc-02`` used to read ``svc-02`` (owned) and
    prune then stopped ``svc-02``.  1.6.0 lists Meta: prune addressed the path directly."""
    with FakeNomad(version=version, health=HealthModel(time_scale=0.01)) as fake:
        repo.write_job(service_job("svc-01"))
        repo.write_job(service_job("svc-02"))
        repo.write_job(service_job("team/web"), name="team-web.json")  # a '/' alone is fine
        repo.commit("jobs")
        assert cli(fake, "sync", str(repo.root)) == 0
        # Owned jobs nobody declares any more, registered before IDs were checked.
        for job_id in ("zz/../svc-02", "svc-01/summary"):
            meta = {"gitops.source": "gone.json", "gitops.digest": "0" * 64}
            http_put(fake, "/v1/jobs", {"Job": service_job(job_id, Meta=meta)})
        repo.git("rm", "-q", "team-web.json")
        repo.commit("team/web is gone")
        ledger = WriteLedger(fake)
        ledger.mark()

        code = cli(fake, "sync", str(repo.root), "--prune", "--max-prune", "1")
        out = capsys.readouterr().out
        assert ledger.new() == [("deregister", "team/web")]
        assert job_row(fake, "team/web")["Stop"] is True
        for job_id in ("svc-01", "svc-02", "zz/../svc-02", "svc-01/summary"):
            assert job_row(fake, job_id)["Stop"] is False, job_id
        if version != "1.0.18":  # on 1.0.18 their ownership is unknown: never touched
            assert "refusing to address 'zz/../svc-02'" in out
            assert "refusing to address 'svc-01/summary'" in out
            assert code == 1
