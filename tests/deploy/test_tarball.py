"""The exec-driver tarball: built by one command, runnable from a fresh extraction."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from reconciler import __version__

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def extracted(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("alloc") / "local"
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="data")
    return dest / "nomad-reconciler"


def _clean_env() -> dict[str, str]:
    """No virtualenv, no PYTHONPATH: only what the tarball carries can be imported."""
    python_dir = str(Path(sys.executable).resolve().parent)
    return {"PATH": f"{python_dir}:/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}


@pytest.mark.slow
def test_checksum_file_matches_tarball(tarball: Path) -> None:
    recorded = Path(f"{tarball}.sha256").read_text().split()
    assert recorded[1] == tarball.name
    assert recorded[0] == hashlib.sha256(tarball.read_bytes()).hexdigest()


@pytest.mark.slow
def test_entry_point_runs_from_fresh_extraction(extracted: Path) -> None:
    launcher = extracted / "bin/nomad-reconciler"
    out = subprocess.run(
        [str(launcher), "--version"], capture_output=True, text=True, env=_clean_env(), check=True,
        cwd=ROOT,  # a checkout's own reconciler/ in the working directory must not shadow it
    )
    assert out.stdout.strip() == f"nomad-reconciler {__version__}"
    # The reconciler imported is the tarball's own copy, with its dependencies beside it.
    probe = subprocess.run(
        [str(Path(sys.executable).resolve()), "-s", "-P", "-c", "import reconciler, httpx, hcl2; print(reconciler.__file__)"],
        capture_output=True, text=True, env={**_clean_env(), "PYTHONPATH": str(extracted / "lib")},
        check=True,
    )
    assert probe.stdout.strip().startswith(str(extracted / "lib"))


@pytest.mark.slow
def test_launcher_refuses_a_python_of_another_version(extracted: Path, tmp_path: Path) -> None:
    fake_python = tmp_path / "python-old"
    fake_python.write_text("#!/bin/sh\n[ \"$1\" = -c ] && exit 1\necho 'Python 3.8.0'\n")
    fake_python.chmod(0o755)
    out = subprocess.run(
        [str(extracted / "bin/nomad-reconciler"), "--version"],
        capture_output=True, text=True, env={**_clean_env(), "NOMAD_RECONCILER_PYTHON": str(fake_python)},
    )
    assert out.returncode == 1
    assert "needs Python" in out.stderr
