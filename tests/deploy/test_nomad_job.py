"""deploy/nomad: the reconciler's own Nomad job converts, lints clean, and is wired as documented."""

from __future__ import annotations

import shutil
from pathlib import Path

from reconciler.jobspec.hcl_convert import convert_hcl
from reconciler.jobspec.loader import load_directory
from reconciler.jobspec.validate import validate_job
from reconciler.jobspec.variables import VariableInputs
from reconciler.lint import lint_snapshot
from reconciler.model import Severity

JOB_FILE = Path(__file__).resolve().parents[2] / "deploy/nomad/nomad-reconciler.nomad.hcl"


def _job() -> dict:  # type: ignore[type-arg]
    return convert_hcl(JOB_FILE.read_text(), path=str(JOB_FILE))


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
    assert args[:2] == ["daemon", "${NOMAD_ALLOC_DIR}/data/checkout/jobs"]
    assert "--token-file" in args and args[args.index("--token-file") + 1].startswith("${NOMAD_SECRETS_DIR}/")
    # The clone lands where the reconciler looks, in the shared alloc/data directory.
    clone_script = tasks["git-clone"]["Templates"][0]["EmbeddedTmpl"]
    assert '$NOMAD_ALLOC_DIR/data/checkout' in clone_script


def test_reconciler_runs_the_checksummed_tarball_with_its_token_in_secrets() -> None:
    (group,) = _job()["TaskGroups"]
    reconciler = next(t for t in group["Tasks"] if t["Name"] == "reconciler")
    (artifact,) = reconciler["Artifacts"]
    assert artifact["GetterOptions"]["checksum"].startswith("sha256:")
    assert reconciler["Config"]["command"] == "local/nomad-reconciler/bin/nomad-reconciler"
    (token,) = [t for t in reconciler["Templates"] if t["DestPath"].startswith("secrets/")]
    assert token["ChangeMode"] == "noop"  # the daemon re-reads the file: no restart on rotation


def test_metrics_port_is_a_service_and_the_job_has_its_own_update_block() -> None:
    job = _job()
    (group,) = job["TaskGroups"]
    (service,) = group["Services"]
    assert service["PortLabel"] == "metrics"
    assert service["Checks"][0]["Path"] == "/readyz"
    assert group["Networks"][0]["DynamicPorts"][0]["Label"] == "metrics"
    assert job["Update"]["AutoRevert"] is True
