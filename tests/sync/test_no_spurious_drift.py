"""No spurious drift: every valid corpus job, registered by a sync, plans as in sync.

The jobs are the recorded ``nomad job run -output`` JSON of the corpus (the
converter's target), written as JSON job files, so this checks canonical form,
diff and the fake's read-back together, independent of the HCL converter.
"""

from __future__ import annotations

import json
import shutil

import pytest

from reconciler.cli import main
from reconciler.testing.fake_nomad import FakeNomad
from tests.sync.conftest import GOLDEN, GitRepo


def test_every_corpus_job_is_in_sync_after_its_own_sync(
    fake: FakeNomad, repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    names = [entry["file"].removesuffix(".nomad") for entry in manifest["valid"]]
    for name in names:
        shutil.copy(GOLDEN / f"{name}.output.json", repo.root / f"{name}.json")
    repo.commit("corpus")
    assert main(["sync", str(repo.root), "--address", fake.address]) == 0, capsys.readouterr().out
    capsys.readouterr()
    code = main(["plan", str(repo.root), "--address", fake.address, "--json", "--refresh"])
    doc = json.loads(capsys.readouterr().out)
    drifted = {j["id"]: j["changes"] for j in doc["jobs"] if j["state"] != "in_sync"}
    assert drifted == {}
    assert code == 0 and len(doc["jobs"]) == len(names)
