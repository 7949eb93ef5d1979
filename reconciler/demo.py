"""``nomad-reconciler demo``: the whole loop on one machine, no cluster needed.

Responsible for the walkthrough only: it starts the project's Nomad fake (or
uses a real Nomad the user named), copies the jobs directory into a scratch
git repository (the user's files are never touched), runs the real daemon on
it as a subprocess, makes one commit that changes a canary-guarded job, and
narrates the rollout from Nomad's point of view: registered, canary placed,
awaiting promotion, promoted by the demo's promotion policy, successful.
Then it says where to look and what to try, and keeps running until Ctrl-C.

It must not: write into the user's jobs directory, or create anything on a
real Nomad except through the daemon (namespaces are created only on the
embedded fake).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from reconciler.config.connection import NomadConfig
from reconciler.deployment import Deployment
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.jobspec.loader import load_directory
from reconciler.jobspec.variables import VariableInputs
from reconciler.model import DesiredJob, Snapshot
from reconciler.nomad.objects import parse_deployment

CHANGE_KEY = "demo_revision"
# The demo's simulated client node runs every driver the examples use (the
# recorded dev agent had no docker), so every example job gets a deployment.
DEMO_DRIVERS = ("exec", "raw_exec", "docker", "podman", "java", "qemu", "container", "mock_driver")


@dataclass(frozen=True)
class DemoOptions:
    jobs_dir: Path
    nomad: NomadConfig | None  # the user's Nomad; None: start the embedded fake
    nomad_version: str = "1.0.18"  # the release the embedded fake imitates
    listen: str = "127.0.0.1:9464"
    workdir: Path | None = None
    promote_after: str = "5s"
    timeout_s: float = 180.0
    exit_after_walkthrough: bool = False


class Narrator:
    """Plain lines on stdout, marked so they stand out from the daemon's logs."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def step(self, text: str) -> None:
        print(f"\n==> {text}", file=self.out, flush=True)

    def say(self, text: str) -> None:
        print(f"    {text}", file=self.out, flush=True)


def find_canary_job(snapshot: Snapshot) -> DesiredJob | None:
    """The first declared service job whose groups roll out with canaries."""
    for job in snapshot.jobs:
        for group in job.canonical.get("TaskGroups") or []:
            if ((group.get("Update") or {}).get("Canary") or 0) > 0:
                return job
    return None


def compute_changed_source(source: str, *, source_format: str, revision: int) -> str:
    """The job file with one harmless Meta change: a new version, rolled out with canaries.

    HCL: a key added to the first ``meta`` block, or a job-level ``meta`` block
    when there is none; JSON: a key in the job's ``Meta``.
    """
    if source_format == "json":
        doc = json.loads(source)
        job = doc.get("Job", doc)
        job.setdefault("Meta", {})
        job["Meta"] = {**(job["Meta"] or {}), CHANGE_KEY: str(revision)}
        return json.dumps(doc, indent=2) + "\n"
    line = f'{CHANGE_KEY} = "{revision}"'
    existing = re.compile(rf'^(\s*){CHANGE_KEY}\s*=.*$', re.MULTILINE)
    if existing.search(source):
        return existing.sub(lambda m: m.group(1) + line, source, count=1)
    meta = re.compile(r"^(\s*)meta\s*\{[ \t]*$", re.MULTILINE).search(source)
    if meta:
        at = meta.end()
        return f"{source[:at]}\n{meta.group(1)}  {line}{source[at:]}"
    job = re.compile(r'^(\s*)job\s+"[^"]+"\s*\{[ \t]*$', re.MULTILINE).search(source)
    if not job:
        raise ConfigError("cannot find the job block to change for the walkthrough")
    at = job.end()
    indent = job.group(1) + "  "
    return f"{source[:at]}\n{indent}meta {{\n{indent}  {line}\n{indent}}}\n{source[at:]}"


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False,
        env={**os.environ, "GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@example.com",
             "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@example.com"},
    )
    if result.returncode != 0:
        raise ConfigError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def prepare_workspace(jobs_dir: Path, workdir: Path) -> Path:
    """A git repository holding a copy of ``jobs_dir``; returns the jobs directory in it."""
    repo = workdir / "repo"
    shutil.copytree(jobs_dir, repo / "jobs", symlinks=True, ignore=shutil.ignore_patterns(".git"))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "Jobs as declared")
    return repo / "jobs"


def _wait_until(check: Callable[[], Any], *, timeout_s: float, what: str, interval_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ReconcilerError(f"demo: timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


class NomadView:
    """What the demo reads from Nomad to narrate (read-only, plain HTTP)."""

    def __init__(self, address: str, token: str | None) -> None:
        headers = {"X-Nomad-Token": token} if token else {}
        self.http = httpx.Client(base_url=address, headers=headers, timeout=10.0)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params: str) -> Any:
        response = self.http.get(path, params=params)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def jobs(self) -> list[dict[str, Any]]:
        return list(self.get("/v1/jobs", namespace="*") or [])

    def job(self, job: DesiredJob) -> dict[str, Any] | None:
        return self.get(f"/v1/job/{job.job_id}", namespace=job.namespace)  # type: ignore[no-any-return]

    def latest_deployment(self, job: DesiredJob) -> Deployment | None:
        body = self.get(f"/v1/job/{job.job_id}/deployment", namespace=job.namespace)
        return parse_deployment(body) if body else None

    def deployment(self, deployment_id: str) -> Deployment | None:
        body = self.get(f"/v1/deployment/{deployment_id}")
        return parse_deployment(body) if body else None


def describe_deployment(deployment: Deployment) -> str:
    parts = []
    for group in deployment.groups:
        text = f"{group.name}: {group.healthy_allocs}/{group.desired_total} healthy"
        if group.has_canaries:
            text += (f", canaries {len(group.placed_canaries)}/{group.desired_canaries} placed"
                     f"{', promoted' if group.promoted else ''}")
        if group.unhealthy_allocs:
            text += f", {group.unhealthy_allocs} unhealthy"
        parts.append(text)
    return f"{deployment.status_text}: {deployment.description} ({'; '.join(parts)})"


@contextlib.contextmanager
def nomad_endpoint(options: DemoOptions, narrator: Narrator, snapshot: Snapshot) -> Iterator[str]:
    """The Nomad to use: the user's, or an embedded fake with the jobs' namespaces."""
    if options.nomad is not None:
        narrator.step(f"Using the Nomad at {options.nomad.display_address}")
        yield options.nomad.address
        return
    from reconciler.testing.fake_nomad import FakeNomad

    with FakeNomad(drivers=DEMO_DRIVERS, version=options.nomad_version) as fake:
        narrator.step(
            f"Started the embedded Nomad fake (behaves like Nomad {options.nomad_version}) at {fake.address}"
        )
        narrator.say(f"its one client node has the drivers {', '.join(DEMO_DRIVERS)}")
        namespaces = sorted({j.namespace for j in snapshot.jobs} - {"default"})
        for name in namespaces:
            httpx.put(f"{fake.address}/v1/namespace", json={"Name": name}).raise_for_status()
        if namespaces:
            narrator.say(f"created namespaces the jobs use: {', '.join(namespaces)}")
        yield fake.address


def run_demo(options: DemoOptions, *, out: TextIO = sys.stdout) -> int:
    narrator = Narrator(out)
    jobs_dir = options.jobs_dir.resolve()
    if not jobs_dir.is_dir():
        raise ConfigError(f"{options.jobs_dir}: not a directory")
    snapshot = load_directory(jobs_dir, inputs=VariableInputs(env=os.environ))
    narrator.step(f"Loaded {len(snapshot.jobs)} jobs from {options.jobs_dir}")
    for diag in snapshot.errors:
        narrator.say(f"skipped: {diag.describe()}")

    # A scratch directory of our own is removed when the demo ends, however it ends
    # (Ctrl-C, SIGTERM, an error); a --workdir the user chose is theirs to keep.
    owned = options.workdir is None
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="nomad-reconciler-demo-"))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        workspace = prepare_workspace(jobs_dir, workdir)
        removed = " (removed when the demo stops)" if owned else ""
        narrator.say(f"working copy (a git repository; your {options.jobs_dir} is not touched): "
                     f"{workspace}{removed}")  # fmt: skip
        with nomad_endpoint(options, narrator, snapshot) as address:
            token = options.nomad.token if options.nomad is not None else None
            view = NomadView(address, token)
            daemon = _start_daemon(options, workspace, address)
            try:
                _walkthrough(options, narrator, view, snapshot, workspace, address, daemon)
                if options.exit_after_walkthrough:
                    return 0
                narrator.step("The daemon keeps running; press Ctrl-C to stop the demo.")
                with contextlib.suppress(KeyboardInterrupt):
                    daemon.wait()
                return 0
            finally:
                view.close()
                _stop_daemon(daemon)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops the demo like Ctrl-C does: through every cleanup on the way out."""
    raise KeyboardInterrupt


def _start_daemon(options: DemoOptions, workspace: Path, address: str) -> subprocess.Popen[bytes]:
    # The daemon reads the same environment as the demo, so the same connection settings;
    # only the address is given, and with the embedded fake NOMAD_ADDR must not point elsewhere.
    env = {k: v for k, v in os.environ.items() if not (k == "NOMAD_ADDR" and options.nomad is None)}
    cmd = [
        sys.executable, "-m", "reconciler", "daemon", str(workspace),
        "--address", address,
        "--listen", options.listen,
        "--promote-after", options.promote_after,
        "--resync-interval", "60s",
    ]
    return subprocess.Popen(cmd, env=env)


def _stop_daemon(daemon: subprocess.Popen[bytes]) -> None:
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def _walkthrough(
    options: DemoOptions,
    narrator: Narrator,
    view: NomadView,
    snapshot: Snapshot,
    workspace: Path,
    address: str,
    daemon: subprocess.Popen[bytes],
) -> None:
    metrics_url = f"http://{options.listen}"

    def daemon_alive() -> None:
        if daemon.poll() is not None:
            raise ReconcilerError(f"demo: the daemon exited with status {daemon.returncode}")

    def ready() -> bool:
        daemon_alive()
        try:
            return httpx.get(f"{metrics_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    narrator.step(f"Started the daemon: nomad-reconciler daemon {workspace} --promote-after {options.promote_after}")
    _wait_until(ready, timeout_s=options.timeout_s, what="the daemon's first full pass")
    narrator.say(f"status page: {metrics_url}/   (open it in a browser: the rollout below shows up live)")
    registered = {(j.get("Namespace"), j.get("ID")) for j in view.jobs()}
    synced = [j for j in snapshot.jobs if j.key in registered]
    narrator.step(f"First pass done: {len(synced)} of {len(snapshot.jobs)} declared jobs are registered in Nomad")
    for job in synced:
        narrator.say(f"{job.namespace}/{job.job_id}  ({job.path})")

    canary = find_canary_job(snapshot)
    if canary is None:
        narrator.step("No job in this directory rolls out with canaries: skipping the canary walkthrough.")
    else:
        _canary_walkthrough(options, narrator, view, canary, workspace, daemon_alive)

    narrator.step("Where to look")
    narrator.say(f"status page: {metrics_url}/   (JSON: {metrics_url}/api/v1/status)")
    narrator.say(f"metrics:   {metrics_url}/metrics   (health: {metrics_url}/healthz, {metrics_url}/readyz)")
    narrator.say(f"Nomad API: {address}/v1/jobs?namespace=*")
    narrator.say(f"status:    nomad-reconciler status {workspace} --address {address}")
    if options.exit_after_walkthrough:
        return  # nothing is left running to try things on
    narrator.step("What to try next")
    narrator.say(f"edit a job in {workspace} and commit it: the daemon registers it within a second")
    narrator.say("break a canary: set a task's command to /bin/false, commit, and watch the rollout "
                 "fail, Nomad revert it, and the reconciler hold that commit instead of looping")
    example = canary or (snapshot.jobs[0] if snapshot.jobs else None)
    if example is not None:
        group = (example.canonical.get("TaskGroups") or [{}])[0].get("Name", "group")
        narrator.say("scale a job by hand, as if someone ran `nomad job scale`, and watch it healed:")
        narrator.say(f"  curl -X POST '{address}/v1/job/{example.job_id}/scale?namespace={example.namespace}' "
                     f"-d '{{\"Count\": 5, \"Target\": {{\"Group\": \"{group}\"}}}}'")


def _canary_walkthrough(
    options: DemoOptions,
    narrator: Narrator,
    view: NomadView,
    job: DesiredJob,
    workspace: Path,
    daemon_alive: Callable[[], None],
) -> None:
    before = view.job(job) or {}
    version_before = int(before.get("Version", -1))

    def first_deployment_over() -> bool:
        daemon_alive()
        dep = view.latest_deployment(job)
        return dep is None or not dep.active

    _wait_until(first_deployment_over, timeout_s=options.timeout_s, what=f"{job.job_id}'s first deployment")

    path = workspace / job.path
    path.write_text(compute_changed_source(path.read_text(), source_format=job.source_format, revision=2))
    repo = workspace.parent
    _git(repo, "commit", "-q", "-am", f"{job.job_id}: change Meta {CHANGE_KEY}")
    commit = _git(repo, "rev-parse", "--short", "HEAD")
    narrator.step(f"Committed {commit}: a Meta change to {job.namespace}/{job.job_id} ({job.path}), "
                  "which its update block rolls out with a canary")

    def new_deployment() -> Deployment | None:
        daemon_alive()
        dep = view.latest_deployment(job)
        if dep and (dep.job_version if dep.job_version is not None else -1) > version_before:
            return dep
        return None

    deployment: Deployment = _wait_until(new_deployment, timeout_s=options.timeout_s, what="the new deployment")
    narrator.say(f"deployment {deployment.id[:8]} for job version {deployment.job_version}")
    last = ""
    deadline = time.monotonic() + options.timeout_s
    while True:
        daemon_alive()
        deployment = view.deployment(deployment.id) or deployment
        text = describe_deployment(deployment)
        if text != last:
            narrator.say(text)
            last = text
        if not deployment.active:
            break
        if time.monotonic() > deadline:
            raise ReconcilerError(f"demo: the rollout of {job.job_id} did not finish in {options.timeout_s:.0f}s")
        time.sleep(0.25)
    if deployment.successful:
        narrator.step(f"Rollout of {job.job_id} successful: the daemon promoted the canary once it had "
                      f"been healthy for {options.promote_after}")
    else:
        raise ReconcilerError(f"demo: the rollout of {job.job_id} ended {deployment.status_text}: "
                              f"{deployment.description}")
