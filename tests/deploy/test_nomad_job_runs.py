"""deploy/nomad: the reconciler's own job, rendered with its defaults, comes up and reconciles.

Two ways:

- on the fake: the job (rendered by ``nomad-reconciler render``, as a user would) is
  registered and its deployment gets healthy; then its three tasks are run the way the
  exec driver runs them (same alloc/ and secrets/ layout, same NOMAD_* variables, the
  rendered templates and arguments): the clone lands where the daemon looks, the daemon
  gets ready and registers the repository's job, and git-sync brings a new commit in;
- on a real ``nomad agent -dev`` (when ``nomad`` is on PATH): the same job with only the
  repository, artifact, address and token variables set (the token from a template into
  secrets/, read by the task's user, nobody), the tarball from deploy/tarball served
  over HTTP, no Vault, no Consul: the deployment gets healthy, ``/readyz`` answers 200 on
  the allocation's metrics port, the repository's job is registered and a new commit is
  rolled out.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl
from tests.support.network import free_port, serving
from tests.support.nomad_backends import running_nomad_agent
from tests.support.waiting import stop_process, wait_until

ROOT = Path(__file__).resolve().parents[2]
JOB_FILE = ROOT / "deploy/nomad/nomad-reconciler.nomad.hcl"
REAL_AGENT_TIMEOUT_S = 480.0  # each exec task builds its chroot: minutes on a loaded machine


def render(*variables: str) -> dict[str, Any]:
    """The job as ``nomad-reconciler render -var ...`` prints it (Nomad's -var spelling)."""
    args = [a for v in variables for a in ("-var", v)]
    out = subprocess.run(
        [sys.executable, "-m", "reconciler", "render", str(JOB_FILE), *args],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    job: dict[str, Any] = json.loads(out.stdout)["Job"]
    return job


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# -- the fake -----------------------------------------------------------------------------


class LocalAlloc:
    """The job's tasks run as Nomad's exec driver would run them, in a local alloc dir."""

    def __init__(self, job: dict[str, Any], root: Path, ports: dict[str, int]) -> None:
        (self.group,) = job["TaskGroups"]
        self.root = root
        self.shared = root / "alloc"
        (self.shared / "data").mkdir(parents=True)
        self.ports = ports
        self.procs: list[subprocess.Popen[bytes]] = []

    def task(self, name: str) -> dict[str, Any]:
        return next(t for t in self.group["Tasks"] if t["Name"] == name)

    def prepare(self, name: str) -> tuple[list[str], dict[str, str], Path]:
        task = self.task(name)
        task_dir = self.root / name
        for sub in ("local", "secrets"):
            (task_dir / sub).mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ["PATH"], "LANG": "C.UTF-8",
            "NOMAD_ALLOC_DIR": str(self.shared), "NOMAD_TASK_DIR": str(task_dir / "local"),
            "NOMAD_SECRETS_DIR": str(task_dir / "secrets"),
            **{f"NOMAD_PORT_{label}": str(port) for label, port in self.ports.items()},
        }  # fmt: skip
        env.update(task["Env"] or {})
        for template in task["Templates"] or ():
            # These templates use no template functions, so their text is the file.
            assert "{{" not in template["EmbeddedTmpl"], template["DestPath"]
            dest = task_dir / template["DestPath"]
            dest.write_text(template["EmbeddedTmpl"])
            dest.chmod(int(template["Perms"], 8))

        def interpolate(value: str) -> str:
            return re.sub(r"\$\{(NOMAD_\w+)\}", lambda m: env[m.group(1)], value)

        argv = [interpolate(task["Config"]["command"])]
        argv += [interpolate(a) for a in task["Config"].get("args") or ()]
        return argv, env, task_dir

    def run(self, name: str) -> None:
        argv, env, cwd = self.prepare(name)
        subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True, timeout=60)

    def start(self, name: str, log: Path) -> subprocess.Popen[bytes]:
        argv, env, cwd = self.prepare(name)
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            stop_process(proc, timeout=15)


def _install_artifact_shim(task_dir: Path) -> None:
    """What the artifact block unpacks: a launcher running this checkout's reconciler."""
    launcher = task_dir / "local/nomad-reconciler/bin/nomad-reconciler"
    launcher.parent.mkdir(parents=True)
    launcher.write_text(
        f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m reconciler "$@"\n'
    )
    launcher.chmod(0o755)


def test_deploy_job_runs_with_its_defaults_and_reconciles_a_repository_on_the_fake(
    tmp_path: Path,
) -> None:
    repo = GitCheckout(tmp_path / "jobs-repo")
    repo.write("default/hello/hello.nomad", job_hcl("hello"))
    repo.commit("initial jobs")
    with FakeNomad() as fake:
        job = render(
            f"repo_url={repo.root}", f"nomad_addr={fake.address}", "sync_interval=1"
        )
        assert job["TaskGroups"][0]["Tasks"][2]["Vault"] is None
        response = httpx.put(f"{fake.address}/v1/jobs", json={"Job": job}, timeout=10)
        assert response.status_code == 200, response.text
        wait_until(
            lambda: (fake.latest_deployment("nomad-reconciler") or {}).get("Status") == "successful",
            timeout=30, what="the reconciler job's own deployment to succeed",
        )  # fmt: skip

        alloc = LocalAlloc(job, tmp_path / "alloc-dir", {"metrics": free_port()})
        try:
            alloc.run("git-clone")
            assert (alloc.shared / "data/checkout/default/hello/hello.nomad").is_file()
            alloc.start("git-sync", tmp_path / "git-sync.log")
            _install_artifact_shim(tmp_path / "alloc-dir/reconciler")
            daemon = alloc.start("reconciler", tmp_path / "reconciler.log")
            url = f"http://127.0.0.1:{alloc.ports['metrics']}"
            wait_until(lambda: _ready(url) or daemon.poll() is not None, timeout=60,
                       what="/readyz 200")  # fmt: skip
            assert daemon.poll() is None, (tmp_path / "reconciler.log").read_text()
            wait_until(lambda: fake.read_job("hello"), timeout=30, what="hello registered")

            repo.write("default/hello/hello.nomad", job_hcl("hello", count=2))
            repo.commit("hello: two")
            wait_until(
                lambda: (fake.read_job("hello") or {}).get("TaskGroups", [{}])[0].get("Count") == 2,
                timeout=30, what="the new commit applied through git-sync",
            )  # fmt: skip
        finally:
            alloc.stop()
        assert daemon.returncode == 0, (tmp_path / "reconciler.log").read_text()


# -- a real agent -------------------------------------------------------------------------


@contextlib.contextmanager
def _static_http_server(directory: Path) -> Iterator[str]:
    """A plain file server: the artifact, and a bare repository over git's dumb HTTP."""
    with serving(functools.partial(_QuietHandler, directory=str(directory))) as url:
        yield url


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _publish(repo: GitCheckout, bare: Path) -> None:
    repo.git("push", "-q", str(bare), "HEAD:main")
    subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True)


def _alloc_diagnostics(nomad: httpx.Client, job_id: str) -> str:
    lines = []
    for stub in nomad.get(f"/v1/job/{job_id}/allocations").json():
        for task, state in (stub.get("TaskStates") or {}).items():
            events = [f"{e['Type']}: {e.get('DisplayMessage', '')}" for e in state["Events"]]
            lines.append(f"{task} {state['State']} failed={state['Failed']} {events}")
    return "\n".join(lines)


def _stop_and_collect(nomad: httpx.Client, job_id: str) -> None:
    nomad.delete(f"/v1/job/{job_id}", params={"purge": "true"})

    def all_stopped() -> bool:
        allocs = nomad.get("/v1/allocations").json()
        return all(a["ClientStatus"] in ("complete", "failed", "lost") for a in allocs
                   if a["JobID"] == job_id)  # fmt: skip

    with contextlib.suppress(AssertionError):
        wait_until(all_stopped, timeout=60, what=f"{job_id} stopped")


@pytest.mark.real_nomad
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_deploy_job_comes_up_ready_on_a_real_dev_agent_and_reconciles_a_repository(
    tmp_path: Path, tarball: Path
) -> None:
    binary = shutil.which("nomad")
    if binary is None:
        pytest.skip("no `nomad` binary on PATH: the real-agent variant needs one")
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(tarball, served / tarball.name)
    checksum = hashlib.sha256(tarball.read_bytes()).hexdigest()
    repo = GitCheckout(tmp_path / "jobs-repo")
    repo.write("default/hello/hello.nomad", job_hcl("hello"))
    repo.commit("initial jobs")
    bare = served / "jobs.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    _publish(repo, bare)

    with _static_http_server(served) as files, running_nomad_agent(binary) as address, \
            httpx.Client(base_url=address, timeout=30, trust_env=False) as nomad:  # fmt: skip
        job = render(
            f"repo_url={files}/jobs.git",
            f"artifact_url={files}/{tarball.name}",
            f"artifact_checksum=sha256:{checksum}",
            f"nomad_addr={address}",
            "sync_interval=1",
            # A token file rendered by the client (as root) that the task (nobody) must
            # read; the dev agent has ACLs off, so any token is accepted.
            "token_source=template",
            "token_template=acls-are-off-any-token-works",
        )
        response = nomad.put("/v1/jobs", json={"Job": job})
        assert response.status_code == 200, response.text
        try:
            def deployed() -> str | None:
                deployment = nomad.get("/v1/job/nomad-reconciler/deployment").json() or {}
                status = deployment.get("Status")
                if status in ("failed", "cancelled"):
                    raise AssertionError(
                        f"deployment {status}: {deployment.get('StatusDescription')}\n"
                        + _alloc_diagnostics(nomad, "nomad-reconciler")
                    )
                return status == "successful" and deployment["ID"]

            wait_until(deployed, timeout=REAL_AGENT_TIMEOUT_S,
                       what="the reconciler job's deployment to succeed")  # fmt: skip
            (stub,) = nomad.get("/v1/job/nomad-reconciler/allocations").json()
            alloc = nomad.get(f"/v1/allocation/{stub['ID']}").json()
            (network,) = alloc["AllocatedResources"]["Shared"]["Networks"]
            (port,) = [p["Value"] for p in network["DynamicPorts"] if p["Label"] == "metrics"]
            wait_until(lambda: _ready(f"http://127.0.0.1:{port}"), timeout=60,
                       what="/readyz 200 inside the allocation")  # fmt: skip

            def hello_count() -> int | None:
                response = nomad.get("/v1/job/hello")
                return response.json()["TaskGroups"][0]["Count"] if response.status_code == 200 else None

            wait_until(lambda: hello_count() == 1, timeout=60, what="hello registered")
            repo.write("default/hello/hello.nomad", job_hcl("hello", count=2))
            repo.commit("hello: two")
            _publish(repo, bare)
            wait_until(lambda: hello_count() == 2, timeout=60,
                       what="the new commit fetched by git-sync and applied")  # fmt: skip
        finally:
            _stop_and_collect(nomad, "nomad-reconciler")
            _stop_and_collect(nomad, "hello")
            nomad.put("/v1/client/gc")
