"""No spurious drift: every valid corpus job, registered by a sync, plans as in sync.

Run twice: from the HCL2 sources (converter + canonical form + diff + the
fake's read-back together) and from the recorded ``nomad job run -output``
JSON (independent of the converter).
"""

from __future__ import annotations

import json
import shutil

import pytest

from reconciler.cli import main
from reconciler.testing.fake_nomad import FakeNomad
from tests.sync.conftest import GOLDEN, GitRepo


def corpus() -> list[str]:
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    return [entry["file"].removesuffix(".nomad") for entry in manifest["valid"]]


def copy_corpus(repo: GitRepo, form: str) -> None:
    for name in corpus():
        if form == "hcl":
            shutil.copy(GOLDEN / f"{name}.nomad", repo.root / f"{name}.nomad")
            for companion in GOLDEN.glob(f"{name}.vars.*"):
                shutil.copy(companion, repo.root / companion.name)
        else:
            shutil.copy(GOLDEN / f"{name}.output.json", repo.root / f"{name}.json")
    repo.commit(f"corpus ({form})")


@pytest.mark.parametrize("form", ["hcl", "json"])
def test_every_corpus_job_is_in_sync_after_its_own_sync(
    nomad_address: str, repo: GitRepo, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    copy_corpus(repo, form)
    assert main(["sync", str(repo.root), "--address", nomad_address]) == 0, capsys.readouterr().out
    capsys.readouterr()
    code = main(["plan", str(repo.root), "--address", nomad_address, "--json", "--refresh"])
    doc = json.loads(capsys.readouterr().out)
    drifted = {j["id"]: j["changes"] for j in doc["jobs"] if j["state"] != "in_sync"}
    assert drifted == {}
    assert doc["errors"] == []
    assert code == 0 and len(doc["jobs"]) == len(corpus())


def test_server_parser_agrees_with_the_local_one_and_names_files_it_cannot_do(
    fake: FakeNomad, repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_corpus(repo, "hcl")
    with_vars = {p.name.split(".")[0] + ".nomad" for p in repo.root.glob("*.vars.*")}
    assert with_vars, "the corpus has jobs with companion variable files"
    code = main(["sync", str(repo.root), "--address", fake.address, "--parser", "server"])
    out = capsys.readouterr().out
    assert code == 1  # Nomad 1.0.18's parse API takes no variables: those files fail alone
    for name in with_vars:
        assert f"error: {name}: Nomad's parser refused it" in out
    assert f"{len(corpus()) - len(with_vars)} created" in out
    # what the server parsed is exactly what the local converter produces
    code = main(["plan", str(repo.root), "--address", fake.address, "--json", "--refresh"])
    doc = json.loads(capsys.readouterr().out)
    assert {j["path"] for j in doc["jobs"] if j["state"] != "in_sync"} == with_vars
    assert {j["state"] for j in doc["jobs"] if j["path"] in with_vars} == {"missing"}
