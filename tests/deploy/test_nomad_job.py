"""deploy/nomad: the reconciler's own Nomad job converts, lints clean, and is wired as documented."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import JobSpecError
from reconciler.jobspec.hcl_convert import convert_hcl
from reconciler.jobspec.loader import load_directory
from reconciler.jobspec.validate import validate_job
from reconciler.jobspec.variables import VariableInputs
from reconciler.lint import lint_snapshot
from reconciler.model import Severity

JOB_FILE = Path(__file__).resolve().parents[2] / "deploy/nomad/nomad-reconciler.nomad.hcl"


def _job(*variables: str) -> dict[str, Any]:
    inputs = VariableInputs(cli=variables)
    return convert_hcl(JOB_FILE.read_text(), path=str(JOB_FILE), inputs=inputs)


def _task(job: dict[str, Any], name: str) -> dict[str, Any]:
    (group,) = job["TaskGroups"]
    return next(t for t in group["Tasks"] if t["Name"] == name)


def test_job_is_valid_for_nomad_and_lints_clean(tmp_path: Path) -> None:
    assert validate_job(_job()).errors == ()
    shutil.copy(JOB_FILE, tmp_path / JOB_FILE.name)
    snapshot = load_directory(tmp_path, inputs=VariableInputs())
    assert snapshot.errors == ()
    findings = lint_snapshot(snapshot)
    assert [d.describe() for d in findings if d.severity is Severity.ERROR] == []


def test_tasks_share_the_checkout_through_the_alloc_dir() -> None:
    job = _job()
    (group,) = job["TaskGroups"]
    tasks = {t["Name"]: t for t in group["Tasks"]}
    assert tasks["git-clone"]["Lifecycle"] == {"Hook": "prestart", "Sidecar": False}
    assert tasks["git-sync"]["Lifecycle"] == {"Hook": "poststart", "Sidecar": True}
    reconciler = tasks["reconciler"]
    args = reconciler["Config"]["args"]
    # Default: the jobs at the repository root, like the README's tutorial repository.
    assert args[:2] == ["daemon", "${NOMAD_ALLOC_DIR}/data/checkout/."]
    # The clone lands where the reconciler looks, in the shared alloc/data directory.
    clone_script = tasks["git-clone"]["Templates"][0]["EmbeddedTmpl"]
    assert '$NOMAD_ALLOC_DIR/data/checkout' in clone_script


def test_reconciler_runs_the_checksummed_tarball() -> None:
    reconciler = _task(_job(), "reconciler")
    (artifact,) = reconciler["Artifacts"]
    assert artifact["GetterOptions"]["checksum"].startswith("sha256:")
    assert reconciler["Config"]["command"] == "local/nomad-reconciler/bin/nomad-reconciler"


def test_defaults_need_neither_vault_nor_consul_nor_a_fixed_address() -> None:
    job = _job()
    reconciler = _task(job, "reconciler")
    assert reconciler["Vault"] is None  # Nomad refuses vault blocks when Vault is off
    assert reconciler["Templates"] is None and "--token-file" not in reconciler["Config"]["args"]
    (group,) = job["TaskGroups"]
    assert group["Services"] is None  # no Consul service, no Consul check
    assert job["Update"]["HealthCheck"] == "task_states"
    assert reconciler["Env"]["NOMAD_ADDR"] == "http://127.0.0.1:4646"
    assert _task(_job("nomad_addr=https://nomad.example:4646"), "reconciler")["Env"]["NOMAD_ADDR"] == (
        "https://nomad.example:4646"
    )


@pytest.mark.parametrize(
    ("source", "template_text"),
    [
        ("vault", '{{ with secret "nomad/creds/nomad-reconciler" }}{{ .Data.secret_id }}{{ end }}'),
        ("nomad-variable", '{{ with nomadVar "nomad/jobs/nomad-reconciler" }}{{ .token }}{{ end }}'),
        ("template", '{{ key "nomad-reconciler/token" }}'),
    ],
)
def test_token_source_renders_a_token_file_the_task_user_can_read(
    source: str, template_text: str
) -> None:
    extra = ['token_template={{ key "nomad-reconciler/token" }}'] if source == "template" else []
    reconciler = _task(_job(f"token_source={source}", *extra), "reconciler")
    (token,) = reconciler["Templates"]
    assert token["DestPath"] == "secrets/nomad-token"
    assert token["EmbeddedTmpl"] == template_text
    assert token["ChangeMode"] == "noop"  # the daemon re-reads the file: no restart on rotation
    # The exec task runs as nobody and the client writes templates as root: others must read.
    assert int(token["Perms"], 8) & 0o004
    args = reconciler["Config"]["args"]
    assert args[args.index("--token-file") + 1] == "${NOMAD_SECRETS_DIR}/nomad-token"
    assert (reconciler["Vault"] is not None) == (source == "vault")
    assert validate_job(_job(f"token_source={source}", *extra)).errors == ()


def test_an_unknown_token_source_is_refused_by_the_variable_validation() -> None:
    with pytest.raises(JobSpecError, match="token_source must be one of"):
        _job("token_source=consul")


def test_consul_readiness_check_is_opt_in() -> None:
    job = _job("service_provider=consul")
    (group,) = job["TaskGroups"]
    (service,) = group["Services"]
    assert service["PortLabel"] == "metrics"
    assert service["Checks"][0]["Path"] == "/readyz"
    assert job["Update"]["HealthCheck"] == "checks"
    assert group["Networks"][0]["DynamicPorts"][0]["Label"] == "metrics"
    assert job["Update"]["AutoRevert"] is True


@pytest.mark.parametrize(("branch", "ref"), [("", "origin/HEAD"), ("release", "origin/release")])
def test_checkout_follows_the_branch_or_the_remote_default(branch: str, ref: str) -> None:
    job = _job(f"branch={branch}")
    clone = _task(job, "git-clone")["Templates"][0]["EmbeddedTmpl"]
    sync = _task(job, "git-sync")["Templates"][0]["EmbeddedTmpl"]
    assert f'reset --quiet --hard "{ref}"' in clone and f'reset --quiet --hard "{ref}"' in sync
    assert ("--branch release" in clone) == bool(branch)
