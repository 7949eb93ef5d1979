"""Job variables for Submission and --parser server: which files, which precedence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reconciler.core.plan import SyncPolicy
from reconciler.jobspec.variables import VariableInputs
from reconciler.sync.engine import Reconciler
from reconciler.sync.sources import JobInputs, job_inputs
from tests.support.jobs import make_job, snapshot
from tests.support.memory_nomad import MemoryNomad


def test_merged_var_text_env_then_files_then_flags() -> None:
    inputs = JobInputs(
        flags={"replicas": "9"},
        var_files=(
            ("a.vars.hcl", 'replicas = 5\nregion = "eu"\ntags = [\n  "a",\n  "b",\n]\n# note\n'),
            ("b.vars.json", '{"region": "us", "enabled": true}'),
        ),
        env={"replicas": "2", "owner": "ops"},
    )
    assert inputs.merged_var_text() == (
        'replicas = "9"\nowner = "ops"\nregion = "us"\ntags = [\n  "a",\n  "b",\n]\nenabled = true\n'
    )
    assert JobInputs().merged_var_text() is None


def test_job_inputs_reads_companions_and_var_files(tmp_path: Path) -> None:
    (tmp_path / "web.vars.hcl").write_text("replicas = 3\n")
    extra = tmp_path / "extra.hcl"
    extra.write_text('region = "eu"\n')
    job = dataclasses.replace(make_job("web"), path="web.nomad", source_format="hcl2")
    inputs = VariableInputs(
        cli=("release=v2",), files=(str(extra),), env={"NOMAD_VAR_x": "1", "HOME": "/"}
    )
    found = job_inputs(tmp_path, job, inputs)
    assert found.flags == {"release": "v2"} and found.env == {"x": "1"}
    assert [p for p, _ in found.var_files] == ["web.vars.hcl", str(extra)]
    sub = found.submission(job)
    assert sub["Format"] == "hcl2" and sub["VariableFlags"] == {"release": "v2"}
    assert sub["Variables"] == 'replicas = 3\n\nregion = "eu"\n'
    json_job = dataclasses.replace(job, path="web.json", source_format="json")
    assert "Variables" not in job_inputs(tmp_path, json_job, inputs).submission(json_job)


async def test_submission_sent_only_to_nomad_16_and_later() -> None:
    job = dataclasses.replace(make_job("web"), source_format="hcl2")
    inputs = VariableInputs(cli=("release=v2",))
    for version, expected in (((1, 0, 18), None), ((1, 6, 0), {"release": "v2"})):
        nomad = MemoryNomad(version=version)
        await Reconciler(nomad, SyncPolicy(), inputs=inputs).reconcile(snapshot(job))
        sub = nomad.submissions["web"]
        if expected is None:
            assert sub is None
        else:
            assert sub["Source"] == job.source and sub["VariableFlags"] == expected
